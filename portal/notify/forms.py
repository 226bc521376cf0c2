"""Forms of the notify pages: 通知设置, template versions, outbox filters."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import choices

CHANNEL_CHOICES = [
    ("wechat", _l("微信")),
    ("sms", _l("短信")),
    ("email", _l("电子邮件")),
]


class CheckboxesField(SelectMultipleField):
    """Several checkboxes for one multi-valued field."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SettingsForm(FlaskForm):
    phone = StringField(_l("手机号码"), validators=[Optional(), Length(max=20)])
    email = StringField(_l("电子邮箱"), validators=[Optional(), Length(max=255)])
    wechat_openid = StringField(
        _l("微信绑定标识（openid）"), validators=[Optional(), Length(max=64)]
    )
    language = SelectField(_l("通知语言"), choices=choices([("zh", _l("中文")), ("en", "English")]))
    money_channels = CheckboxesField(_l("账单与缴费"), choices=choices(CHANNEL_CHOICES))
    money_opted_out = BooleanField(_l("只在站内信接收账单与缴费通知"))
    service_channels = CheckboxesField(_l("报修与异议进度"), choices=choices(CHANNEL_CHOICES))
    service_opted_out = BooleanField(_l("只在站内信接收报修与异议进度"))
    notice_channels = CheckboxesField(_l("小区公告"), choices=choices(CHANNEL_CHOICES))
    notice_opted_out = BooleanField(_l("只在站内信接收小区公告"))
    legal_channels = CheckboxesField(_l("书面通知"), choices=choices(CHANNEL_CHOICES))
    legal_opted_out = BooleanField(_l("退订书面通知"))


class TemplateForm(FlaskForm):
    subject_zh = StringField(_l("标题（中文）"), validators=[Length(max=200)])
    body_zh = TextAreaField(
        _l("正文（中文）"), validators=[Length(max=2000)], render_kw={"rows": 7}
    )
    subject_en = StringField(_l("标题（英文）"), validators=[Length(max=200)])
    body_en = TextAreaField(
        _l("正文（英文）"), validators=[Length(max=2000)], render_kw={"rows": 7}
    )
    note = StringField(_l("修改说明"), validators=[Optional(), Length(max=200)])
    preview_unit = SelectField(_l("用哪位业主的资料预览"), validate_choice=False)
