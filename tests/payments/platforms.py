"""Offline stand-ins for WeChat Pay and Alipay: their keys, and messages made as they make them.

Written from the platforms' documented algorithms with `cryptography` only (never with the SDK
under test), so a test that passes shows the SDK and our checks agree with the platform.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

WECHAT_MCHID = "1900000109"
WECHAT_APPID = "wxd678efh567hg6787"
WECHAT_APIV3_KEY = "Kq3vZ8mN2pR5tW7yB1dF4hJ6kL9oQ0sA"  # 32 bytes
WECHAT_CERT_SERIAL = "444F4864EA9B34415B5C2D6E7F8A9B0C1D2E3F40"
WECHAT_PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092026112300000000000001"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"

ALIPAY_APP_ID = "2021000117600001"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey, fmt: Any = serialization.PrivateFormat.PKCS8) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def bare_base64(pem: bytes) -> bytes:
    """What Alipay's key tool hands out: the PEM body on one line, no armour."""
    lines = pem.decode().strip().splitlines()
    return "".join(lines[1:-1]).encode()


def rsa_sha256_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    signature = key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa_sha256_verify(public_key: rsa.RSAPublicKey, message: str, signature: str) -> None:
    """Raises cryptography's InvalidSignature when it does not verify."""
    public_key.verify(
        base64.b64decode(signature), message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
    )


# -- WeChat Pay ---------------------------------------------------------------------------------


@dataclass
class FakeResponse:
    """Just what wechatpayv3.core.Core.request reads from a `requests` response."""

    status_code: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def content(self) -> bytes:
        return self.text.encode("utf-8")


@dataclass
class WechatPlatform:
    merchant_key: rsa.RSAPrivateKey  # ours: signs requests
    platform_key: rsa.RSAPrivateKey  # WeChat's: signs answers and callbacks
    settings: dict[str, str]

    def sign_headers(
        self,
        body: str,
        *,
        at: datetime,
        serial: str = WECHAT_PUBLIC_KEY_ID,
        key: rsa.RSAPrivateKey | None = None,
    ) -> dict[str, str]:
        """Wechatpay-* headers: RSA-SHA256 over "timestamp\\nnonce\\nbody\\n", base64."""
        timestamp = str(int(at.timestamp()))
        nonce = secrets.token_hex(16)
        signature = rsa_sha256_sign(key or self.platform_key, f"{timestamp}\n{nonce}\n{body}\n")
        return {
            "Wechatpay-Signature": signature,
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        }

    def notification_body(
        self,
        resource: dict[str, Any] | str,
        *,
        apiv3_key: str = WECHAT_APIV3_KEY,
        associated_data: str = "transaction",
        event_type: str = "TRANSACTION.SUCCESS",
        resource_type: str = "encrypt-resource",
    ) -> str:
        """The callback JSON, its resource AES-256-GCM encrypted with the APIv3 key."""
        plaintext = resource if isinstance(resource, str) else json.dumps(resource)
        nonce = secrets.token_hex(6)  # 12 characters, used as 12 bytes
        ciphertext = AESGCM(apiv3_key.encode()).encrypt(
            nonce.encode(), plaintext.encode("utf-8"), associated_data.encode()
        )
        envelope = {
            "id": "EV-2018022511223320873",
            "create_time": "2026-11-23T19:59:31+08:00",
            "resource_type": resource_type,
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": associated_data,
                "nonce": nonce,
            },
        }
        return json.dumps(envelope, ensure_ascii=False)

    def notification(
        self, resource: dict[str, Any] | str, *, at: datetime, **kwargs: Any
    ) -> tuple[dict[str, str], bytes]:
        body = self.notification_body(resource)
        return self.sign_headers(body, at=at, **kwargs), body.encode("utf-8")

    def answer(self, status: int, payload: dict[str, Any], *, at: datetime) -> FakeResponse:
        """A signed API answer, as api.mch.weixin.qq.com gives one in public-key mode."""
        text = json.dumps(payload)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        headers.update(self.sign_headers(text, at=at))
        return FakeResponse(status_code=status, text=text, headers=headers)


def wechat_transaction(**overrides: Any) -> dict[str, Any]:
    """A decrypted payment-success resource, as documented for Native payment."""
    resource: dict[str, Any] = {
        "mchid": WECHAT_MCHID,
        "appid": WECHAT_APPID,
        "out_trade_no": "PI20261123000123",
        "transaction_id": "4200002026112312345678901234",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": "2026-11-23T19:59:30+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": 123456, "payer_total": 123456, "currency": "CNY"},
    }
    resource.update(overrides)
    return resource


