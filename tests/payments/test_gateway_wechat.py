"""WeChat Pay APIv3 through wechatpayv3, against an offline stand-in for the platform."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import wechatpayv3.core
from cryptography.exceptions import InvalidSignature
from werkzeug.datastructures import Headers

from portal.payments.gateways.base import (
    BadNotification,
    CheckoutRequest,
    NotificationStatus,
    Scene,
)
from portal.payments.gateways.keys import GatewayConfigError, KeyFileError
from portal.payments.gateways.wechat import CheckoutFailed, WechatGateway
from tests.payments.platforms import (
    WECHAT_APIV3_KEY,
    WECHAT_APPID,
    WECHAT_MCHID,
    WECHAT_PUBLIC_KEY_ID,
    WechatPlatform,
    new_key,
    rsa_sha256_verify,
    wechat_platform,
    wechat_transaction,
)

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)  # 20:00 in Beijing
NATIVE_URL = "https://api.mch.weixin.qq.com/v3/pay/transactions/native"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> WechatPlatform:
    return wechat_platform(tmp_path_factory.mktemp("wechat"))


class RecordingHttp:
    """Replaces `requests` inside the SDK: records calls, answers only what a test queued."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.answers: list[Any] = []

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        self.calls.append((method, url, kwargs))
        if not self.answers:
            raise AssertionError(f"unexpected {method} {url}")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get(self, url: str, **kwargs: Any) -> Any:
        return self._call("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self._call("POST", url, **kwargs)


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> RecordingHttp:
    recorder = RecordingHttp()
    monkeypatch.setattr(wechatpayv3.core, "requests", recorder)
    return recorder


@pytest.fixture
def gateway(platform: WechatPlatform, http: RecordingHttp) -> Iterator[WechatGateway]:
    built = WechatGateway.from_settings(platform.settings)
    assert built is not None
    yield built
    # Neither building the gateway nor anything a test did with it went to the network
    # unless the test queued an answer for it (and then consumed it).
    assert http.answers == []


@pytest.fixture
def no_decrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proves a refusal came from the signature check: the SDK never got to decrypting."""

    def refuse(**kwargs: Any) -> str:
        raise AssertionError("decrypted a notification whose signature did not verify")

    monkeypatch.setattr(wechatpayv3.core, "aes_decrypt", refuse)


SIGNATURE_REFUSED = "did not verify"


def parse(gateway: WechatGateway, headers: Any, body: bytes, now: datetime = NOW) -> Any:
    return gateway.parse_notification(headers=headers, body=body, now=now)


# -- genuine notifications ----------------------------------------------------------------------


def test_genuine_success_notification_is_verified_by_the_sdk_and_decoded(
    gateway: WechatGateway,
    platform: WechatPlatform,
    http: RecordingHttp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []
    real_verify = wechatpayv3.core.Core._verify_signature

    def spy(self: Any, headers: dict[str, str], body: str) -> bool:
        seen.append(headers["Wechatpay-Serial"])
        return real_verify(self, headers, body)

    monkeypatch.setattr(wechatpayv3.core.Core, "_verify_signature", spy)
    headers, body = platform.notification(wechat_transaction(), at=NOW - timedelta(seconds=1))

    note = parse(gateway, headers, body)

    assert seen == [WECHAT_PUBLIC_KEY_ID]  # the SDK checked the signature
    assert note.out_trade_no == "PI20261123000123"
    assert note.txn_id == "4200002026112312345678901234"
    assert note.amount_fen == 123456
    assert note.status is NotificationStatus.SUCCESS
    assert note.paid_at == datetime(2026, 11, 23, 11, 59, 30, tzinfo=UTC)
    assert note.raw["resource"]["payer"]["openid"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    assert note.raw["event_type"] == "TRANSACTION.SUCCESS"
    assert http.calls == []


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("SUCCESS", NotificationStatus.SUCCESS),
        ("CLOSED", NotificationStatus.FAILED),
        ("REVOKED", NotificationStatus.FAILED),
        ("PAYERROR", NotificationStatus.FAILED),
        ("NOTPAY", NotificationStatus.PENDING),
        ("USERPAYING", NotificationStatus.PENDING),
    ],
)
def test_trade_states_map_to_statuses(
    gateway: WechatGateway, platform: WechatPlatform, state: str, status: NotificationStatus
) -> None:
    resource = wechat_transaction(trade_state=state)
    if state != "SUCCESS":
        del resource["success_time"]
        del resource["transaction_id"]
    note = parse(gateway, *platform.notification(resource, at=NOW))
    assert note.status is status
    assert (note.paid_at is not None) == (state == "SUCCESS")


def test_header_names_are_case_insensitive(
    gateway: WechatGateway, platform: WechatPlatform
) -> None:
    headers, body = platform.notification(wechat_transaction(), at=NOW)
    lower = {k.lower(): v for k, v in headers.items()}
    assert parse(gateway, lower, body).amount_fen == 123456
    werkzeug = Headers(list(headers.items()))
    assert parse(gateway, werkzeug, body).amount_fen == 123456


def test_timestamp_window_is_inclusive_at_300_seconds(
    gateway: WechatGateway, platform: WechatPlatform
) -> None:
    for sent in (NOW - timedelta(seconds=300), NOW + timedelta(seconds=300)):
        assert parse(gateway, *platform.notification(wechat_transaction(), at=sent)).txn_id


def test_replay_inside_window_verifies_but_outside_is_refused(
    gateway: WechatGateway, platform: WechatPlatform
) -> None:
    """A re-sent callback is fine (the service credits once); an old capture is not."""
    headers, body = platform.notification(wechat_transaction(), at=NOW)
    assert parse(gateway, headers, body).txn_id
    assert parse(gateway, headers, body, now=NOW + timedelta(seconds=120)).txn_id
    with pytest.raises(BadNotification, match="stale"):
        parse(gateway, headers, body, now=NOW + timedelta(seconds=301))


# -- refused notifications ----------------------------------------------------------------------


@pytest.mark.usefixtures("no_decrypt")
def test_signature_by_another_key_is_refused(
    gateway: WechatGateway, platform: WechatPlatform
) -> None:
    headers, body = platform.notification(wechat_transaction(), at=NOW, key=new_key())
    with pytest.raises(BadNotification, match=SIGNATURE_REFUSED):
        parse(gateway, headers, body)


@pytest.mark.usefixtures("no_decrypt")
def test_tampered_body_is_refused(gateway: WechatGateway, platform: WechatPlatform) -> None:
    headers, body = platform.notification(wechat_transaction(), at=NOW)
    envelope = json.loads(body)
    envelope["summary"] = "支付成功 "
    with pytest.raises(BadNotification, match=SIGNATURE_REFUSED):
        parse(gateway, headers, json.dumps(envelope, ensure_ascii=False).encode())
    envelope = json.loads(body)
    ciphertext = envelope["resource"]["ciphertext"]
    other = "B" if ciphertext[0] == "A" else "A"  # a real change, whatever the random first byte
    envelope["resource"]["ciphertext"] = other + ciphertext[1:]
    with pytest.raises(BadNotification, match=SIGNATURE_REFUSED):
        parse(gateway, headers, json.dumps(envelope, ensure_ascii=False).encode())


def test_altered_ciphertext_fails_aes_gcm_even_when_signed(
    gateway: WechatGateway, platform: WechatPlatform
) -> None:
    """The platform's signature holds, but the AES-GCM tag does not: still refused."""
    envelope = json.loads(platform.notification_body(wechat_transaction()))
    cipher = envelope["resource"]["ciphertext"]
    envelope["resource"]["ciphertext"] = ("A" if cipher[0] != "A" else "B") + cipher[1:]
    forged = json.dumps(envelope, ensure_ascii=False)
    with pytest.raises(BadNotification, match=SIGNATURE_REFUSED):
        parse(gateway, platform.sign_headers(forged, at=NOW), forged.encode())


@pytest.mark.usefixtures("no_decrypt")
def test_tampered_signed_headers_are_refused(
    gateway: WechatGateway, platform: WechatPlatform
) -> None:
    headers, body = platform.notification(wechat_transaction(), at=NOW)
    headers["Wechatpay-Nonce"] = headers["Wechatpay-Nonce"][::-1]
    with pytest.raises(BadNotification, match=SIGNATURE_REFUSED):
        parse(gateway, headers, body)


def test_unknown_serial_is_refused_without_going_to_the_network(
    gateway: WechatGateway, platform: WechatPlatform, http: RecordingHttp
) -> None:
    serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"  # a platform-certificate serial
    headers, body = platform.notification(wechat_transaction(), at=NOW, serial=serial)
    with pytest.raises(BadNotification, match="Wechatpay-Serial"):
        parse(gateway, headers, body)
    assert http.calls == []


def test_the_sdk_alone_would_fetch_certificates_for_an_unknown_serial(
    gateway: WechatGateway, platform: WechatPlatform, http: RecordingHttp
) -> None:
    """Why the serial is checked first: wechatpayv3 2.0.x calls /v3/certificates here."""
    headers, body = platform.notification(wechat_transaction(), at=NOW, serial="ABCDEF")
    http.answers.append(platform.answer(500, {"code": "SYSTEM_ERROR"}, at=NOW))
    assert gateway._client.callback(headers=headers, body=body.decode()) is None
    assert [(m, u) for m, u, _ in http.calls] == [
        ("GET", "https://api.mch.weixin.qq.com/v3/certificates")
    ]


def test_the_sdk_alone_accepts_a_day_old_callback(
    gateway: WechatGateway, platform: WechatPlatform
) -> None:
    """Why the timestamp is checked first: the SDK's callback() never looks at it."""
    headers, body = platform.notification(wechat_transaction(), at=NOW - timedelta(days=1))
    assert gateway._client.callback(headers=headers, body=body.decode()) is not None
    with pytest.raises(BadNotification, match="stale"):
        parse(gateway, headers, body)


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_stale_or_future_timestamp_is_refused(
    gateway: WechatGateway, platform: WechatPlatform, offset: int
) -> None:
    headers, body = platform.notification(wechat_transaction(), at=NOW + timedelta(seconds=offset))
    with pytest.raises(BadNotification, match="timestamp"):
        parse(gateway, headers, body)


@pytest.mark.parametrize("stamp", ["", "abc", "1.5", "-1", "99999999999999999999"])
def test_malformed_timestamp_is_refused(
    gateway: WechatGateway, platform: WechatPlatform, stamp: str
) -> None:
    headers, body = platform.notification(wechat_transaction(), at=NOW)
    headers["Wechatpay-Timestamp"] = stamp
    with pytest.raises(BadNotification):
        parse(gateway, headers, body)


@pytest.mark.parametrize(
    "header",
    [
        "Wechatpay-Signature",
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Serial",
        "Wechatpay-Signature-Type",
    ],
)
def test_missing_header_is_refused(
    gateway: WechatGateway, platform: WechatPlatform, header: str
) -> None:
    headers, body = platform.notification(wechat_transaction(), at=NOW)
    del headers[header]
    with pytest.raises(BadNotification, match=f"missing header {header}"):
        parse(gateway, headers, body)


def test_other_signature_type_is_refused(gateway: WechatGateway, platform: WechatPlatform) -> None:
    headers, body = platform.notification(wechat_transaction(), at=NOW)
    headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SM2-WITH-SM3"
    with pytest.raises(BadNotification, match="signature type"):
        parse(gateway, headers, body)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("mchid", "1900000110", "mchid"),
        ("appid", "wx0000000000000000", "appid"),
        ("trade_state", "REFUND", "trade_state"),
        ("amount", {"total": "123456", "currency": "CNY"}, "amount"),
        ("amount", {"total": 1234.56, "currency": "CNY"}, "amount"),
        ("amount", {"total": True, "currency": "CNY"}, "amount"),
        ("amount", {"total": -1, "currency": "CNY"}, "amount"),
        ("amount", {"currency": "CNY"}, "amount"),
        ("amount", 123456, "amount"),
        ("amount", {"total": 100, "currency": "USD"}, "currency"),
        ("success_time", "yesterday", "success_time"),
        ("success_time", "2026-11-23T19:59:30", "success_time"),
        ("out_trade_no", "", "out_trade_no"),
        ("out_trade_no", 123, "out_trade_no"),
        ("transaction_id", "", "transaction_id"),
    ],
)
def test_bad_resource_field_is_refused(
    gateway: WechatGateway, platform: WechatPlatform, field: str, value: Any, reason: str
) -> None:
    headers, body = platform.notification(wechat_transaction(**{field: value}), at=NOW)
    with pytest.raises(BadNotification, match=reason):
        parse(gateway, headers, body)


