"""Forms of the governance pages: shape only; the rules live in the service."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms import DateWindow, YuanField

LOCAL_FORMAT = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class VoteForm(FlaskForm):
    title = StringField(_l("表决事项标题"), validators=[DataRequired(), Length(max=200)])
    matter = SelectField(_l("事项类别（决定所需的多数）"))
    description = TextAreaField(_l("说明（方案、金额、依据）"), validators=[Length(max=5000)])
    closes_at = DateTimeLocalField(
        _l("截止时间"),
        format=LOCAL_FORMAT,
        validators=[InputRequired(_l("请填写截止时间")), DateWindow()],
    )
    document = FileField(_l("表决材料（方案、预算、报价；PDF 或图片，可不传）"))
    options = TextAreaField(
        _l("选项（每行一个；第一项为赞成本议案）"),
        default="同意\n反对\n弃权",
        validators=[Length(max=4000)],
    )


class BallotForm(FlaskForm):
    unit_id = HiddenField(validators=[DataRequired()])
    option = RadioField(
        _l("您的选择"), validators=[InputRequired(_l("请选择一个选项"))], validate_choice=False
    )


class VerifyForm(FlaskForm):
    receipt = StringField(_l("回执码"), validators=[DataRequired(), Length(max=64)])
    option = SelectField(_l("您投的选项"))


class ActionForm(FlaskForm):
    """A button that changes state: CSRF only."""


class ProposalForm(FlaskForm):
    title = StringField(_l("项目名称"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("说明（做什么、为什么）"), validators=[Length(max=5000)])
    estimated_cost = StringField(_l("估算费用（元）"), validators=[DataRequired()])


class DecideForm(FlaskForm):
    note = StringField(_l("说明（可留空）"), validators=[Optional(), Length(max=255)])


class ShortlistVoteForm(FlaskForm):
    title = StringField(_l("表决事项标题"), validators=[DataRequired(), Length(max=200)])
    closes_at = DateTimeLocalField(
        _l("截止时间"),
        format=LOCAL_FORMAT,
        validators=[InputRequired(_l("请填写截止时间")), DateWindow()],
    )


class RewardPolicyForm(FlaskForm):
    prepay_year_percent = StringField(
        _l("预缴一年返还：年费的百分之几（0–10，可两位小数）"), default="0"
    )
    autopay_credit = YuanField(_l("开通自动代扣的一次性抵扣（元）"), default="0")
    early_points = IntegerField(
        _l("每张账单按期前缴清的积分"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=1000)],
    )
