from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional


class ErasureForm(FlaskForm):
    reason = TextAreaField(_l("原因（可选）"), validators=[Optional(), Length(max=2000)])


class DecisionForm(FlaskForm):
    note = StringField(
        _l("说明（驳回时必填，业主可见）"), validators=[Optional(), Length(max=2000)]
    )
