from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms import YuanField, choices

OUTCOME_CHOICES = [
    ("credit", _l("退还或减免一定金额")),
    ("correction", _l("更正")),
    ("explanation", _l("给出说明")),
]
PROPOSAL_CHOICES = [
    ("explanation", _l("说明（不涉及金额）")),
    ("correction", _l("更正（冲减有误部分）")),
    ("credit", _l("减免或退还")),
]
ESCALATION_CHOICES = [
    ("committee", _l("业主委员会")),
    ("mediator", _l("调解组织（人民调解委员会等）")),
]


class DisputeForm(FlaskForm):
    target_type = HiddenField()
    target_id = SelectField(_l("异议对象"), validators=[DataRequired()], validate_choice=False)
    reason = SelectField(_l("异议原因"), validators=[DataRequired()])
    requested_outcome = RadioField(
        _l("希望如何处理"), choices=choices(OUTCOME_CHOICES), validators=[DataRequired()]
    )
    requested_amount = YuanField(_l("申请金额（元）"), validators=[Optional(), Length(max=16)])
    statement = TextAreaField(_l("具体说明"), validators=[DataRequired(), Length(min=5, max=4000)])
    evidence = MultipleFileField(_l("证据材料（照片或 PDF，可多选）"))


class MessageForm(FlaskForm):
    message = TextAreaField(_l("给业主的话（可不填）"), validators=[Optional(), Length(max=2000)])


class ProposalForm(FlaskForm):
    kind = RadioField(
        _l("答复方式"), choices=choices(PROPOSAL_CHOICES), validators=[DataRequired()]
    )
    amount = YuanField(_l("金额（元）"), validators=[Optional(), Length(max=16)])
    body = TextAreaField(
        _l("答复内容（业主可见）"), validators=[DataRequired(), Length(min=2, max=4000)]
    )


class ProposalDecisionForm(FlaskForm):
    proposal_id = HiddenField(validators=[DataRequired()])
    reason = TextAreaField(_l("原因"), validators=[Optional(), Length(max=2000)])


class EscalateForm(FlaskForm):
    to = RadioField(_l("提交给"), choices=choices(ESCALATION_CHOICES), validators=[DataRequired()])
    reason = TextAreaField(_l("理由"), validators=[DataRequired(), Length(min=2, max=2000)])


class WithdrawForm(FlaskForm):
    reason = StringField(_l("撤回原因（可不填）"), validators=[Optional(), Length(max=2000)])


class CommentForm(FlaskForm):
    body = TextAreaField(_l("内容"), validators=[DataRequired(), Length(max=2000)])
    internal = BooleanField(_l("仅内部可见（业主看不到）"))


class OpinionForm(FlaskForm):
    body = TextAreaField(_l("业委会意见"), validators=[DataRequired(), Length(min=2, max=4000)])


class CloseForm(FlaskForm):
    outcome = SelectField(_l("结论"), validators=[DataRequired()])
    note = TextAreaField(_l("结案说明"), validators=[DataRequired(), Length(min=2, max=4000)])


class EvidenceForm(FlaskForm):
    evidence = MultipleFileField(_l("补充材料（照片或 PDF）"))


class SettingsForm(FlaskForm):
    first_response_days = IntegerField(
        _l("首次响应时限（工作日）"), validators=[InputRequired(), NumberRange(1, 30)]
    )
    proposal_days = IntegerField(
        _l("提出答复方案时限（工作日）"), validators=[InputRequired(), NumberRange(1, 60)]
    )
    approval_threshold = YuanField(
        _l("减免金额超过此数须管理处负责人审批（元）"), validators=[InputRequired()]
    )
    mediator = StringField(_l("调解组织名称"), validators=[Optional(), Length(max=100)])