@pytest.mark.parametrize(
    "field", ["mchid", "appid", "trade_state", "out_trade_no", "transaction_id", "success_time"]
)
def test_missing_resource_field_is_refused(
    gateway: WechatGateway, platform: WechatPlatform, field: str
) -> None:
    resource = wechat_transaction()
    del resource[field]
    with pytest.raises(BadNotification, match=field):
        parse(gateway, *platform.notification(resource, at=NOW))


def test_resource_encrypted_with_another_apiv3_key_is_refused(
    gateway: WechatGateway, platform: WechatPlatform
) -> None:
    body = platform.notification_body(wechat_transaction(), apiv3_key="X" * 32)
    with pytest.raises(BadNotification, match=SIGNATURE_REFUSED):
        parse(gateway, platform.sign_headers(body, at=NOW), body.encode())


def test_plain_resource_type_is_refused(gateway: WechatGateway, platform: WechatPlatform) -> None:
    body = platform.notification_body(wechat_transaction(), resource_type="plain")
    with pytest.raises(BadNotification):
        parse(gateway, platform.sign_headers(body, at=NOW), body.encode())


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "{}"])
def test_signed_garbage_is_refused(
    gateway: WechatGateway, platform: WechatPlatform, body: str
) -> None:
    with pytest.raises(BadNotification):
        parse(gateway, platform.sign_headers(body, at=NOW), body.encode())


