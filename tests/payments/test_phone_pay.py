"""Paying on a phone: WeChat H5 and JSAPI, Alipay wap pay, chosen from the user agent, through
the real gateways against offline stand-ins for the platforms (signed requests, no network)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import wechatpayv3.core
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.payments.models import PaymentIntent
from portal.timeutil import now_utc
from tests import factories
from tests.payments.platforms import (
    AlipayPlatform,
    WechatPlatform,
    alipay_platform,
    rsa_sha256_verify,
    wechat_platform,
)
from tests.payments.test_gateway_wechat import RecordingHttp

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323d) NetType/WIFI"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.fixture(scope="module")
def wechat(tmp_path_factory: pytest.TempPathFactory) -> WechatPlatform:
    return wechat_platform(tmp_path_factory.mktemp("wechat"))


@pytest.fixture(scope="module")
def alipay(tmp_path_factory: pytest.TempPathFactory) -> AlipayPlatform:
    return alipay_platform(tmp_path_factory.mktemp("alipay"))


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingHttp]:
    recorder = RecordingHttp()
    monkeypatch.setattr(wechatpayv3.core, "requests", recorder)
    yield recorder
    assert recorder.answers == []  # every queued platform answer was asked for


@pytest.fixture
def platforms(app: Flask, wechat: WechatPlatform, alipay: AlipayPlatform) -> Iterator[None]:
    saved = dict(app.config)
    app.config.update({**wechat.settings, **alipay.settings})
    yield
    app.config.clear()
    app.config.update(saved)


def _owner(session: Session, login_as: Any, openid: str | None = None) -> tuple[Any, list[Any]]:
    unit, bills = factories.make_billed_unit(session, periods=("2026-09", "2026-10"))
    owner = login_as("owner", unit=unit)
    owner.wechat_openid = openid  # bound through the official account (notify settings)
    session.commit()
    return owner, bills


def _pay(client: FlaskClient, bill: Any, channel: str, agent: str, key: str) -> Any:
    return client.post(
        "/pay",
        data={"bill_ids": [bill.id], "channel": channel, "idempotency_key": key},
        headers={"User-Agent": agent},
    )


@pytest.mark.usefixtures("platforms")
def test_phone_browser_pays_with_wechat_h5_and_comes_back_to_its_intent(
    client: FlaskClient, login_as: Any, session: Session, wechat: WechatPlatform, http: Any
) -> None:
    _, bills = _owner(session, login_as)
    page = client.get(f"/pay?bill_ids={bills[0].id}", headers={"User-Agent": IPHONE})
    html = page.get_data(as_text=True)
    assert "微信支付" in html
    assert "手机扫码" not in html  # no QR code to scan with the phone that shows it
    h5_url = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx20&package=1"
    http.answers.append(wechat.answer(200, {"h5_url": h5_url}, at=now_utc()))

    response = _pay(client, bills[0], "wechat", IPHONE, "h5-1")

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(h5_url + "&redirect_url=")
    intent = session.scalar(select(PaymentIntent))
    back = dict(parse_qsl(urlsplit(location).query))["redirect_url"]
    assert back == f"http://localhost/payments/return?out_trade_no={intent.out_trade_no}"
    [(_, url, kwargs)] = http.calls
    assert url.endswith("/v3/pay/transactions/h5")
    assert kwargs["json"]["scene_info"]["payer_client_ip"] == "127.0.0.1"
    assert kwargs["json"]["out_trade_no"] == intent.out_trade_no
    assert kwargs["json"]["amount"]["total"] == intent.amount_fen
    assert intent.channel == "wechat"  # one callback for every kind of WeChat checkout
    # Coming back from WeChat: the intent's own page.
    returned = client.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert returned.headers["Location"].endswith(f"/payments/{intent.id}")


@pytest.mark.usefixtures("platforms")
def test_phone_browser_pays_with_alipay_wap(
    client: FlaskClient, login_as: Any, session: Session, alipay: AlipayPlatform, http: Any
) -> None:
    _, bills = _owner(session, login_as)
    response = _pay(client, bills[0], "alipay", IPHONE, "wap-1")
    assert response.status_code == 302
    params = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
    assert params["method"] == "alipay.trade.wap.pay"
    biz = json.loads(params["biz_content"])
    intent = session.scalar(select(PaymentIntent))
    assert biz["out_trade_no"] == intent.out_trade_no
    assert biz["product_code"] == "QUICK_WAP_WAY"
    assert params["return_url"].endswith(f"/payments/return?out_trade_no={intent.out_trade_no}")
    content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign")
    rsa_sha256_verify(alipay.app_key.public_key(), content, params["sign"])
    assert http.calls == []  # Alipay's checkout is a signed URL: no call at all


@pytest.mark.usefixtures("platforms")
def test_computer_keeps_the_qr_code_and_page_pay(
    client: FlaskClient, login_as: Any, session: Session, wechat: WechatPlatform, http: Any
) -> None:
    _, bills = _owner(session, login_as)
    html = client.get(f"/pay?bill_ids={bills[0].id}", headers={"User-Agent": DESKTOP})
    assert "微信支付（手机扫码）" in html.get_data(as_text=True)
    http.answers.append(
        wechat.answer(200, {"code_url": "weixin://wxpay/bizpayurl?pr=1"}, at=now_utc())
    )
    response = _pay(client, bills[0], "wechat", DESKTOP, "pc-1")
    assert http.calls[0][1].endswith("/v3/pay/transactions/native")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "微信扫一扫" in page
    alipay = _pay(client, bills[1], "alipay", DESKTOP, "pc-2")
    assert dict(parse_qsl(urlsplit(alipay.headers["Location"]).query))["method"] == (
        "alipay.trade.page.pay"
    )


@pytest.mark.usefixtures("platforms")
def test_wechat_browser_with_openid_opens_the_jsapi_sheet(
    client: FlaskClient, login_as: Any, session: Session, wechat: WechatPlatform, http: Any
) -> None:
    _, bills = _owner(session, login_as, openid=OPENID)
    prepay_id = "wx201410272009395522657a690389285100"
    http.answers.append(wechat.answer(200, {"prepay_id": prepay_id}, at=now_utc()))

    response = _pay(client, bills[0], "wechat", WECHAT, "js-1")

    intent = session.scalar(select(PaymentIntent))
    assert response.headers["Location"].endswith(f"/payments/{intent.id}?go=1")
    [(_, url, kwargs)] = http.calls
    assert url.endswith("/v3/pay/transactions/jsapi")
    assert kwargs["json"]["payer"] == {"openid": OPENID}
    page = client.get(f"/payments/{intent.id}?go=1").get_data(as_text=True)
    assert 'src="/static/js/wechat_pay.js"' in page
    block = re.search(r'<script type="application/json" id="wechat-jsapi">(.*?)</script>', page)
    assert block is not None
    params = json.loads(block.group(1))
    assert params["package"] == f"prepay_id={prepay_id}"
    message = "".join(f"{params[k]}\n" for k in ("appId", "timeStamp", "nonceStr", "package"))
    rsa_sha256_verify(wechat.merchant_key.public_key(), message, params["paySign"])
    assert 'id="wechat-pay"' in page
    assert "微信扫一扫" not in page


@pytest.mark.usefixtures("platforms")
def test_wechat_browser_without_openid_explains_and_writes_nothing(
    client: FlaskClient, login_as: Any, session: Session, http: Any
) -> None:
    _, bills = _owner(session, login_as)
    page = client.get(f"/pay?bill_ids={bills[0].id}", headers={"User-Agent": WECHAT})
    html = page.get_data(as_text=True)
    assert 'value="wechat"' not in html
    assert "需要先绑定您的微信" in html
    assert 'value="alipay"' in html
    refused = _pay(client, bills[0], "wechat", WECHAT, "js-2")
    assert refused.status_code == 200
    assert session.scalar(select(func.count(PaymentIntent.id))) == 0
    assert http.calls == []


def test_return_of_another_owners_trade_goes_to_my_bills(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    _, other_bills = _owner(session, login_as)
    client.post(
        "/pay",
        data={"bill_ids": [other_bills[0].id], "channel": "sandbox", "idempotency_key": "o1"},
    )
    intent = session.scalar(select(PaymentIntent))
    client.post("/logout")
    _owner(session, login_as)
    response = client.get(f"/payments/return?out_trade_no={intent.out_trade_no}")
    assert response.headers["Location"].endswith("/bills")
    assert client.get("/payments/return").headers["Location"].endswith("/bills")


@pytest.mark.usefixtures("platforms")
def test_api_in_wechat_needs_the_openid_then_answers_jsapi_params(
    client: FlaskClient, session: Session, wechat: WechatPlatform, http: Any
) -> None:
    unit, bills = factories.make_billed_unit(session, periods=("2026-09",))
    owner = factories.make_user(session, role="owner", unit=unit)
    session.commit()
    token = client.post(
        "/api/v1/auth/token", json={"username": owner.username, "password": factories.PASSWORD}
    ).json["token"]
    response = client.post(
        "/api/v1/payments",
        json={"bill_ids": [bills[0].id], "channel": "wechat", "idempotency_key": "api-1"},
        headers={"Authorization": f"Bearer {token}", "User-Agent": WECHAT},
    )
    assert response.status_code == 422
    assert response.json["error"]["code"] == "openid_required"
    assert session.scalar(select(func.count(PaymentIntent.id))) == 0
    owner.wechat_openid = OPENID
    session.commit()
    http.answers.append(wechat.answer(200, {"prepay_id": "wx2026"}, at=now_utc()))
    response = client.post(
        "/api/v1/payments",
        json={"bill_ids": [bills[0].id], "channel": "wechat", "idempotency_key": "api-2"},
        headers={"Authorization": f"Bearer {token}", "User-Agent": WECHAT},
    )
    assert response.status_code == 201
    assert response.json["pay_url"] is None
    assert response.json["jsapi"]["package"] == "prepay_id=wx2026"


def test_sandbox_works_the_same_on_a_phone(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    _, bills = _owner(session, login_as)
    response = _pay(client, bills[0], "sandbox", IPHONE, "sbx-1")
    intent = session.scalar(select(PaymentIntent))
    assert response.headers["Location"] == f"/payments/sandbox/{intent.out_trade_no}"
    done = client.post(
        f"/payments/sandbox/{intent.out_trade_no}",
        data={"outcome": "success"},
        headers={"User-Agent": IPHONE},
    )
    assert done.headers["Location"].endswith(f"/payments/{intent.id}")
    session.expire_all()
    assert session.get(PaymentIntent, intent.id).status == "succeeded"
