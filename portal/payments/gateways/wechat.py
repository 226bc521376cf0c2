"""WeChat Pay APIv3 through the `wechatpayv3` SDK (2.0.x): Native (a QR code, for computers),
H5 (a phone's browser) and JSAPI (inside WeChat's own browser, for a payer whose openid under
our appid is known). H5 cannot be used inside WeChat (the platform refuses it there), which is
why the WeChat browser without an openid is refused before an order is made (payments/intents).
All three share one callback: the channel stays "wechat".

The SDK is built in *public-key mode* (`public_key` + `public_key_id`): it then never downloads
platform certificates, neither when constructed nor when verifying. Its callback check still has
two traps, both closed here before the SDK sees a callback:

- it does not look at `Wechatpay-Timestamp`, so a captured callback verifies forever: we accept
  only timestamps within ±5 minutes of `now` (WeChat's own SDKs use the same window);
- a `Wechatpay-Serial` other than the public key id sends it to `/v3/certificates` over the
  network, from inside the request handler: we refuse any serial but the configured key id.

After the SDK has verified the signature and decrypted the AES-256-GCM resource, the resource's
`mchid` and `appid` must be ours: a genuine notification for another merchant is not ours to credit.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from wechatpayv3 import WeChatPay, WeChatPayType

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
    GatewayConfigError,
    file_stamp,
    load_private_key_pem,
    load_public_key_pem,
    required_settings,
)
from portal.timeutil import DEFAULT_TZ, now_utc

SETTINGS = (
    "WECHATPAY_MCHID",
    "WECHATPAY_APPID",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_PRIVATE_KEY",
    "WECHATPAY_CERT_SERIAL",
    "WECHATPAY_PUBLIC_KEY",
    "WECHATPAY_PUBLIC_KEY_ID",
)
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
TIMESTAMP_TOLERANCE = timedelta(seconds=300)
HEADERS = (
    "Wechatpay-Signature",
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
)
STATUS = {
    "SUCCESS": NotificationStatus.SUCCESS,
    "CLOSED": NotificationStatus.FAILED,
    "REVOKED": NotificationStatus.FAILED,
    "PAYERROR": NotificationStatus.FAILED,
    "NOTPAY": NotificationStatus.PENDING,
    "USERPAYING": NotificationStatus.PENDING,
}
OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_-]{6,32}")  # WeChat: 6–32 chars; ours never use `*`
DESCRIPTION_BYTES = 127  # `description` is string(127), counted in UTF-8 bytes
REQUEST_TIMEOUT = (5, 15)  # seconds to connect, to read
OPENID = re.compile(r"[A-Za-z0-9_-]{6,64}")


class CheckoutFailed(RuntimeError):
    """The platform did not give us a checkout (network error, refusal, unverifiable answer)."""


def _header(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive header lookup that works for dicts and Werkzeug headers alike."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return (value or "").strip()


def _truncate_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


class WechatGateway:
    """`create_checkout` gives, by scene: a `weixin://` code_url to show as a QR code (Native),
    an h5_url to send a phone's browser to (H5), or the signed WeixinJSBridge parameters
    (JSAPI)."""

    channel = "wechat"

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        apiv3_key: str,
        private_key_pem: str,
        cert_serial: str,
        public_key_pem: str,
        public_key_id: str,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        if len(apiv3_key.encode("utf-8")) != 32:
            raise GatewayConfigError("WECHATPAY_APIV3_KEY must be 32 bytes (AES-256)")
        self.mchid = mchid
        self.appid = appid
        self.public_key_id = public_key_id
        self._clock = clock
        # Public-key mode: Core.__init__ skips _init_certificates(), so no network here.
        self._client = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=mchid,
            private_key=private_key_pem,
            cert_serial_no=cert_serial,
            appid=appid,
            apiv3_key=apiv3_key,
            public_key=public_key_pem,
            public_key_id=public_key_id,
            timeout=REQUEST_TIMEOUT,
        )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> WechatGateway | None:
        """The gateway from WECHATPAY_* settings; None when none is set.

        Built once per settings and key-file version: loading (and validating) the RSA keys
        costs ~100 ms, too much for every request.
        """
        values = required_settings(settings, SETTINGS)
        if values is None:
            return None
        stamps = (
            file_stamp(values["WECHATPAY_PRIVATE_KEY"]),
            file_stamp(values["WECHATPAY_PUBLIC_KEY"]),
        )
        return _build(tuple(sorted(values.items())), stamps)

    # -- checkout --------------------------------------------------------------------------

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Place the order through the SDK: JSAPI in WeChat (with an openid), H5 on a phone,
        Native on a computer."""
        if not OUT_TRADE_NO.fullmatch(request.out_trade_no):
            raise ValueError("out_trade_no must be 6-32 characters of [A-Za-z0-9_-]")
        if request.amount_fen <= 0:
            raise ValueError("amount must be positive")
        order: dict[str, Any] = {
            "description": _truncate_utf8(request.description, DESCRIPTION_BYTES),
            "out_trade_no": request.out_trade_no,
            "amount": {"total": request.amount_fen, "currency": "CNY"},
            "time_expire": request.expires_at.astimezone(DEFAULT_TZ).isoformat(timespec="seconds"),
            "notify_url": request.notify_url,
        }
        if request.scene is Scene.WECHAT:
            if not request.openid or not OPENID.fullmatch(request.openid):
                raise ValueError("JSAPI payment needs the payer's openid")
            answer = self._order(
                WeChatPayType.JSAPI, "prepay_id", payer={"openid": request.openid}, **order
            )
            return Checkout(jsapi=self.bridge_params(answer["prepay_id"]))
        if request.scene is Scene.MOBILE:
            if not request.client_ip:
                raise ValueError("H5 payment needs the payer's IP address")
            scene_info = {"payer_client_ip": request.client_ip, "h5_info": {"type": "Wap"}}
            answer = self._order(WeChatPayType.H5, "h5_url", scene_info=scene_info, **order)
            # After paying, WeChat sends the browser to redirect_url (URL-encoded, on the
            # domain registered for H5); without it the payer is left on WeChat's page.
            h5_url = str(answer["h5_url"])
            joiner = "&" if "?" in h5_url else "?"
            return Checkout(
                pay_url=h5_url + joiner + urlencode({"redirect_url": request.return_url})
            )
        answer = self._order(WeChatPayType.NATIVE, "code_url", **order)
        return Checkout(qr_code=str(answer["code_url"]))

    def _order(self, pay_type: WeChatPayType, wanted: str, **order: Any) -> dict[str, Any]:
        """POST /v3/pay/transactions/{native,h5,jsapi}; the verified answer, which has `wanted`."""
        try:
            code, message = self._client.pay(pay_type=pay_type, **order)
        except Exception as exc:  # the SDK raises bare Exception; requests raises its own
            raise CheckoutFailed(f"wechat pay request failed: {exc}") from exc
        try:
            answer = json.loads(message)
        except (TypeError, ValueError):
            answer = {}
        if code != 200 or not isinstance(answer, dict) or not answer.get(wanted):
            detail = answer.get("message") if isinstance(answer, dict) else None
            raise CheckoutFailed(f"wechat pay refused the order ({code}): {detail or message!r}")
        return answer

    def bridge_params(self, prepay_id: str) -> dict[str, str]:
        """What getBrandWCPayRequest takes: paySign is RSA-SHA256 with the merchant key over
        "appId\ntimeStamp\nnonceStr\npackage\n" (APIv3 JSAPI 调起支付), signed by the SDK."""
        timestamp = str(int(self._clock().timestamp()))
        nonce = secrets.token_hex(16)  # 32 characters, WeChat's maximum
        package = f"prepay_id={prepay_id}"
        return {
            "appId": self.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": self._client.sign([self.appid, timestamp, nonce, package]),
        }

    # -- callbacks -------------------------------------------------------------------------

    def parse_notification(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> Notification:
        """Check freshness and key id, let the SDK verify and decrypt, then check the payload."""
        values = {name: _header(headers, name) for name in HEADERS}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise BadNotification("missing header " + ", ".join(missing))
        if values["Wechatpay-Signature-Type"] != SIGNATURE_TYPE:
            raise BadNotification("unsupported signature type")
        if values["Wechatpay-Serial"] != self.public_key_id:
            # Anything else would make the SDK download certificates from inside this request.
            raise BadNotification("unknown Wechatpay-Serial")
        stamp = values["Wechatpay-Timestamp"]
        if not stamp.isdigit() or len(stamp) > 12:
            raise BadNotification("malformed timestamp")
        sent_at = datetime.fromtimestamp(int(stamp), UTC)
        if abs(now - sent_at) > TIMESTAMP_TOLERANCE:
            raise BadNotification("stale or future timestamp")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadNotification("body is not UTF-8") from exc

        try:
            # Canonical header names only: the SDK switches to Django/FastAPI spellings when it
            # finds them, so a dict with just these keys is what it reads.
            data = self._client.callback(headers=values, body=text)
        except Exception as exc:  # bad JSON, unknown algorithm: the SDK raises bare Exception
            raise BadNotification("undecodable notification") from exc
        if not isinstance(data, dict) or not isinstance(data.get("resource"), dict):
            # callback() answers None for a bad signature and for a resource that will not
            # decrypt (wrong APIv3 key, altered ciphertext) alike.
            raise BadNotification("signature or encrypted resource did not verify")
        return self._notification(data)

    def _notification(self, data: dict[str, Any]) -> Notification:
        resource: dict[str, Any] = data["resource"]
        if resource.get("mchid") != self.mchid:
            raise BadNotification("mchid is not ours")
        if resource.get("appid") != self.appid:
            raise BadNotification("appid is not ours")
        state = resource.get("trade_state")
        if state not in STATUS:
            raise BadNotification("unknown trade_state")
        status = STATUS[state]
        out_trade_no = resource.get("out_trade_no")
        if not isinstance(out_trade_no, str) or not out_trade_no:
            raise BadNotification("missing out_trade_no")
        txn_id = resource.get("transaction_id") or ""
        if not isinstance(txn_id, str) or (status is NotificationStatus.SUCCESS and not txn_id):
            raise BadNotification("missing transaction_id")
        amount = resource.get("amount")
        total = amount.get("total") if isinstance(amount, dict) else None
        # bool is an int in Python; JSON true must not pass as 1 fen.
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise BadNotification("malformed amount.total")
        if amount.get("currency", "CNY") != "CNY":
            raise BadNotification("currency is not CNY")
        paid_at = None
        if status is NotificationStatus.SUCCESS:
            try:
                paid_at = datetime.fromisoformat(str(resource["success_time"]))
            except (KeyError, ValueError) as exc:
                raise BadNotification("missing or malformed success_time") from exc
            if paid_at.tzinfo is None:
                raise BadNotification("success_time without a zone")
            paid_at = paid_at.astimezone(UTC)
        return Notification(
            out_trade_no=out_trade_no,
            txn_id=txn_id,
            amount_fen=total,
            status=status,
            paid_at=paid_at,
            raw={"id": data.get("id"), "event_type": data.get("event_type"), "resource": resource},
        )

    def ack(self, ok: bool, message: str = "") -> Ack:
        """APIv3: 200/204 with no body accepts; 4xx/5xx with {"code": "FAIL"} asks for a retry."""
        if ok:
            return Ack(status=204, body="", content_type="text/plain")
        body = {"code": "FAIL", "message": (message or "失败")[:64]}
        return Ack(status=400, body=json.dumps(body, ensure_ascii=False))


@lru_cache(maxsize=8)
def _build(items: tuple[tuple[str, str], ...], stamps: tuple[object, ...]) -> WechatGateway:
    values = dict(items)
    return WechatGateway(
        mchid=values["WECHATPAY_MCHID"],
        appid=values["WECHATPAY_APPID"],
        apiv3_key=values["WECHATPAY_APIV3_KEY"],
        private_key_pem=load_private_key_pem(values["WECHATPAY_PRIVATE_KEY"]),
        cert_serial=values["WECHATPAY_CERT_SERIAL"],
        public_key_pem=load_public_key_pem(values["WECHATPAY_PUBLIC_KEY"]),
        public_key_id=values["WECHATPAY_PUBLIC_KEY_ID"],
    )
