"""Alipay page pay through python-alipay-sdk, against an offline stand-in for the platform."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import alipay
import pytest
from cryptography.exceptions import InvalidSignature

from portal.payments.gateways.alipay import AlipayGateway
from portal.payments.gateways.base import (
    BadNotification,
    CheckoutRequest,
    NotificationStatus,
    Scene,
)
from portal.payments.gateways.keys import GatewayConfigError, KeyFileError
from tests.payments.platforms import (
    ALIPAY_APP_ID,
    AlipayPlatform,
    alipay_platform,
    alipay_sign_content,
    alipay_trade,
    new_key,
    rsa_sha256_verify,
)

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)  # 20:00 in Beijing
PRODUCTION = "https://openapi.alipay.com/gateway.do"
SANDBOX = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> AlipayPlatform:
    return alipay_platform(tmp_path_factory.mktemp("alipay"))


@pytest.fixture
def gateway(platform: AlipayPlatform) -> AlipayGateway:
    built = AlipayGateway.from_settings(platform.settings)
    assert built is not None
    return built


def parse(
    gateway: AlipayGateway, message: tuple[dict[str, str], bytes], now: datetime = NOW
) -> Any:
    headers, body = message
    return gateway.parse_notification(headers=headers, body=body, now=now)


# -- genuine notifications ----------------------------------------------------------------------


def test_genuine_notification_is_verified_by_the_sdk_and_decoded(
    gateway: AlipayGateway, platform: AlipayPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: list[dict[str, str]] = []
    real_verify = alipay.AliPay.verify

    def spy(self: Any, data: dict[str, str], signature: str) -> bool:
        given.append(dict(data))
        return real_verify(self, data, signature)

    monkeypatch.setattr(alipay.AliPay, "verify", spy)

    note = parse(gateway, platform.notification(alipay_trade()))

    assert len(given) == 1  # the SDK checked the signature …
    assert "sign" not in given[0]  # … over the fields without sign and sign_type
    assert "sign_type" not in given[0]
    assert note.out_trade_no == "PI20261123000123"
    assert note.txn_id == "2026112322001446880500000001"
    assert note.amount_fen == 123456
    assert note.status is NotificationStatus.SUCCESS
    assert note.paid_at == datetime(2026, 11, 23, 11, 59, 30, tzinfo=UTC)
    assert note.raw["notify_id"] == "2026112300222195930023541416958621"
    assert "sign" not in note.raw


@pytest.mark.parametrize(
    ("trade_status", "status"),
    [
        ("TRADE_SUCCESS", NotificationStatus.SUCCESS),
        ("TRADE_FINISHED", NotificationStatus.SUCCESS),
        ("TRADE_CLOSED", NotificationStatus.FAILED),
        ("WAIT_BUYER_PAY", NotificationStatus.PENDING),
    ],
)
def test_trade_statuses_map_to_statuses(
    gateway: AlipayGateway, platform: AlipayPlatform, trade_status: str, status: NotificationStatus
) -> None:
    params = alipay_trade(trade_status=trade_status)
    if trade_status in ("TRADE_CLOSED", "WAIT_BUYER_PAY"):
        del params["gmt_payment"]
    note = parse(gateway, platform.notification(params))
    assert note.status is status
    assert (note.paid_at is None) == (trade_status in ("TRADE_CLOSED", "WAIT_BUYER_PAY"))


def test_blank_optional_fields_are_signed_too(
    gateway: AlipayGateway, platform: AlipayPlatform
) -> None:
    note = parse(gateway, platform.notification(alipay_trade(body="", passback_params="")))
    assert note.raw["body"] == ""


def test_sdk_verify_mutates_its_argument_so_we_pass_a_copy(
    gateway: AlipayGateway, platform: AlipayPlatform
) -> None:
    """The trap: AliPay.verify() pops sign_type from the dict it gets, and signs over `sign`
    too if it is left in."""
    _, body = platform.notification(alipay_trade())
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    with_sign = dict(params)
    with_sign.pop("sign_type")
    assert gateway._client.verify(with_sign, params["sign"]) is False
    without = {k: v for k, v in params.items() if k != "sign"}
    assert gateway._client.verify(without, params["sign"]) is True
    assert "sign_type" not in without  # popped by the SDK


def test_notification_inside_the_retry_window_is_accepted(
    gateway: AlipayGateway, platform: AlipayPlatform
) -> None:
    """Alipay resends for up to 24 h 22 min; 25 h after notify_time is still inside."""
    message = platform.notification(alipay_trade(notify_time="2026-11-22 19:00:00"))
    assert parse(gateway, message).txn_id
    assert parse(gateway, message).txn_id  # a replay inside the window verifies again


# -- refused notifications ----------------------------------------------------------------------


def test_signature_by_another_key_is_refused(
    gateway: AlipayGateway, platform: AlipayPlatform
) -> None:
    with pytest.raises(BadNotification, match="signature"):
        parse(gateway, platform.notification(alipay_trade(), key=new_key()))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total_amount", "0.01"),
        ("out_trade_no", "PI20261123000124"),
        ("trade_status", "TRADE_SUCCESS "),
        ("subject", "别的小区"),
    ],
)
def test_tampered_field_is_refused(
    gateway: AlipayGateway, platform: AlipayPlatform, field: str, value: str
) -> None:
    headers, body = platform.notification(alipay_trade())
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    params[field] = value
    with pytest.raises(BadNotification, match="signature"):
        parse(gateway, (headers, urlencode(params).encode()))


def test_added_field_is_refused(gateway: AlipayGateway, platform: AlipayPlatform) -> None:
    headers, body = platform.notification(alipay_trade())
    with pytest.raises(BadNotification, match="signature"):
        parse(gateway, (headers, body + b"&refund_fee=1234.56"))


def test_wrong_app_id_is_refused_although_signed(
    gateway: AlipayGateway, platform: AlipayPlatform
) -> None:
    message = platform.notification(alipay_trade(app_id="2021000117600002"))
    with pytest.raises(BadNotification, match="app_id"):
        parse(gateway, message)


@pytest.mark.parametrize(
    "amount", ["12.345", "abc", "-1.00", "NaN", "1e3", " ", "1,234.56", "¥12.00", "+1.00", "1."]
)
def test_malformed_amount_is_refused(
    gateway: AlipayGateway, platform: AlipayPlatform, amount: str
) -> None:
    with pytest.raises(BadNotification, match="total_amount"):
        parse(gateway, platform.notification(alipay_trade(total_amount=amount)))


@pytest.mark.parametrize(
    "field",
    ["notify_time", "app_id", "out_trade_no", "trade_no", "trade_status", "total_amount"],
)
def test_missing_field_is_refused(
    gateway: AlipayGateway, platform: AlipayPlatform, field: str
) -> None:
    params = alipay_trade()
    del params[field]
    with pytest.raises(BadNotification, match=f"missing field {field}"):
        parse(gateway, platform.notification(params))


@pytest.mark.parametrize("field", ["sign", "sign_type"])
def test_missing_signature_is_refused(
    gateway: AlipayGateway, platform: AlipayPlatform, field: str
) -> None:
    headers, body = platform.notification(alipay_trade())
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    del params[field]
    with pytest.raises(BadNotification, match=f"missing field {field}"):
        parse(gateway, (headers, urlencode(params).encode()))


def test_rsa1_sign_type_is_refused(gateway: AlipayGateway, platform: AlipayPlatform) -> None:
    headers, body = platform.notification(alipay_trade())
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    params["sign_type"] = "RSA"
    with pytest.raises(BadNotification, match="sign_type"):
        parse(gateway, (headers, urlencode(params).encode()))


@pytest.mark.parametrize("sign", ["not base64!", "AAAA", "=="])
def test_garbled_signature_is_refused(
    gateway: AlipayGateway, platform: AlipayPlatform, sign: str
) -> None:
    headers, body = platform.notification(alipay_trade())
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    params["sign"] = sign
    with pytest.raises(BadNotification, match="signature"):
        parse(gateway, (headers, urlencode(params).encode()))


@pytest.mark.parametrize(
    ("notify_time", "reason"),
    [
        ("2026-11-22 17:59:59", "stale"),  # 26 h and 1 s before NOW
        ("2026-10-01 10:00:00", "stale"),
        ("2026-11-23 20:05:01", "future"),  # 5 min 1 s after NOW
        ("2026/11/23 19:59:31", "notify_time"),
        ("1700000000", "notify_time"),
    ],
)
def test_stale_future_or_malformed_notify_time_is_refused(
    gateway: AlipayGateway, platform: AlipayPlatform, notify_time: str, reason: str
) -> None:
    with pytest.raises(BadNotification, match=reason):
        parse(gateway, platform.notification(alipay_trade(notify_time=notify_time)))


def test_replay_outside_the_window_is_refused(
    gateway: AlipayGateway, platform: AlipayPlatform
) -> None:
    message = platform.notification(alipay_trade())
    assert parse(gateway, message).txn_id
    with pytest.raises(BadNotification, match="stale"):
        parse(gateway, message, now=NOW + timedelta(hours=26))


def test_unknown_trade_status_is_refused(gateway: AlipayGateway, platform: AlipayPlatform) -> None:
    with pytest.raises(BadNotification, match="trade_status"):
        parse(gateway, platform.notification(alipay_trade(trade_status="TRADE_REFUNDED")))


def test_malformed_gmt_payment_is_refused(gateway: AlipayGateway, platform: AlipayPlatform) -> None:
    with pytest.raises(BadNotification, match="gmt_payment"):
        parse(gateway, platform.notification(alipay_trade(gmt_payment="yesterday")))


def test_other_charset_is_refused(gateway: AlipayGateway, platform: AlipayPlatform) -> None:
    with pytest.raises(BadNotification, match="charset"):
        parse(gateway, platform.notification(alipay_trade(charset="gbk")))


def test_duplicate_field_is_refused(gateway: AlipayGateway, platform: AlipayPlatform) -> None:
    headers, body = platform.notification(alipay_trade())
    with pytest.raises(BadNotification, match="duplicate"):
        parse(gateway, (headers, body + b"&total_amount=0.01"))


@pytest.mark.parametrize("body", ["总额=1".encode("gbk"), b"", b"a=1&&b", b"x" * 70000])
def test_undecodable_body_is_refused(gateway: AlipayGateway, body: bytes) -> None:
    with pytest.raises(BadNotification):
        gateway.parse_notification(headers={}, body=body, now=NOW)


def test_no_outbound_connection_while_parsing(
    gateway: AlipayGateway, platform: AlipayPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[Any] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket, "getaddrinfo", record)
    monkeypatch.setattr(socket.socket, "connect", record)
    monkeypatch.setattr(socket, "create_connection", record)
    assert parse(gateway, platform.notification(alipay_trade())).txn_id
    with pytest.raises(BadNotification):
        parse(gateway, platform.notification(alipay_trade(), key=new_key()))
    assert attempts == []


# -- checkout -----------------------------------------------------------------------------------


def checkout_request(**overrides: Any) -> CheckoutRequest:
    request = CheckoutRequest(
        out_trade_no="PI20261123000123",
        amount_fen=123456,
        description="明账花园 A-3-1202 物业费 2026-11",
        notify_url="https://pay.example.cn/payments/notify/alipay",
        return_url="https://pay.example.cn/payments/PI20261123000123",
        expires_at=NOW + timedelta(minutes=30),
    )
    return replace(request, **overrides)


def pay_url_params(url: str) -> dict[str, str]:
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True, strict_parsing=True)
    params = dict(pairs)
    assert len(params) == len(pairs)
    return params


def test_page_pay_url_is_signed_over_the_right_parameters(
    platform: AlipayPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = AlipayGateway.from_settings(platform.settings)
    assert gateway is not None
    monkeypatch.setattr(gateway, "_clock", lambda: NOW)

    checkout = gateway.create_checkout(checkout_request())

    assert checkout.qr_code is None
    assert checkout.pay_url is not None
    assert checkout.pay_url.startswith(PRODUCTION + "?")
    params = pay_url_params(checkout.pay_url)
    assert params["app_id"] == ALIPAY_APP_ID
    assert params["method"] == "alipay.trade.page.pay"
    assert params["charset"] == "utf-8"
    assert params["sign_type"] == "RSA2"
    assert params["version"] == "1.0"
    assert params["timestamp"] == "2026-11-23 20:00:00"  # Beijing time, whatever the server TZ
    assert params["notify_url"] == "https://pay.example.cn/payments/notify/alipay"
    assert params["return_url"] == "https://pay.example.cn/payments/PI20261123000123"
    assert json.loads(params["biz_content"]) == {
        "subject": "明账花园 A-3-1202 物业费 2026-11",
        "out_trade_no": "PI20261123000123",
        "total_amount": "1234.56",
        "product_code": "FAST_INSTANT_TRADE_PAY",
        "time_expire": "2026-11-23 20:30:00",
    }
    # Request signatures cover every parameter but `sign` (sign_type included), sorted,
    # RSA2 with the app key; checked with its public half, as Alipay would.
    content = alipay_sign_content(params, exclude=("sign",))
    rsa_sha256_verify(platform.app_key.public_key(), content, params["sign"])
    with pytest.raises(InvalidSignature):
        rsa_sha256_verify(
            platform.app_key.public_key(), content.replace("1234.56", "0.01"), params["sign"]
        )


@pytest.mark.parametrize(
    ("fen", "yuan"), [(1, "0.01"), (5, "0.05"), (100, "1.00"), (12030, "120.30")]
)
def test_page_pay_amount_is_yuan_with_two_decimals(
    gateway: AlipayGateway, fen: int, yuan: str
) -> None:
    url = gateway.create_checkout(checkout_request(amount_fen=fen)).pay_url
    assert url is not None
    assert json.loads(pay_url_params(url)["biz_content"])["total_amount"] == yuan


def test_sandbox_setting_uses_the_sandbox_gateway(platform: AlipayPlatform) -> None:
    for flag in ("1", "true", True):
        gateway = AlipayGateway.from_settings({**platform.settings, "ALIPAY_SANDBOX": flag})
        assert gateway is not None
        url = gateway.create_checkout(checkout_request()).pay_url
        assert url is not None
        assert url.startswith(SANDBOX + "?")
    gateway = AlipayGateway.from_settings({**platform.settings, "ALIPAY_SANDBOX": "0"})
    assert gateway is not None
    assert gateway.gateway_url == PRODUCTION


@pytest.mark.parametrize(
    "overrides", [{"out_trade_no": "PI/2026"}, {"out_trade_no": ""}, {"amount_fen": 0}]
)
def test_bad_checkout_request_is_refused(gateway: AlipayGateway, overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"out_trade_no|amount"):
        gateway.create_checkout(checkout_request(**overrides))


@pytest.mark.parametrize("scene", [Scene.MOBILE, Scene.WECHAT])
def test_phone_gets_wap_pay_signed_over_the_right_parameters(
    platform: AlipayPlatform, monkeypatch: pytest.MonkeyPatch, scene: Scene
) -> None:
    gateway = AlipayGateway.from_settings(platform.settings)
    assert gateway is not None
    monkeypatch.setattr(gateway, "_clock", lambda: NOW)

    checkout = gateway.create_checkout(checkout_request(scene=scene))

    assert checkout.qr_code is None
    assert checkout.jsapi is None
    assert checkout.pay_url is not None
    assert checkout.pay_url.startswith(PRODUCTION + "?")
    params = pay_url_params(checkout.pay_url)
    assert params["method"] == "alipay.trade.wap.pay"
    assert params["app_id"] == ALIPAY_APP_ID
    assert params["sign_type"] == "RSA2"
    assert params["timestamp"] == "2026-11-23 20:00:00"
    assert params["notify_url"] == "https://pay.example.cn/payments/notify/alipay"
    assert params["return_url"] == "https://pay.example.cn/payments/PI20261123000123"
    assert json.loads(params["biz_content"]) == {
        "subject": "明账花园 A-3-1202 物业费 2026-11",
        "out_trade_no": "PI20261123000123",
        "total_amount": "1234.56",
        "product_code": "QUICK_WAP_WAY",
        "time_expire": "2026-11-23 20:30:00",
        "quit_url": "https://pay.example.cn/payments/PI20261123000123",
    }
    content = alipay_sign_content(params, exclude=("sign",))
    rsa_sha256_verify(platform.app_key.public_key(), content, params["sign"])
    with pytest.raises(InvalidSignature):
        rsa_sha256_verify(
            platform.app_key.public_key(),
            content.replace("alipay.trade.wap.pay", "alipay.trade.page.pay"),
            params["sign"],
        )


def test_a_computer_still_gets_page_pay(gateway: AlipayGateway) -> None:
    url = gateway.create_checkout(checkout_request(scene=Scene.DESKTOP)).pay_url
    assert url is not None
    assert pay_url_params(url)["method"] == "alipay.trade.page.pay"


# -- answers and configuration ------------------------------------------------------------------


def test_ack_is_the_exact_text_alipay_expects(gateway: AlipayGateway) -> None:
    ok = gateway.ack(True)
    assert (ok.status, ok.body, ok.content_type) == (200, "success", "text/plain")
    refused = gateway.ack(False, "bad signature")
    assert refused.status == 400
    assert refused.body == "fail"


def test_armoured_pem_keys_work_too(tmp_path: Path) -> None:
    armoured = alipay_platform(tmp_path, armoured=True)
    gateway = AlipayGateway.from_settings(armoured.settings)
    assert gateway is not None
    assert parse(gateway, armoured.notification(alipay_trade())).amount_fen == 123456


def test_absent_partial_and_broken_settings(platform: AlipayPlatform, tmp_path: Path) -> None:
    assert AlipayGateway.from_settings({}) is None
    assert AlipayGateway.from_settings({"ALIPAY_SANDBOX": "1"}) is None
    with pytest.raises(GatewayConfigError, match="ALIPAY_PUBLIC_KEY"):
        AlipayGateway.from_settings({**platform.settings, "ALIPAY_PUBLIC_KEY": ""})
    with pytest.raises(KeyFileError, match="cannot read"):
        AlipayGateway.from_settings(
            {**platform.settings, "ALIPAY_PUBLIC_KEY": str(tmp_path / "missing.txt")}
        )
    (tmp_path / "junk.txt").write_text("这不是密钥")
    with pytest.raises(KeyFileError):
        AlipayGateway.from_settings(
            {**platform.settings, "ALIPAY_APP_PRIVATE_KEY": str(tmp_path / "junk.txt")}
        )
    # A public key where the private key belongs.
    with pytest.raises(KeyFileError):
        AlipayGateway.from_settings(
            {**platform.settings, "ALIPAY_APP_PRIVATE_KEY": platform.settings["ALIPAY_PUBLIC_KEY"]}
        )
