"""Ticket forms: shape only; the rules (ownership, categories, states) live in the service."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import DateWindow, choices

URGENCY_CHOICES = [("normal", _l("一般")), ("urgent", _l("紧急（漏水、停电、困梯等）"))]
LOCATION_CHOICES = [("in_home", _l("室内（我家）")), ("common_area", _l("公共区域"))]
SLOT_CHOICES = [
    ("any", _l("任意时间")),
    ("morning", _l("上午")),
    ("afternoon", _l("下午")),
    ("evening", _l("晚上")),
]
SCORE_CHOICES = [
    (5, _l("5 非常满意")),
    (4, _l("4 满意")),
    (3, _l("3 一般")),
    (2, _l("2 不满意")),
    (1, _l("1 很不满意")),
]
CHANNEL_CHOICES = [("phone", _l("电话报修")), ("patrol", _l("巡查发现"))]
WEEKDAY_CHOICES = [
    ("1", _l("周一")),
    ("2", _l("周二")),
    ("3", _l("周三")),
    ("4", _l("周四")),
    ("5", _l("周五")),
    ("6", _l("周六")),
    ("7", _l("周日")),
]
TIME_PATTERN = r"^([01]?\d|2[0-3]):[0-5]\d$|^24:00$"


def optional_int(value: Any) -> int | None:
    """Coerce a select value; an empty choice becomes None."""
    if value in (None, "", "None"):
        return None
    return int(value)


class _LocationFields(FlaskForm):
    location_type = RadioField(_l("报修位置"), choices=choices(LOCATION_CHOICES), default="in_home")
    building_id = SelectField(_l("楼栋（公共区域）"), coerce=optional_int, validate_choice=True)
    floor = IntegerField(
        _l("楼层（公共区域，可不填）"), validators=[Optional(), NumberRange(-10, 200)]
    )
    area = StringField(
        _l("具体位置（公共区域）"),
        validators=[Optional(), Length(max=100)],
        render_kw={"placeholder": _l("如：电梯厅、地下车库 B2、3 号楼东侧草坪")},
    )
    category = SelectField(_l("类别"), validators=[DataRequired()])
    urgency = RadioField(_l("紧急程度"), choices=choices(URGENCY_CHOICES), default="normal")
    description = TextAreaField(
        _l("问题描述"),
        validators=[DataRequired(message=_l("请描述需要维修的问题")), Length(max=4000)],
        render_kw={"rows": 4, "placeholder": _l("什么坏了、从什么时候开始、有没有安全隐患")},
    )
    preferred_on = DateField(_l("期望上门日期"), validators=[Optional(), DateWindow()])
    preferred_slot = SelectField(_l("期望上门时段"), choices=choices(SLOT_CHOICES), default="any")
    contact_phone = StringField(
        _l("联系电话（可不填，默认用账户手机号）"),
        validators=[Optional(), Length(max=32), Regexp(r"^[0-9+\- ]*$")],
    )
    photos = MultipleFileField(
        _l("照片（最多 6 张，每张不超过 10 MB）"),
        render_kw={"accept": "image/jpeg,image/png,image/webp,image/heic"},
    )


class TicketForm(_LocationFields):
    unit_id = SelectField(_l("房屋"), coerce=optional_int)


class StaffTicketForm(_LocationFields):
    unit_code = StringField(
        _l("房号（代业主报修时填写）"),
        validators=[Optional(), Length(max=32)],
        render_kw={"placeholder": "A-3-1202"},
    )
    channel = SelectField(_l("来源"), choices=choices(CHANNEL_CHOICES), default="phone")


class CommentForm(FlaskForm):
    body = TextAreaField(_l("留言"), validators=[DataRequired(), Length(max=2000)])
    internal = BooleanField(_l("内部备注（业主看不到）"))


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("原因"), validators=[Optional(), Length(max=2000)])


class AcknowledgeForm(FlaskForm):
    note = StringField(_l("回复业主（可不填）"), validators=[Optional(), Length(max=2000)])


class AssignForm(FlaskForm):
    assignee_id = SelectField(_l("派给"), coerce=optional_int, validators=[InputRequired()])
    note = StringField(_l("派单说明（可不填）"), validators=[Optional(), Length(max=2000)])


class ResolveForm(FlaskForm):
    note = TextAreaField(
        _l("处理结果"), validators=[DataRequired(message=_l("请说明处理结果")), Length(max=2000)]
    )
    photos = MultipleFileField(_l("完工照片（可选）"), render_kw={"accept": "image/*"})


class RatingForm(FlaskForm):
    score = RadioField(
        _l("评分"),
        choices=choices(SCORE_CHOICES),  # type: ignore[arg-type]
        coerce=int,
        validators=[InputRequired(message=_l("请选择评分"))],
    )
    comment = TextAreaField(_l("评价（可不填）"), validators=[Optional(), Length(max=1000)])


class RecheckForm(FlaskForm):
    note = TextAreaField(_l("补充说明（可不填）"), validators=[Optional(), Length(max=2000)])
    fixed = SubmitField(_l("已修好"))
    not_fixed = SubmitField(_l("没修好，重新处理"))


class FollowupForm(FlaskForm):
    note = TextAreaField(_l("回访结果"), validators=[DataRequired(), Length(max=2000)])


class BulkForm(FlaskForm):
    ticket_ids = SelectMultipleField(coerce=int, validate_choice=False)


class CategoryForm(FlaskForm):
    category_id = IntegerField(validators=[Optional()])
    code = StringField(
        _l("编码（Open311 service_code，创建后不可改）"),
        validators=[Optional(), Length(max=32), Regexp(r"^[A-Za-z0-9_-]*$")],
    )
    name = StringField(_l("名称"), validators=[DataRequired(), Length(max=50)])
    position = IntegerField(_l("排序"), default=0, validators=[Optional(), NumberRange(0, 999)])
    active = BooleanField(_l("启用"), default=True)


class SlaForm(FlaskForm):
    category_id = SelectField(_l("类别"), coerce=optional_int)
    urgency = SelectField(_l("紧急程度"), choices=choices(URGENCY_CHOICES))
    first_response_hours = DecimalField(
        _l("首次响应时限（小时）"), places=2, validators=[Optional(), NumberRange(min=0)]
    )
    resolution_hours = DecimalField(
        _l("解决时限（小时）"), places=2, validators=[Optional(), NumberRange(min=0)]
    )


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WorkHoursForm(FlaskForm):
    business_hours = BooleanField(_l("一般工单只在工作时间计时（紧急工单始终计时）"))
    work_start = StringField(
        _l("上班时间"), validators=[DataRequired(), Regexp(TIME_PATTERN)], default="08:30"
    )
    work_end = StringField(
        _l("下班时间"), validators=[DataRequired(), Regexp(TIME_PATTERN)], default="18:00"
    )
    work_days = MultiCheckboxField(_l("工作日"), choices=choices(WEEKDAY_CHOICES))


class KeyForm(FlaskForm):
    label = StringField(
        _l("用途（如：某某 App）"), validators=[Optional(), Length(max=64)], default=""
    )


def minutes_of(clock: str) -> int:
    """ "08:30" → 510."""
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def clock_of(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
