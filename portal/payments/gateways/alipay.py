"""Alipay page pay (电脑网站支付) for computers, wap pay (手机网站支付) for phones, and their
async notification (the same for both), through `python-alipay-sdk` (3.x).

`AliPay.verify(data, signature)` has three traps, all handled here:

- it signs over every key it is given, so `sign` must be taken out first, and it pops
  `sign_type` from the dict it was passed: we give it a copy with both removed;
- it checks the RSA2 signature and nothing else: `app_id`, the amount, the trade status and the
  age of the notification are checked here;
- it raises (not returns False) on an unexpected sign_type or undecodable base64.

Freshness: Alipay resends an unacknowledged notification about 8 times over 24 h 22 min
(intervals 4m, 10m, 10m, 1h, 2h, 6h, 15h), keeping `notify_id` the same. `notify_time` older
than 26 hours therefore cannot be a legitimate delivery (the whole retry schedule plus an hour
for clock skew and queueing) and is refused; a replay inside the window is harmless because the
payments service credits an intent exactly once.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from alipay import AliPay
from alipay.exceptions import AliPayException

from portal.money import fen_to_yuan_str, yuan_to_fen
from portal.payments.gateways.base import (
    Ack,
    BadNotification,
    Checkout,
    CheckoutRequest,
    Notification,
    NotificationStatus,
    Scene,
)
from portal.payments.gateways.keys import (
    file_stamp,
    load_private_key_pem,
    load_public_key_pem,
    required_settings,
)
from portal.timeutil import DEFAULT_TZ, now_utc

SETTINGS = ("ALIPAY_APP_ID", "ALIPAY_APP_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY")
TRUE = {"1", "true", "yes", "on"}
MAX_AGE = timedelta(hours=26)
MAX_CLOCK_SKEW = timedelta(minutes=5)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # Alipay's times are Beijing time without a zone
STATUS = {
    "TRADE_SUCCESS": NotificationStatus.SUCCESS,
    "TRADE_FINISHED": NotificationStatus.SUCCESS,
    "TRADE_CLOSED": NotificationStatus.FAILED,
    "WAIT_BUYER_PAY": NotificationStatus.PENDING,
}
REQUIRED = (
    "notify_time",
    "app_id",
    "out_trade_no",
    "trade_no",
    "trade_status",
    "total_amount",
    "sign",
    "sign_type",
)
OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_-]{1,64}")
AMOUNT = re.compile(r"\d{1,12}(\.\d{1,2})?")  # Alipay writes "1234.56"; no 1e3, no 1,234
SUBJECT_CHARS = 256
MAX_BODY = 64 * 1024


def _beijing(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=DEFAULT_TZ).astimezone(UTC)


class AlipayGateway:
    """Page pay on a computer, wap pay on a phone: `create_checkout` gives a signed gateway URL
    to send the browser to."""

    channel = "alipay"

    def __init__(
        self,
        *,
        app_id: str,
        app_private_key_pem: str,
        alipay_public_key_pem: str,
        sandbox: bool = False,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.app_id = app_id
        self._clock = clock
        self._client = AliPay(
            appid=app_id,
            app_notify_url=None,
            app_private_key_string=app_private_key_pem,
            alipay_public_key_string=alipay_public_key_pem,
            sign_type="RSA2",
            debug=sandbox,  # the SDK's name for "use the sandbox gateway"
        )
        # The SDK keeps the gateway URL privately; it is the one documented for each mode.
        self.gateway_url: str = self._client._gateway

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> AlipayGateway | None:
        """The gateway from ALIPAY_* settings; None when none is set.

        Built once per settings and key-file version (loading the keys costs ~100 ms).
        """
        values = required_settings(settings, SETTINGS)
        if values is None:
            return None
        sandbox = str(settings.get("ALIPAY_SANDBOX") or "").strip().lower() in TRUE
        stamps = (
            file_stamp(values["ALIPAY_APP_PRIVATE_KEY"]),
            file_stamp(values["ALIPAY_PUBLIC_KEY"]),
        )
        return _build(tuple(sorted(values.items())), sandbox, stamps)

    # -- checkout --------------------------------------------------------------------------

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Sign an alipay.trade.page.pay (computer) or alipay.trade.wap.pay (phone) request;
        no network call is made."""
        if not OUT_TRADE_NO.fullmatch(request.out_trade_no):
            raise ValueError("out_trade_no must be 1-64 characters of [A-Za-z0-9_-]")
        if request.amount_fen <= 0:
            raise ValueError("amount must be positive")
        biz_content = {
            "subject": request.description[:SUBJECT_CHARS],
            "out_trade_no": request.out_trade_no,
            "total_amount": fen_to_yuan_str(request.amount_fen),
            "product_code": "FAST_INSTANT_TRADE_PAY",
            "time_expire": request.expires_at.astimezone(DEFAULT_TZ).strftime(TIME_FORMAT),
        }
        method = "alipay.trade.page.pay"
        if request.scene is not Scene.DESKTOP:
            # Wap pay: the product code is QUICK_WAP_WAY as Alipay documents it (the SDK's own
            # api_alipay_trade_wap_pay() sends QUICK_WAP_PAY), and quit_url is where the
            # payer's "back" button on Alipay's page leads.
            method = "alipay.trade.wap.pay"
            biz_content["product_code"] = "QUICK_WAP_WAY"
            biz_content["quit_url"] = request.return_url
        # What the SDK's api_alipay_trade_*_pay() do, except that they stamp `timestamp` with
        # the server's naive local clock (UTC on our servers) while Alipay reads Beijing time.
        query = self._client.client_api(
            method,
            biz_content,
            return_url=request.return_url,
            notify_url=request.notify_url,
            timestamp=self._clock().astimezone(DEFAULT_TZ).strftime(TIME_FORMAT),
        )
        return Checkout(pay_url=f"{self.gateway_url}?{query}")

    # -- callbacks -------------------------------------------------------------------------

    def parse_notification(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> Notification:
        """Verify the RSA2 signature through the SDK, then everything the SDK does not check."""
        params = self._form(body)
        missing = [name for name in REQUIRED if not params.get(name)]
        if missing:
            raise BadNotification("missing field " + ", ".join(missing))
        if params["sign_type"] != "RSA2":
            raise BadNotification("unsupported sign_type")
        if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
            raise BadNotification("unsupported charset")

        unsigned = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
        try:
            verified = self._client.verify(unsigned, params["sign"])
        except (AliPayException, binascii.Error, ValueError, TypeError) as exc:
            raise BadNotification("bad signature") from exc
        if not verified:
            raise BadNotification("bad signature")

        if params["app_id"] != self.app_id:
            raise BadNotification("app_id is not ours")
        try:
            sent_at = _beijing(params["notify_time"])
        except ValueError as exc:
            raise BadNotification("malformed notify_time") from exc
        if sent_at < now - MAX_AGE:
            raise BadNotification("stale notification")
        if sent_at > now + MAX_CLOCK_SKEW:
            raise BadNotification("notify_time in the future")
        status = STATUS.get(params["trade_status"])
        if status is None:
            raise BadNotification("unknown trade_status")
        if not AMOUNT.fullmatch(params["total_amount"]):
            raise BadNotification("malformed total_amount")
        amount_fen = yuan_to_fen(params["total_amount"])
        paid_at = None
        if params.get("gmt_payment"):
            try:
                paid_at = _beijing(params["gmt_payment"])
            except ValueError as exc:
                raise BadNotification("malformed gmt_payment") from exc
        return Notification(
            out_trade_no=params["out_trade_no"],
            txn_id=params["trade_no"],
            amount_fen=amount_fen,
            status=status,
            paid_at=paid_at,
            raw={k: v for k, v in params.items() if k != "sign"},
        )

    @staticmethod
    def _form(body: bytes) -> dict[str, str]:
        if len(body) > MAX_BODY:
            raise BadNotification("body too large")
        try:
            pairs = parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadNotification("body is not a UTF-8 form") from exc
        params = dict(pairs)
        if len(params) != len(pairs):
            # Which of two values was signed is ambiguous: refuse rather than guess.
            raise BadNotification("duplicate field")
        return params

    def ack(self, ok: bool, message: str = "") -> Ack:
        """Alipay stops resending only on the exact text `success`; anything else means retry."""
        if ok:
            return Ack(status=200, body="success", content_type="text/plain")
        return Ack(status=400, body="fail", content_type="text/plain")


@lru_cache(maxsize=8)
def _build(
    items: tuple[tuple[str, str], ...], sandbox: bool, stamps: tuple[object, ...]
) -> AlipayGateway:
    values = dict(items)
    return AlipayGateway(
        app_id=values["ALIPAY_APP_ID"],
        app_private_key_pem=load_private_key_pem(values["ALIPAY_APP_PRIVATE_KEY"]),
        alipay_public_key_pem=load_public_key_pem(values["ALIPAY_PUBLIC_KEY"]),
        sandbox=sandbox,
    )
