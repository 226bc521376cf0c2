from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import DateWindow, YuanField, choices

OFFLINE_CHOICES = [
    ("bank_transfer", _l("银行转账")),
    ("cash", _l("现金")),
    ("pos", _l("POS 刷卡")),
    ("auto_debit", _l("银行代扣")),
]


class PayForm(FlaskForm):
    channel = SelectField(_l("支付方式"), validate_choice=True)
    idempotency_key = HiddenField()


class OfflinePaymentForm(FlaskForm):
    unit_code = StringField(_l("房号"), validators=[DataRequired(), Length(max=32)])
    channel = SelectField(_l("收款方式"), choices=choices(OFFLINE_CHOICES))
    reference = StringField(
        _l("凭证号（流水号/参考号/收据号）"), validators=[DataRequired(), Length(max=64)]
    )
    amount = YuanField(_l("金额（元）"), validators=[DataRequired()])
    received_on = DateField(_l("收款日期"), validators=[DataRequired(), DateWindow()])
    note = StringField(_l("备注"), validators=[Optional(), Length(max=255)])


class RefundForm(FlaskForm):
    amount = YuanField(_l("退款金额（元）"), validators=[DataRequired()])
    reason = TextAreaField(_l("退款原因"), validators=[DataRequired(), Length(max=500)])


class MandateForm(FlaskForm):
    unit_id = SelectField(_l("房屋"), coerce=int)
    bank_account = StringField(
        _l("银行卡号"),
        validators=[DataRequired(), Length(max=30)],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    max_amount = YuanField(_l("每期最多扣款（元）"), validators=[DataRequired()])