def test_resource_that_is_not_json_is_refused(
    gateway: WechatGateway, platform: WechatPlatform
) -> None:
    with pytest.raises(BadNotification):
        parse(gateway, *platform.notification("trade_state=SUCCESS", at=NOW))


def test_body_that_is_not_utf8_is_refused(gateway: WechatGateway, platform: WechatPlatform) -> None:
    headers, _ = platform.notification(wechat_transaction(), at=NOW)
    with pytest.raises(BadNotification, match="UTF-8"):
        parse(gateway, headers, "支付成功".encode("gbk"))


def test_no_outbound_connection_while_parsing(
    gateway: WechatGateway, platform: WechatPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real `requests` back in the SDK, and every DNS lookup or connect recorded (on top
    of the autouse guard, whose error the gateway would turn into a mere refusal)."""
    monkeypatch.setattr(wechatpayv3.core, "requests", requests)
    attempts: list[Any] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket, "getaddrinfo", record)
    monkeypatch.setattr(socket.socket, "connect", record)
    monkeypatch.setattr(socket, "create_connection", record)
    good = platform.notification(wechat_transaction(), at=NOW)
    bad_serial = platform.notification(wechat_transaction(), at=NOW, serial="ABCDEF")
    bad_key = platform.notification(wechat_transaction(), at=NOW, key=new_key())
    stale = platform.notification(wechat_transaction(), at=NOW - timedelta(hours=1))
    other_mchid = platform.notification(wechat_transaction(mchid="1900000110"), at=NOW)
    assert parse(gateway, *good).txn_id
    for headers, body in (bad_serial, bad_key, stale, other_mchid):
        with pytest.raises(BadNotification):
            parse(gateway, headers, body)
    assert attempts == []


# -- checkout -----------------------------------------------------------------------------------


def checkout_request(**overrides: Any) -> CheckoutRequest:
    request = CheckoutRequest(
        out_trade_no="PI20261123000123",
        amount_fen=123456,
        description="明账花园 A-3-1202 物业费 2026-11",
        notify_url="https://pay.example.cn/payments/notify/wechat",
        return_url="https://pay.example.cn/payments/PI20261123000123",
        expires_at=NOW + timedelta(minutes=30),
    )
    return replace(request, **overrides)


def test_create_checkout_calls_native_pay_and_returns_the_code_url(
    gateway: WechatGateway, platform: WechatPlatform, http: RecordingHttp
) -> None:
    code_url = "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"
    http.answers.append(platform.answer(200, {"code_url": code_url}, at=NOW))

    checkout = gateway.create_checkout(checkout_request())

    assert checkout.qr_code == code_url
    assert checkout.pay_url is None
    [(method, url, kwargs)] = http.calls
    assert (method, url) == ("POST", NATIVE_URL)
    assert kwargs["json"] == {
        "notify_url": "https://pay.example.cn/payments/notify/wechat",
        "description": "明账花园 A-3-1202 物业费 2026-11",
        "out_trade_no": "PI20261123000123",
        "amount": {"total": 123456, "currency": "CNY"},
        "time_expire": "2026-11-23T20:30:00+08:00",
        "appid": WECHAT_APPID,
        "mchid": WECHAT_MCHID,
    }
    headers = kwargs["headers"]
    assert headers["Wechatpay-Serial"] == WECHAT_PUBLIC_KEY_ID
    # Authorization: WECHATPAY2-SHA256-RSA2048 over "POST\npath\ntimestamp\nnonce\nbody\n",
    # signed with the merchant key; checked here with its public half, as WeChat would.
    scheme, _, params = headers["Authorization"].partition(" ")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    assert fields["mchid"] == WECHAT_MCHID
    assert fields["serial_no"] == platform.settings["WECHATPAY_CERT_SERIAL"]
    message = (
        f"POST\n/v3/pay/transactions/native\n{fields['timestamp']}\n{fields['nonce_str']}\n"
        f"{json.dumps(kwargs['json'])}\n"
    )
    rsa_sha256_verify(platform.merchant_key.public_key(), message, fields["signature"])


def test_description_is_cut_to_127_utf8_bytes(
    gateway: WechatGateway, platform: WechatPlatform, http: RecordingHttp
) -> None:
    http.answers.append(platform.answer(200, {"code_url": "weixin://x"}, at=NOW))
    gateway.create_checkout(checkout_request(description="物业费" * 30))
    sent = http.calls[0][2]["json"]["description"]
    assert len(sent.encode()) <= 127
    assert sent == ("物业费" * 30)[:42]


def test_refused_order_raises_checkout_failed(
    gateway: WechatGateway, platform: WechatPlatform, http: RecordingHttp
) -> None:
    http.answers.append(
        platform.answer(400, {"code": "PARAM_ERROR", "message": "notify_url格式错误"}, at=NOW)
    )
    with pytest.raises(CheckoutFailed, match="notify_url格式错误"):
        gateway.create_checkout(checkout_request())


def test_unverifiable_answer_raises_checkout_failed(
    gateway: WechatGateway, platform: WechatPlatform, http: RecordingHttp
) -> None:
    answer = platform.answer(200, {"code_url": "weixin://forged"}, at=NOW)
    answer.text = json.dumps({"code_url": "weixin://changed"})
    http.answers.append(answer)
    with pytest.raises(CheckoutFailed, match="failed to verify"):
        gateway.create_checkout(checkout_request())


def test_network_error_raises_checkout_failed(gateway: WechatGateway, http: RecordingHttp) -> None:
    http.answers.append(requests.ConnectionError("connection refused"))
    with pytest.raises(CheckoutFailed, match="connection refused"):
        gateway.create_checkout(checkout_request())


@pytest.mark.parametrize(
    "overrides",
    [{"out_trade_no": "short"}, {"out_trade_no": "PI*2026/11"}, {"amount_fen": 0}],
)
def test_bad_checkout_request_is_refused_before_calling(
    gateway: WechatGateway, http: RecordingHttp, overrides: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"out_trade_no|amount"):
        gateway.create_checkout(checkout_request(**overrides))
    assert http.calls == []


# -- phones: H5 and JSAPI ------------------------------------------------------------------------

H5_URL = "https://api.mch.weixin.qq.com/v3/pay/transactions/h5"
JSAPI_URL = "https://api.mch.weixin.qq.com/v3/pay/transactions/jsapi"
PAYER_OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def verify_authorization(platform: WechatPlatform, path: str, kwargs: dict[str, Any]) -> None:
    """The request is signed with the merchant key, as WeChat checks it."""
    scheme, _, params = kwargs["headers"]["Authorization"].partition(" ")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    assert fields["mchid"] == WECHAT_MCHID
    message = (
        f"POST\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n"
        f"{json.dumps(kwargs['json'])}\n"
    )
    rsa_sha256_verify(platform.merchant_key.public_key(), message, fields["signature"])


def test_phone_browser_gets_h5_pay_with_a_way_back(
    gateway: WechatGateway, platform: WechatPlatform, http: RecordingHttp
) -> None:
    h5_url = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016&package=1"
    http.answers.append(platform.answer(200, {"h5_url": h5_url}, at=NOW))

    checkout = gateway.create_checkout(
        checkout_request(scene=Scene.MOBILE, client_ip="203.0.113.7")
    )

    assert checkout.qr_code is None
    assert checkout.jsapi is None
    assert checkout.pay_url == (
        h5_url + "&redirect_url=https%3A%2F%2Fpay.example.cn%2Fpayments%2FPI20261123000123"
    )
    [(method, url, kwargs)] = http.calls
    assert (method, url) == ("POST", H5_URL)
    assert kwargs["json"]["scene_info"] == {
        "payer_client_ip": "203.0.113.7",
        "h5_info": {"type": "Wap"},
    }
    assert kwargs["json"]["amount"] == {"total": 123456, "currency": "CNY"}
    assert kwargs["json"]["notify_url"] == "https://pay.example.cn/payments/notify/wechat"
    verify_authorization(platform, "/v3/pay/transactions/h5", kwargs)


def test_wechat_browser_with_openid_gets_signed_jsapi_bridge_params(
    gateway: WechatGateway,
    platform: WechatPlatform,
    http: RecordingHttp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gateway, "_clock", lambda: NOW)
    prepay_id = "wx201410272009395522657a690389285100"
    http.answers.append(platform.answer(200, {"prepay_id": prepay_id}, at=NOW))

    checkout = gateway.create_checkout(
        checkout_request(scene=Scene.WECHAT, openid=PAYER_OPENID, client_ip="203.0.113.7")
    )

    [(method, url, kwargs)] = http.calls
    assert (method, url) == ("POST", JSAPI_URL)
    assert kwargs["json"]["payer"] == {"openid": PAYER_OPENID}
    assert kwargs["json"]["appid"] == WECHAT_APPID
    assert "scene_info" not in kwargs["json"]
    verify_authorization(platform, "/v3/pay/transactions/jsapi", kwargs)
    assert checkout.pay_url is None
    assert checkout.qr_code is None
    params = dict(checkout.jsapi or {})
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == WECHAT_APPID
    assert params["timeStamp"] == str(int(NOW.timestamp()))
    assert params["package"] == f"prepay_id={prepay_id}"
    assert params["signType"] == "RSA"
    assert 1 <= len(params["nonceStr"]) <= 32
    # paySign: RSA-SHA256 with the merchant key over appId, timeStamp, nonceStr, package,
    # each followed by a newline — what WeixinJSBridge hands WeChat to check.
    message = (
        f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    )
    rsa_sha256_verify(platform.merchant_key.public_key(), message, params["paySign"])
    with pytest.raises(InvalidSignature):
        rsa_sha256_verify(
            platform.merchant_key.public_key(),
            message.replace(prepay_id, "wx0000"),
            params["paySign"],
        )


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"scene": Scene.WECHAT, "openid": None}, "openid"),
        ({"scene": Scene.WECHAT, "openid": "bad openid!"}, "openid"),
        ({"scene": Scene.MOBILE, "client_ip": ""}, "IP"),
    ],
)
def test_phone_checkout_without_what_it_needs_is_refused_before_calling(
    gateway: WechatGateway, http: RecordingHttp, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        gateway.create_checkout(checkout_request(**overrides))
    assert http.calls == []


@pytest.mark.parametrize(
    ("scene", "answer"),
    [(Scene.MOBILE, {"code_url": "weixin://x"}), (Scene.WECHAT, {"h5_url": "https://x"})],
)
def test_answer_without_the_phone_checkout_raises_checkout_failed(
    gateway: WechatGateway,
    platform: WechatPlatform,
    http: RecordingHttp,
    scene: Scene,
    answer: dict[str, str],
) -> None:
    http.answers.append(platform.answer(200, answer, at=NOW))
    with pytest.raises(CheckoutFailed, match="refused"):
        gateway.create_checkout(
            checkout_request(scene=scene, openid=PAYER_OPENID, client_ip="203.0.113.7")
        )


def test_h5_not_enabled_for_the_merchant_raises_checkout_failed(
    gateway: WechatGateway, platform: WechatPlatform, http: RecordingHttp
) -> None:
    http.answers.append(
        platform.answer(403, {"code": "NO_AUTH", "message": "商户号该产品权限未开通"}, at=NOW)
    )
    with pytest.raises(CheckoutFailed, match="权限未开通"):
        gateway.create_checkout(checkout_request(scene=Scene.MOBILE, client_ip="203.0.113.7"))


# -- answers and configuration ------------------------------------------------------------------


def test_ack_follows_apiv3(gateway: WechatGateway) -> None:
    ok = gateway.ack(True)
    assert (ok.status, ok.body) == (204, "")
    refused = gateway.ack(False, "验签失败")
    assert refused.status == 400
    assert refused.content_type == "application/json"
    assert json.loads(refused.body) == {"code": "FAIL", "message": "验签失败"}
    assert json.loads(gateway.ack(False).body)["message"] == "失败"


def test_absent_settings_mean_no_gateway() -> None:
    assert WechatGateway.from_settings({}) is None
    assert WechatGateway.from_settings({"WECHATPAY_MCHID": "", "OTHER": "x"}) is None


def test_partial_settings_are_a_configuration_error(platform: WechatPlatform) -> None:
    settings = {**platform.settings, "WECHATPAY_PUBLIC_KEY_ID": ""}
    with pytest.raises(GatewayConfigError, match="WECHATPAY_PUBLIC_KEY_ID"):
        WechatGateway.from_settings(settings)


def test_missing_or_bad_key_file_is_a_key_file_error(
    platform: WechatPlatform, tmp_path: Path
) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        WechatGateway.from_settings(
            {**platform.settings, "WECHATPAY_PRIVATE_KEY": str(tmp_path / "nope.pem")}
        )
    (tmp_path / "junk.pem").write_text("-----BEGIN PRIVATE KEY-----\njunk\n")
    with pytest.raises(KeyFileError):
        WechatGateway.from_settings(
            {**platform.settings, "WECHATPAY_PRIVATE_KEY": str(tmp_path / "junk.pem")}
        )


def test_apiv3_key_must_be_32_bytes(platform: WechatPlatform) -> None:
    with pytest.raises(GatewayConfigError, match="32 bytes"):
        WechatGateway.from_settings({**platform.settings, "WECHATPAY_APIV3_KEY": "short"})
    assert len(WECHAT_APIV3_KEY) == 32
