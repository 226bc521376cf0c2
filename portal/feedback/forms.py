"""Feedback forms: shape only; ownership, duplicates and ranges are checked in the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import DateWindow, choices


def _optional_int(value: str | None) -> int | None:
    return int(value) if value not in (None, "", "None") else None


class ComplaintForm(FlaskForm):
    unit_id = SelectField(_l("房屋"), coerce=int, validators=[DataRequired()])
    category = SelectField(_l("投诉类别"), validators=[DataRequired()])
    about_staff_id = SelectField(_l("涉及的工作人员（可不选）"), coerce=_optional_int)
    description = TextAreaField(
        _l("投诉内容"), validators=[DataRequired(), Length(max=4000)], render_kw={"rows": 5}
    )
    submit = SubmitField(_l("提交投诉"))


class StaffComplaintForm(FlaskForm):
    community_id = SelectField(_l("小区"), coerce=int, validators=[DataRequired()])
    unit_code = StringField(_l("房号"), validators=[DataRequired(), Length(max=32)])
    category = SelectField(_l("投诉类别"), validators=[DataRequired()])
    about_staff_id = SelectField(_l("涉及的工作人员（可不选）"), coerce=_optional_int)
    description = TextAreaField(
        _l("投诉内容"), validators=[DataRequired(), Length(max=4000)], render_kw={"rows": 5}
    )
    submit = SubmitField(_l("登记投诉"))


class SurveyForm(FlaskForm):
    community_id = SelectField(_l("小区"), coerce=int, validators=[DataRequired()])
    title = StringField(_l("标题"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(
        _l("类型"),
        choices=choices(
            [
                ("annual", _l("年度满意度调查")),
                ("pulse", _l("快速调查")),
                ("followup", _l("满意度回访")),
            ]
        ),
    )
    building_ids = SelectMultipleField(_l("楼栋（不选为全小区）"), coerce=int)
    closes_on = DateField(_l("截止日期"), validators=[DataRequired(), DateWindow()])
    intro = TextAreaField(_l("说明"), validators=[Optional(), Length(max=2000)])
    # One question a line: "评分|问题", "选择|问题|选项1,选项2", "文字|问题".
    questions = TextAreaField(
        _l("问题（每行一个）"),
        validators=[Optional(), Length(max=8000)],
        render_kw={"rows": 8},
    )
    submit = SubmitField(_l("创建并发出邀请"))


class RecoveryDoneForm(FlaskForm):
    note = TextAreaField(_l("处理结果"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("标记完成"))
