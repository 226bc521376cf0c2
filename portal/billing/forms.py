from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from portal.communities.forms import ITEM_CHOICES, TYPE_CHOICES
from portal.forms import DateWindow, YuanField, choices

BASIS_CHOICES = [
    ("per_m2_month", _l("按建筑面积（元/㎡·月）")),
    ("per_unit_month", _l("按户（元/户·月）")),
    ("metered", _l("按计量（元/计量单位）")),
]


class StandardForm(FlaskForm):
    property_type = SelectField(_l("物业类型"), choices=choices(TYPE_CHOICES))
    item_code = SelectField(_l("收费项目"), choices=choices(ITEM_CHOICES))
    basis = SelectField(_l("计费方式"), choices=choices(BASIS_CHOICES))
    rate = DecimalField(
        _l("单价（元）"), places=4, validators=[InputRequired(), NumberRange(min=0, max=10000)]
    )
    effective_from = DateField(_l("执行日期"), validators=[DataRequired(), DateWindow()])
    approval_ref = StringField(
        _l("批准文件或合同条款"), validators=[DataRequired(), Length(max=200)]
    )
    notice_id = SelectField(_l("收费标准调整公告（调整时必选）"), coerce=str, validate_choice=False)
    note = TextAreaField(_l("说明"), validators=[Optional(), Length(max=1000)])


class RunForm(FlaskForm):
    period = StringField(
        _l("账期（YYYY-MM）"),
        validators=[DataRequired(), Regexp(r"^\d{4}-\d{2}$", message=_l("账期格式应为 YYYY-MM"))],
    )


class LateFeeForm(FlaskForm):
    enabled = BooleanField(_l("启用违约金（仅限合同有约定时）"))
    daily_rate = DecimalField(
        _l("日费率（如 0.0003 即每日万分之三）"),
        places=6,
        validators=[InputRequired(), NumberRange(min=0, max=0.001)],
    )
    cap_rate = DecimalField(
        _l("上限（占本金比例，如 0.1 即 10%）"),
        places=4,
        validators=[InputRequired(), NumberRange(min=0, max=0.3)],
    )
    grace_days = IntegerField(
        _l("宽限期（天）"), validators=[InputRequired(), NumberRange(min=0, max=365)]
    )
    clause_ref = StringField(_l("合同依据条款"), validators=[Optional(), Length(max=200)])


class WaiveForm(FlaskForm):
    amount = YuanField(_l("减免金额（元）"), validators=[DataRequired()])
    reason = TextAreaField(_l("减免原因"), validators=[DataRequired(), Length(max=500)])
