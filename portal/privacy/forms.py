from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from portal.forms import DateWindow


class ErasureForm(FlaskForm):
    reason = TextAreaField(_l("原因（可选）"), validators=[Optional(), Length(max=2000)])


class DecisionForm(FlaskForm):
    note = StringField(
        _l("说明（驳回时必填，业主可见）"), validators=[Optional(), Length(max=2000)]
    )


class AuditFilterForm(FlaskForm):
    """The audit viewer's filters: a GET form (it changes nothing), so no CSRF token."""

    class Meta:
        csrf = False

    actor = StringField(_l("操作人（用户名）"), validators=[Optional(), Length(max=64)])
    action = StringField(
        _l("操作（可填前缀，如 payments.）"), validators=[Optional(), Length(max=64)]
    )
    start = DateField(_l("开始日期"), validators=[Optional(), DateWindow()])
    end = DateField(_l("结束日期"), validators=[Optional(), DateWindow()])
    community = SelectField(_l("小区"), validators=[Optional()], validate_choice=True)
