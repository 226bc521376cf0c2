from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import DateWindow

LOCAL_FORMAT = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class CheckboxListField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class NoticeForm(FlaskForm):
    category = SelectField(_l("类别"))
    title = StringField(_l("标题"), validators=[DataRequired(), Length(max=120)])
    body = TextAreaField(
        _l("正文（支持 Markdown：**加粗**、- 列表、[链接](https://…)）"),
        validators=[DataRequired(), Length(max=20000)],
    )
    important = BooleanField(_l("重要：请业主确认已读"))
    pinned = BooleanField(_l("置顶"))
    publish_at = DateTimeLocalField(
        _l("发布时间（留空则立即发布）"), format=LOCAL_FORMAT, validators=[Optional(), DateWindow()]
    )
    expires_at = DateTimeLocalField(
        _l("下架时间（可留空）"), format=LOCAL_FORMAT, validators=[Optional(), DateWindow()]
    )
    outage_type = SelectField(_l("检修类型"), validators=[Optional()])
    outage_starts_at = DateTimeLocalField(
        _l("检修开始"), format=LOCAL_FORMAT, validators=[Optional(), DateWindow()]
    )
    outage_ends_at = DateTimeLocalField(
        _l("检修结束"), format=LOCAL_FORMAT, validators=[Optional(), DateWindow()]
    )
    fee_property_type = SelectField(_l("调整的物业类型"), validators=[Optional()])
    fee_item_code = SelectField(_l("调整的收费项目"), validators=[Optional()])
    fee_rate = DecimalField(
        _l("调整后的单价（元）"),
        places=4,
        validators=[Optional(), NumberRange(min=0, max=10000)],
    )
    building_ids = CheckboxListField(_l("受影响楼栋"), coerce=int, validate_choice=False)
    files = MultipleFileField(_l("附件（JPG/PNG/PDF，每个不超过 10 MB）"))
