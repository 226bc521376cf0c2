from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from portal.forms import choices

REGIME_CHOICES = [("lump_sum", _l("包干制")), ("commission", _l("酬金制"))]
CYCLE_CHOICES = [("monthly", _l("按月")), ("quarterly", _l("按季度"))]
TYPE_CHOICES = [
    ("residential", _l("住宅")),
    ("commercial", _l("商业")),
    ("parking", _l("车位")),
    ("villa", _l("别墅")),
]
ITEM_CHOICES = [  # the fee items of communities.models.FEE_ITEMS, translated
    ("property_service", _l("物业服务费")),
    ("shared_utilities", _l("公摊水电费")),
    ("parking", _l("停车管理费")),
    ("garbage", _l("生活垃圾清运费")),
    ("elevator", _l("电梯运行费")),
]
TIMEZONES = [
    ("Asia/Shanghai", "Asia/Shanghai"),
    ("Asia/Urumqi", "Asia/Urumqi"),
    ("Asia/Hong_Kong", "Asia/Hong_Kong"),
]


class CommunityForm(FlaskForm):
    name = StringField(_l("小区名称"), validators=[DataRequired(), Length(max=100)])
    city = StringField(_l("城市"), validators=[Optional(), Length(max=50)])
    address = StringField(_l("地址"), validators=[Optional(), Length(max=255)])
    hotline = StringField(
        _l("服务热线"),
        validators=[
            Optional(),
            Length(max=32),
            Regexp(r"^[0-9+\- ]*$", message=_l("只能包含数字、空格、+ 和 -")),
        ],
    )
    fee_regime = SelectField(_l("收费模式"), choices=choices(REGIME_CHOICES))
    commission_rate = DecimalField(
        _l("酬金比例（酬金制，如 0.10 表示 10%）"),
        places=4,
        validators=[Optional(), NumberRange(min=0, max=1)],
    )
    billing_cycle = SelectField(_l("计费周期"), choices=choices(CYCLE_CHOICES))
    timezone = SelectField(_l("时区"), choices=choices(TIMEZONES))
    is_public = BooleanField(_l("公开透明页（未登录也可查看）"))
    description = TextAreaField(_l("简介"), validators=[Optional(), Length(max=2000)])
    tier_l1_days = IntegerField(_l("L1 友好提醒：逾期天数"), validators=[NumberRange(0, 3650)])
    tier_l2_days = IntegerField(_l("L2 书面催缴：逾期天数"), validators=[NumberRange(1, 3650)])
    tier_l3_days = IntegerField(_l("L3 主管面谈：逾期天数"), validators=[NumberRange(1, 3650)])
    tier_l4_days = IntegerField(_l("L4 调解/诉讼：逾期天数"), validators=[NumberRange(1, 3650)])
    notice_period_days = IntegerField(
        _l("收费标准调整公示期（天）"), validators=[NumberRange(0, 365)]
    )


class NewCommunityForm(CommunityForm):
    code = StringField(
        _l("小区编码"),
        validators=[
            DataRequired(),
            Length(max=32),
            Regexp(r"^[A-Za-z0-9_-]+$", message=_l("只能包含字母、数字、- 和 _")),
        ],
    )


class UnitForm(FlaskForm):
    area_m2 = DecimalField(
        _l("建筑面积（㎡）"),
        places=2,
        validators=[DataRequired(), NumberRange(min=0.01, max=100000)],
    )
    property_type = SelectField(_l("物业类型"), choices=choices(TYPE_CHOICES))
