"""The issue's 'done': on the demo data, a billing run then `flask notify send` puts a
bill-issued message in each owner's inbox and delivers e-mail and SMS through local test
servers; a run at 22:30 Shanghai time sends nothing and defers to 08:00."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.billing.models import Bill
from portal.communities.models import Ownership
from portal.demo import service as demo
from portal.notify import service
from portal.notify.models import Message
from tests.conftest import Clock
from tests.factories import NOW
from tests.notify.servers import Mailbox, Provider, provider_server, smtp_server

SECRET = "done-secret"


@pytest.fixture
def servers(app: Flask) -> Iterator[tuple[Mailbox, Provider]]:
    with smtp_server() as (smtp_url, mailbox), provider_server(SECRET) as (url, provider):
        app.config.update(
            SMTP_URL=smtp_url,
            SMS_WEBHOOK_URL=url + "/sms",
            WECHAT_WEBHOOK_URL=url + "/wechat",
            NOTIFY_WEBHOOK_SECRET=SECRET,
        )
        yield mailbox, provider


def _seed(session: Session, app: Flask) -> None:
    """The demo as `make run` seeds it: no SMS/e-mail set up yet (they are configured after)."""
    saved = {k: app.config.pop(k) for k in ("SMTP_URL", "SMS_WEBHOOK_URL", "WECHAT_WEBHOOK_URL")}
    demo.seed(session, communities_count=1, units_per_community=24, months=2, now=NOW)
    app.config.update(saved)
    owner = session.scalar(select(User).where(User.username == "demo-owner"))
    service.set_preferences(
        session, user=owner, choices={"money": (["sms", "email"], False)}, now=NOW
    )
    session.commit()


def _owners_billed(session: Session, period: str) -> set[int]:
    year, month = (int(p) for p in period.split("-"))
    return set(
        session.scalars(
            select(Ownership.user_id)
            .join(Bill, Bill.unit_id == Ownership.unit_id)
            .where(Bill.period == datetime(year, month, 1, tzinfo=UTC).date())
            .where(Ownership.ended_on.is_(None))
        )
    )


def test_billing_run_then_send_reaches_every_owner(
    app: Flask, session: Session, runner: FlaskCliRunner, servers: tuple[Mailbox, Provider]
) -> None:
    mailbox, provider = servers
    _seed(session, app)
    result = runner.invoke(
        args=["billing", "generate", "--community", "DEMO1", "--period", "2026-12"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["notify", "send"])
    assert result.exit_code == 0, result.output
    assert "delivered" in result.output
    owners = _owners_billed(session, "2026-12")
    assert owners
    inbox = session.scalars(
        select(Message).where(Message.reason == "bill_issued", Message.channel == "inbox")
    ).all()
    delivered = {
        m.recipient_id for m in inbox if m.status == "delivered" and "2026年12月" in m.text
    }
    assert delivered == owners
    sms = [r for r in provider.received if r["path"] == "/sms"]
    wechat = [r for r in provider.received if r["path"] == "/wechat"]
    assert len(sms) >= 1
    assert len(wechat) == 1  # demo-owner-2 has bound WeChat
    assert all("2026年12月" in r["text"] for r in sms + wechat), [
        r["text"][:60] for r in sms + wechat
    ]
    assert [m["to"] for m in mailbox.messages] == [["demo-owner@example.com"]]
    mail = email.message_from_string(mailbox.messages[0]["data"], policy=email.policy.default)
    assert "2026年12月" in str(mail["Subject"])
    assert "/bills/" in mail.get_content()
    # Running again sends nothing more.
    again = runner.invoke(args=["notify", "send"])
    assert "nothing due" in again.output
    assert len(provider.received) == len(sms) + len(wechat)


def test_a_run_at_2230_defers_everything_to_0800(
    app: Flask,
    session: Session,
    runner: FlaskCliRunner,
    clock: Clock,
    servers: tuple[Mailbox, Provider],
) -> None:
    mailbox, provider = servers
    _seed(session, app)
    clock.set(datetime(2026, 11, 20, 14, 30, tzinfo=UTC))  # 22:30 in Shanghai
    runner.invoke(args=["billing", "generate", "--community", "DEMO1", "--period", "2026-12"])
    result = runner.invoke(args=["notify", "send"])
    assert result.exit_code == 0, result.output
    assert provider.received == []
    assert mailbox.messages == []
    pending = [
        m
        for m in session.scalars(select(Message).where(Message.reason == "bill_issued"))
        if "2026年12月" in m.text
    ]
    eight = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
    assert pending
    assert {
        (m.status, m.defer_reason, m.not_before) for m in pending if m.status != "suppressed"
    } == {("deferred", "quiet_hours", eight)}
    result = runner.invoke(args=["notify", "send", "--now", "2026-11-21T08:00:00+08:00"])
    assert result.exit_code == 0, result.output
    assert provider.received
    assert len(mailbox.messages) == 1


def test_send_refuses_a_naive_now(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["notify", "send", "--now", "2026-11-21T08:00:00"])
    assert result.exit_code != 0
    assert "naive" in result.output
