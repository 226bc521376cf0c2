"""Shared form pieces: the money field, the date window and attaching domain errors to fields."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from portal.errors import DomainError
from portal.money import yuan_to_fen
from portal.timeutil import date_window_message, in_date_window


class DateWindow:
    """WTForms validator for DateField / DateTimeLocalField: refuse dates outside the window."""

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if field.data is not None and not in_date_window(field.data):
            raise ValidationError(date_window_message())


def choices(pairs: list[tuple[str, Any]]) -> list[SelectChoice]:
    """SelectField choices from (value, label) pairs (WTForms 3.3 deprecates bare tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]


class YuanField(StringField):
    """Text input in yuan; after validation `.fen` holds the integer amount."""

    fen: int | None = None

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        if not self.data:
            self.fen = None
            return
        try:
            self.fen = yuan_to_fen(self.data)
        except ValueError as exc:  # WTForms turns this into a field error
            raise ValueError(_l("请输入金额，最多两位小数")) from exc


def attach_error(form: FlaskForm, exc: DomainError) -> None:
    """Show a domain error on its field, or at the top of the form."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        if not isinstance(field.errors, list):
            field.errors = list(field.errors)
        field.errors.append(exc.message)
    else:
        form.form_errors.append(exc.message)
