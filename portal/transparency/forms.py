from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms import DateWindow, YuanField


class SpendingForm(FlaskForm):
    spent_on = DateField(
        _l("支出日期"), validators=[InputRequired(message=_l("请输入日期")), DateWindow()]
    )
    category_id = SelectField(_l("支出类别"), coerce=int, validate_choice=False)
    amount = YuanField(_l("金额（元）"), validators=[InputRequired(message=_l("请输入金额"))])
    vendor = StringField(_l("收款方 / 供应商"), validators=[DataRequired(), Length(max=100)])
    description = TextAreaField(_l("用途说明"), validators=[DataRequired(), Length(max=500)])
    files = MultipleFileField(_l("凭证（发票、合同或照片；JPG/PNG/PDF，每个不超过 10 MB）"))


class CorrectionDraftForm(SpendingForm):
    correction_reason = TextAreaField(
        _l("更正原因（将与原记录一同公开）"), validators=[DataRequired(), Length(max=500)]
    )


class CorrectionStartForm(FlaskForm):
    reason = TextAreaField(
        _l("更正原因（将与原记录一同公开）"), validators=[DataRequired(), Length(max=500)]
    )
    retract = BooleanField(_l("整条撤销（例如重复录入）：更正后金额为 0"))


class EvidenceForm(FlaskForm):
    files = MultipleFileField(_l("凭证（发票、合同或照片；JPG/PNG/PDF，每个不超过 10 MB）"))


class CategoryForm(FlaskForm):
    parent_id = SelectField(_l("上级类别"), coerce=str, validate_choice=False)
    code = StringField(
        _l("编码（字母数字，创建后不可修改）"), validators=[DataRequired(), Length(max=40)]
    )
    name = StringField(_l("名称"), validators=[DataRequired(), Length(max=60)])


class CategoryEditForm(FlaskForm):
    name = StringField(_l("名称"), validators=[DataRequired(), Length(max=60)])
    active = BooleanField(_l("启用（停用后不能再用于新支出，历史记录不变）"))


class BudgetStartForm(FlaskForm):
    year = IntegerField(_l("年度"), validators=[InputRequired(), NumberRange(2000, 2100)])
    reason = TextAreaField(
        _l("修订原因（修订已公开的预算时必填）"), validators=[Optional(), Length(max=500)]
    )


class FundForm(FlaskForm):
    direction = SelectField(_l("收支方向"), validate_choice=False)
    kind = SelectField(_l("类型"), validate_choice=False)
    occurred_on = DateField(
        _l("日期"), validators=[InputRequired(message=_l("请输入日期")), DateWindow()]
    )
    amount = YuanField(_l("金额（元）"), validators=[InputRequired(message=_l("请输入金额"))])
    counterparty = StringField(_l("对方单位 / 个人"), validators=[Optional(), Length(max=100)])
    description = TextAreaField(_l("说明"), validators=[DataRequired(), Length(max=500)])
    approval_ref = StringField(
        _l("批准文件（业主表决、备案文号等）"), validators=[Optional(), Length(max=200)]
    )
    vote_id = SelectField(_l("业主表决（已通过）"), coerce=int, validate_choice=False, default=0)
    correction_reason = TextAreaField(_l("更正原因"), validators=[Optional(), Length(max=500)])
    files = MultipleFileField(_l("凭证（发票、合同或照片；JPG/PNG/PDF，每个不超过 10 MB）"))


class StatementForm(FlaskForm):
    year = IntegerField(_l("年度"), validators=[InputRequired(), NumberRange(2000, 2100)])
    fee_income = YuanField(_l("物业费收入（元，按实收）"), validators=[Optional()])
    other_income = YuanField(_l("其他收入（元）"), validators=[Optional()])
    note = TextAreaField(_l("说明"), validators=[Optional(), Length(max=5000)])
    reason = TextAreaField(
        _l("修订原因（修订已公开的报告时必填）"), validators=[Optional(), Length(max=500)]
    )
