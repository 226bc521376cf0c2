"""The adapters against local servers: SMTP (aiosmtpd), the signed provider webhook, and the
signed delivery-receipt callback."""

from __future__ import annotations

import json
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.notify import sending as notify_sending
from portal.notify.channels import (
    DeliveryError,
    EmailChannel,
    Outgoing,
    WebhookChannel,
    configured,
    sign,
)
from portal.notify.models import Message
from tests.conftest import Clock
from tests.notify.helpers import SHANGHAI_1030, make_world, queue
from tests.notify.servers import provider_server, silent_server, smtp_server

SECRET = "webhook-test-secret"
OUT = Outgoing(1, "wang@example.com", "账单已出", "尊敬的王先生业主，您好！", "bill_issued", {})


def test_email_reaches_the_smtp_server() -> None:
    with smtp_server() as (url, mailbox):
        result = EmailChannel(url, sender="wy@example.com", timeout=5).deliver(
            OUT, now=SHANGHAI_1030
        )
    assert result.provider_id
    assert mailbox.messages[0]["to"] == ["wang@example.com"]
    assert "Subject:" in mailbox.messages[0]["data"]


def test_smtp_refusal_is_a_permanent_failure() -> None:
    with smtp_server(refuse="550 5.1.1 mailbox unavailable") as (url, _):
        channel = EmailChannel(url, sender="wy@example.com", timeout=5)
        with pytest.raises(DeliveryError) as caught:
            channel.deliver(OUT, now=SHANGHAI_1030)
    assert not caught.value.retryable
    assert "550" in str(caught.value)


def test_smtp_that_hangs_times_out_and_is_retried() -> None:
    with silent_server() as url:
        channel = EmailChannel(url, sender="wy@example.com", timeout=1)
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            channel.deliver(OUT, now=SHANGHAI_1030)
    assert time.monotonic() - started < 30  # bounded by the 1 s timeout, not hung (slack for load)
    assert caught.value.retryable
    assert "timed out" in str(caught.value)


def test_smtp_url_must_be_smtp() -> None:
    with pytest.raises(ValueError, match="SMTP_URL"):
        EmailChannel("http://example.com", sender="x@example.com", timeout=1)


def test_webhook_is_signed_and_the_provider_checks_it() -> None:
    with provider_server(SECRET) as (url, provider):
        result = WebhookChannel("sms", url + "/sms", secret=SECRET, timeout=5).deliver(
            OUT, now=SHANGHAI_1030
        )
        with pytest.raises(DeliveryError) as caught:
            WebhookChannel("sms", url + "/sms", secret="wrong", timeout=5).deliver(
                OUT, now=SHANGHAI_1030
            )
    assert result.provider_id == "PRV-1"
    assert provider.received[0]["to"] == "wang@example.com"
    assert provider.refused == 1
    assert not caught.value.retryable  # 401: our secret is wrong, retrying will not help


def test_provider_server_error_is_retryable() -> None:
    with provider_server(SECRET, status=503) as (url, _), pytest.raises(DeliveryError) as caught:
        WebhookChannel("sms", url, secret=SECRET, timeout=5).deliver(OUT, now=SHANGHAI_1030)
    assert caught.value.retryable


def test_absent_settings_hide_channels() -> None:
    assert set(configured({})) == {"inbox", "letter"}
    assert set(configured({"SMS_WEBHOOK_URL": "http://x"})) == {"inbox", "letter"}  # no secret
    assert set(
        configured(
            {"SMS_WEBHOOK_URL": "http://x", "NOTIFY_WEBHOOK_SECRET": "s", "SMTP_URL": "smtp://h"}
        )
    ) == {"inbox", "letter", "sms", "email"}


# ---------------------------------------------------------------- receipts callback


def _signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = str(at if at is not None else int(SHANGHAI_1030.timestamp()))
    return {
        "X-Notify-Timestamp": timestamp,
        "X-Notify-Signature": sign(secret, timestamp, body),
        "Content-Type": "application/json",
    }


@pytest.fixture
def sent_sms(session: Session, configured: Flask, clock: Clock) -> Message:
    clock.set(SHANGHAI_1030)
    world = make_world(session)
    queue(session, world, channels=["sms"])
    with provider_server(SECRET) as (url, _):
        report = notify_sending.send_due(
            session,
            now=SHANGHAI_1030,
            channels={"sms": WebhookChannel("sms", url, secret=SECRET, timeout=5)},
            commit=session.commit,
        )
    assert report.outcomes == {"sent": 1}
    return session.scalar(select(Message).where(Message.channel == "sms"))


def test_receipt_marks_delivered(client: FlaskClient, session: Session, sent_sms: Message) -> None:
    body = json.dumps(
        {"message_id": sent_sms.id, "provider_id": sent_sms.provider_id, "status": "delivered"}
    ).encode()
    now = int(SHANGHAI_1030.timestamp())
    response = client.post("/notify/receipts/sms", data=body, headers=_signed(body, at=now))
    assert response.status_code == 200, response.json
    session.refresh(sent_sms)
    assert sent_sms.status == "delivered"


@pytest.mark.parametrize("problem", ["bad_signature", "stale", "missing"])
def test_bad_receipts_change_nothing(
    client: FlaskClient, session: Session, sent_sms: Message, problem: str
) -> None:
    body = json.dumps({"message_id": sent_sms.id, "status": "failed"}).encode()
    now = int(SHANGHAI_1030.timestamp())
    headers = {
        "bad_signature": _signed(body, secret="forged", at=now),
        "stale": _signed(body, at=now - 3600),
        "missing": {"Content-Type": "application/json"},
    }[problem]
    response = client.post("/notify/receipts/sms", data=body, headers=headers)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_signature"
    session.refresh(sent_sms)
    assert sent_sms.status == "sent"


def test_receipt_for_unknown_message_is_404(client: FlaskClient, sent_sms: Message) -> None:
    body = json.dumps({"message_id": 999999, "status": "delivered"}).encode()
    response = client.post(
        "/notify/receipts/sms", data=body, headers=_signed(body, at=int(SHANGHAI_1030.timestamp()))
    )
    assert response.status_code == 404


def test_receipts_refused_when_webhooks_are_not_configured(client: FlaskClient) -> None:
    body = b"{}"
    assert client.post("/notify/receipts/sms", data=body, headers=_signed(body)).status_code == 404


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://provider/sms", "provider/sms"])
def test_webhook_url_must_be_http(url: str) -> None:
    # urlopen follows file:// and ftp:// too; bandit B310 is answered by refusing them here.
    with pytest.raises(ValueError, match="http"):
        WebhookChannel("sms", url, secret=SECRET, timeout=5)