def wechat_platform(directory: Path) -> WechatPlatform:
    merchant, platform = new_key(), new_key()
    (directory / "apiclient_key.pem").write_bytes(private_pem(merchant))
    (directory / "pub_key.pem").write_bytes(public_pem(platform))
    settings = {
        "WECHATPAY_MCHID": WECHAT_MCHID,
        "WECHATPAY_APPID": WECHAT_APPID,
        "WECHATPAY_APIV3_KEY": WECHAT_APIV3_KEY,
        "WECHATPAY_PRIVATE_KEY": str(directory / "apiclient_key.pem"),
        "WECHATPAY_CERT_SERIAL": WECHAT_CERT_SERIAL,
        "WECHATPAY_PUBLIC_KEY": str(directory / "pub_key.pem"),
        "WECHATPAY_PUBLIC_KEY_ID": WECHAT_PUBLIC_KEY_ID,
    }
    return WechatPlatform(merchant_key=merchant, platform_key=platform, settings=settings)


# -- Alipay -------------------------------------------------------------------------------------


def alipay_sign_content(params: dict[str, str], *, exclude: tuple[str, ...]) -> str:
    """Sorted `k=v` joined by `&`, without the excluded keys, values not URL-encoded."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in exclude)


@dataclass
class AlipayPlatform:
    app_key: rsa.RSAPrivateKey  # ours: signs requests
    alipay_key: rsa.RSAPrivateKey  # Alipay's: signs notifications
    settings: dict[str, str]

    def notification(
        self, params: dict[str, str], *, key: rsa.RSAPrivateKey | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Form-encoded async notification; sign and sign_type are not signed (RSA2)."""
        content = alipay_sign_content(params, exclude=("sign", "sign_type"))
        signed = {**params, "sign_type": "RSA2"}
        signed["sign"] = rsa_sha256_sign(key or self.alipay_key, content)
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        return headers, urlencode(signed).encode("utf-8")


def alipay_trade(**overrides: str) -> dict[str, str]:
    """An async notification's fields for a paid page-pay order (before signing)."""
    params = {
        "gmt_create": "2026-11-23 19:58:02",
        "charset": "utf-8",
        "gmt_payment": "2026-11-23 19:59:30",
        "notify_time": "2026-11-23 19:59:31",
        "subject": "明账花园 A-3-1202 物业费 2026-11",
        "buyer_id": "2088102177846880",
        "invoice_amount": "1234.56",
        "version": "1.0",
        "notify_id": "2026112300222195930023541416958621",
        "fund_bill_list": '[{"amount":"1234.56","fundChannel":"ALIPAYACCOUNT"}]',
        "notify_type": "trade_status_sync",
        "out_trade_no": "PI20261123000123",
        "total_amount": "1234.56",
        "trade_status": "TRADE_SUCCESS",
        "trade_no": "2026112322001446880500000001",
        "auth_app_id": ALIPAY_APP_ID,
        "receipt_amount": "1234.56",
        "point_amount": "0.00",
        "buyer_pay_amount": "1234.56",
        "app_id": ALIPAY_APP_ID,
        "seller_id": "2088102177649450",
    }
    params.update(overrides)
    return params


def alipay_platform(directory: Path, *, armoured: bool = False) -> AlipayPlatform:
    """Keys as Alipay's key tool gives them (bare base64, PKCS#1 app key) unless armoured."""
    app, alipay = new_key(), new_key()
    app_pem = private_pem(app, serialization.PrivateFormat.TraditionalOpenSSL)
    alipay_pub = public_pem(alipay)
    (directory / "app_private_key.txt").write_bytes(app_pem if armoured else bare_base64(app_pem))
    (directory / "alipay_public_key.txt").write_bytes(
        alipay_pub if armoured else bare_base64(alipay_pub)
    )
    settings = {
        "ALIPAY_APP_ID": ALIPAY_APP_ID,
        "ALIPAY_APP_PRIVATE_KEY": str(directory / "app_private_key.txt"),
        "ALIPAY_PUBLIC_KEY": str(directory / "alipay_public_key.txt"),
    }
    return AlipayPlatform(app_key=app, alipay_key=alipay, settings=settings)
