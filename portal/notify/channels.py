"""Delivery channels, each a small adapter behind one interface, chosen by configuration.

A channel whose settings are absent is not offered (like the payment gateways): email needs
`SMTP_URL`; SMS and WeChat template messages need their provider webhook URL and
`NOTIFY_WEBHOOK_SECRET`. The inbox (站内信) and letters are always available.

Provider webhooks are signed with `X-Notify-Timestamp` (Unix seconds) and
`X-Notify-Signature: hex(HMAC-SHA256(secret, timestamp + "." + raw body))`; the provider's
delivery receipts come back signed the same way (`verify_signature`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from portal.notify.models import ChannelName

RECEIPT_MAX_AGE_S = 300  # a receipt signed more than 5 minutes ago (or ahead) is refused


@dataclass(frozen=True)
class Outgoing:
    """What an adapter needs to deliver one message."""

    message_id: int
    address: str
    subject: str
    text: str
    template_key: str
    context: Mapping[str, Any]


@dataclass(frozen=True)
class Delivered:
    provider_id: str | None = None
    delivered: bool = False  # True when delivery is final at once (the inbox)


class DeliveryError(Exception):
    """Delivery failed; `retryable` says whether trying again later may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    name: str
    needs_address: bool

    def deliver(self, message: Outgoing, *, now: datetime) -> Delivered: ...


class InboxChannel:
    """In-portal messages: the row itself is the delivery."""

    name = ChannelName.INBOX
    needs_address = False

    def deliver(self, message: Outgoing, *, now: datetime) -> Delivered:
        return Delivered(delivered=True)


class LetterChannel:
    """Letters: 'sent' means ready in the print queue; staff record posting or mailing."""

    name = ChannelName.LETTER
    needs_address = False

    def deliver(self, message: Outgoing, *, now: datetime) -> Delivered:
        return Delivered()


class EmailChannel:
    """E-mail over SMTP: smtp://user:pass@host:port (STARTTLS with ?starttls=1) or smtps://."""

    name = ChannelName.EMAIL
    needs_address = True

    def __init__(self, url: str, *, sender: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:port")
        self.ssl = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.ssl else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true")
        self.sender = sender
        self.timeout = timeout

    def deliver(self, message: Outgoing, *, now: datetime) -> Delivered:
        mail = EmailMessage()
        mail["From"] = formataddr(("明账 Clearfee", self.sender))
        mail["To"] = message.address
        mail["Subject"] = message.subject or "明账 Clearfee"
        mail["Message-ID"] = make_msgid(idstring=f"clearfee-{message.message_id}")
        mail.set_content(message.text)
        try:
            cls = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
            with cls(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc.recipients}", retryable=False) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx is permanent (bad address, policy); 4xx is worth retrying.
            raise DeliveryError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", retryable=exc.smtp_code < 500
            ) from exc
        except (TimeoutError, socket.timeout) as exc:  # noqa: UP041 - both spellings raise
            raise DeliveryError(f"SMTP timed out after {self.timeout}s") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP error: {exc}") from exc
        return Delivered(provider_id=mail["Message-ID"].strip("<>")[:100])


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, timestamp + "." + body))."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str, *, timestamp: str | None, signature: str | None, body: bytes, now: datetime
) -> str | None:
    """None when the signature holds and is fresh, else why not."""
    if not timestamp or not signature:
        return "missing signature"
    try:
        signed_at = int(timestamp)
    except ValueError:
        return "bad timestamp"
    if abs(now.timestamp() - signed_at) > RECEIPT_MAX_AGE_S:
        return "stale timestamp"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip().lower()):
        return "bad signature"
    return None


class WebhookChannel:
    """SMS or WeChat template messages through the company's provider, over a signed webhook."""

    needs_address = True

    def __init__(self, name: str, url: str, *, secret: str, timeout: float) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            # urlopen would also follow file:// or ftp:// URLs; a webhook is only ever HTTP(S).
            raise ValueError(f"{name} webhook URL must be http(s)://, got {url!r}")
        self.name = name
        self.url = url
        self.secret = secret
        self.timeout = timeout

    def deliver(self, message: Outgoing, *, now: datetime) -> Delivered:
        body = json.dumps(
            {
                "message_id": message.message_id,
                "channel": self.name,
                "to": message.address,
                "template": message.template_key,
                "subject": message.subject,
                "text": message.text,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(now.timestamp()))
        request = urllib.request.Request(  # noqa: S310 - the URL is the operator's setting
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Notify-Timestamp": timestamp,
                "X-Notify-Signature": sign(self.secret, timestamp, body),
            },
        )
        try:
            # Bandit B310 (file:// and custom schemes): __init__ allows only http(s).
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 # nosec B310
                raw = response.read(65536)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the connection open otherwise
            raise DeliveryError(
                f"provider answered HTTP {exc.code}", retryable=exc.code >= 500 or exc.code == 429
            ) from exc
        except (TimeoutError, socket.timeout) as exc:  # noqa: UP041
            raise DeliveryError(f"provider timed out after {self.timeout}s") from exc
        except (OSError, urllib.error.URLError) as exc:
            raise DeliveryError(f"provider unreachable: {exc}") from exc
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            answer = {}
        provider_id = answer.get("provider_id") if isinstance(answer, dict) else None
        return Delivered(provider_id=str(provider_id)[:100] if provider_id else None)


def configured(config: Mapping[str, Any]) -> dict[str, Channel]:
    """The channels this deployment offers, by name (absent settings: channel not offered)."""
    found: dict[str, Channel] = {
        ChannelName.INBOX: InboxChannel(),
        ChannelName.LETTER: LetterChannel(),
    }
    if config.get("SMTP_URL"):
        found[ChannelName.EMAIL] = EmailChannel(
            str(config["SMTP_URL"]),
            sender=str(config.get("SMTP_FROM") or "no-reply@clearfee.local"),
            timeout=int(config.get("SMTP_TIMEOUT_S") or 10),
        )
    secret = config.get("NOTIFY_WEBHOOK_SECRET")
    timeout = int(config.get("NOTIFY_WEBHOOK_TIMEOUT_S") or 10)
    for name, setting in (
        (ChannelName.SMS, "SMS_WEBHOOK_URL"),
        (ChannelName.WECHAT, "WECHAT_WEBHOOK_URL"),
    ):
        if config.get(setting) and secret:
            found[name] = WebhookChannel(
                name, str(config[setting]), secret=str(secret), timeout=timeout
            )
    return found
