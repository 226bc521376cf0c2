from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from portal.collections.labels import CHANNEL_LABELS, OUTCOME_LABELS, REASON_LABELS
from portal.forms import DateWindow, YuanField, choices

STAFF_CHANNELS = ("phone", "sms", "wechat", "letter", "posted", "visit")
STAFF_OUTCOMES = (
    "no_answer",
    "promised",
    "refused",
    "wrong_number",
    "paid",
    "complained",
    "hardship",
    "delivered",
)


class ContactForm(FlaskForm):
    channel = SelectField(
        _l("联系方式"),
        choices=choices([(c, CHANNEL_LABELS[c]) for c in STAFF_CHANNELS]),
        validators=[DataRequired()],
    )
    outcome = SelectField(
        _l("结果"),
        choices=choices([(o, OUTCOME_LABELS[o]) for o in STAFF_OUTCOMES]),
        validators=[DataRequired()],
    )
    planned = BooleanField(_l("这是计划中的联系（尚未进行）"))
    at = StringField(_l("时间（默认现在）"), validators=[Optional(), Length(max=20)])
    promised_on = DateField(_l("承诺缴费日期"), validators=[Optional(), DateWindow()])
    refusal_reason = StringField(_l("拒缴理由"), validators=[Optional(), Length(max=200)])
    mail_number = StringField(_l("挂号信单号"), validators=[Optional(), Length(max=40)])
    proof = FileField(_l("送达凭证（张贴照片等）"))
    second_staff = SelectField(
        _l("同行人员（上门）"), validators=[Optional()], validate_choice=False
    )
    note = TextAreaField(_l("备注"), validators=[Optional(), Length(max=1000)])


class QuickCallForm(FlaskForm):
    outcome = HiddenField(validators=[DataRequired()])


class ReasonForm(FlaskForm):
    reason = SelectField(
        _l("欠费原因"),
        choices=choices(list(REASON_LABELS.items())),
        validators=[DataRequired()],
    )
    note = TextAreaField(_l("说明（与建议不同时必填）"), validators=[Optional(), Length(max=1000)])


class EscalateForm(FlaskForm):
    tier = HiddenField(validators=[DataRequired()])
    note = StringField(_l("说明"), validators=[Optional(), Length(max=1000)])


class DecisionForm(FlaskForm):
    decision = HiddenField(validators=[DataRequired()])
    note = StringField(_l("说明"), validators=[Optional(), Length(max=1000)])


class TaskDoneForm(FlaskForm):
    note = TextAreaField(_l("处理结果"), validators=[Optional(), Length(max=1000)])


class PlanForm(FlaskForm):
    down_payment = YuanField(_l("首付（元，可为 0）"), validators=[Optional(), Length(max=16)])
    schedule = TextAreaField(
        _l("分期（每行一期：日期 金额，例如 2027-01-15 500.00）"),
        validators=[DataRequired(), Length(max=2000)],
    )
    note = TextAreaField(_l("说明"), validators=[Optional(), Length(max=1000)])


class HardshipForm(FlaskForm):
    plan_requested = BooleanField(_l("业主申请分期"))


class HoldForm(FlaskForm):
    unit = StringField(_l("房号（空 = 全小区）"), validators=[Optional(), Length(max=32)])
    reason = StringField(_l("原因"), validators=[DataRequired(), Length(max=200)])
    starts_on = DateField(_l("开始日期"), validators=[DataRequired(), DateWindow()])
    ends_on = DateField(_l("结束日期（可空）"), validators=[Optional(), DateWindow()])


class LegalBasisForm(FlaskForm):
    tier = SelectField(
        _l("适用级别"),
        choices=choices(
            [("all", _l("全部")), ("L1", "L1"), ("L2", "L2"), ("L3", "L3"), ("L4", "L4")]
        ),
    )
    kind = SelectField(
        _l("类别"),
        choices=choices(
            [("contract", _l("合同条款")), ("statute", _l("法律")), ("regulation", _l("法规"))]
        ),
    )
    reference = StringField(_l("条款"), validators=[DataRequired(), Length(max=200)])
    summary = TextAreaField(_l("内容摘要"), validators=[DataRequired(), Length(max=2000)])


class AcceptPlanForm(FlaskForm):
    pass
