"""The interface every online payment gateway implements.

Gateways are pure adapters: they build a checkout for an intent and turn a platform's
callback into a verified `Notification`. They never touch the database; the payments
service decides (with a compare-and-set in SQL) whether a notification credits anything.
A gateway must never make an outbound network call while handling a callback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class NotificationStatus(StrEnum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"  # closed, revoked, payment error: the intent may be retried
    PENDING = "PENDING"  # e.g. USERPAYING / WAIT_BUYER_PAY: nothing to do yet


class BadNotification(Exception):
    """The callback is not authentic or not acceptable (bad signature, stale, wrong app)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Scene(StrEnum):
    """Where the payer is, which decides the kind of checkout a platform offers."""

    DESKTOP = "desktop"  # a computer: WeChat Native (QR code to scan), Alipay page pay
    MOBILE = "mobile"  # a phone's browser: WeChat H5, Alipay wap pay
    WECHAT = "wechat"  # WeChat's own browser: JSAPI (needs the payer's openid)


# Phones and tablets say so in their user agent; iPadOS Safari passes for a Mac and gets the
# desktop checkout, whose QR code a second device can still scan.
MOBILE_MARKERS = (
    "Mobile",
    "Android",
    "iPhone",
    "iPod",
    "iPad",
    "HarmonyOS",
    "OpenHarmony",
    "Windows Phone",
)


def scene_for(user_agent: str | None) -> Scene:
    """The scene a browser's User-Agent shows: WeChat's browser, a phone, or a computer."""
    agent = user_agent or ""
    if "MicroMessenger" in agent:  # WeChat's built-in browser, on phones and on computers
        return Scene.WECHAT
    if any(marker in agent for marker in MOBILE_MARKERS):
        return Scene.MOBILE
    return Scene.DESKTOP


@dataclass(frozen=True)
class CheckoutRequest:
    out_trade_no: str  # our unique trade number (≤ 32 chars, [A-Za-z0-9_-])
    amount_fen: int
    description: str  # shown on the payer's phone, e.g. "明账花园 A-3-1202 物业费 2026-11"
    notify_url: str  # absolute URL of POST /payments/notify/<channel>
    return_url: str  # where the payer's browser goes afterwards
    expires_at: datetime  # aware UTC
    scene: Scene = Scene.DESKTOP
    client_ip: str = ""  # the payer's IP (WeChat H5 requires it)
    openid: str | None = None  # the payer's openid under our appid (WeChat JSAPI)


@dataclass(frozen=True)
class Checkout:
    # A page to send the browser to: Alipay page/wap pay, WeChat H5's h5_url, the sandbox.
    pay_url: str | None = None
    qr_code: str | None = None  # a code_url to render as a QR code (WeChat Native)
    # The signed parameters for WeixinJSBridge.invoke("getBrandWCPayRequest", …) (JSAPI).
    jsapi: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Notification:
    out_trade_no: str
    txn_id: str  # the platform's transaction id (unique per channel)
    amount_fen: int
    status: NotificationStatus
    paid_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ack:
    """What to answer the platform: status, body and content type, as it expects."""

    status: int
    body: str
    content_type: str = "application/json"


class Gateway(Protocol):
    channel: str

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Ask the platform for a checkout (may call the platform's API)."""
        ...

    def parse_notification(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> Notification:
        """Verify and decode a callback; raise BadNotification when it is not acceptable."""
        ...

    def ack(self, ok: bool, message: str = "") -> Ack:
        """The answer the platform expects for an accepted (or refused) callback."""
        ...
