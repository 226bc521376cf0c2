"""Two (or more) senders at once on PostgreSQL: every message is sent exactly once, and the
caps hold although both senders look at the same unit."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.notify import sending as notify_sending
from portal.notify.models import ContactAttempt, Message
from tests.notify.helpers import SHANGHAI_1030, FakeChannel, channels, make_world, queue

pytestmark = pytest.mark.pg
SENDERS = 4


class SharedChannel(FakeChannel):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.lock = threading.Lock()

    def deliver(self, message, *, now):  # type: ignore[no-untyped-def]
        with self.lock:
            return super().deliver(message, now=now)


def _race(app: Flask, fakes: dict[str, SharedChannel]) -> None:
    barrier = threading.Barrier(SENDERS)

    def run(_: int) -> None:
        with app.app_context(), Session(db.engine) as session:
            barrier.wait()
            notify_sending.send_due(
                session,
                now=SHANGHAI_1030,
                channels=channels(**fakes),
                commit=session.commit,
                batch=5,
            )

    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(run, range(SENDERS)))


def test_concurrent_senders_send_each_message_once(
    app: Flask, session: Session, configured: Flask
) -> None:
    for n in range(10):
        world = make_world(session, phone=f"1381234{n:04d}")
        for k in range(3):
            queue(
                session,
                world,
                key=f"t{n}:{k}",
                reason="ticket_updated",
                category="service",
                template="ticket_updated",
                amount_fen=None,
                channels=["inbox", "sms"],
            )
    session.commit()
    sms = SharedChannel("sms")
    _race(app, {"sms": sms})
    ids = Counter(m.message_id for m in sms.sent)
    assert len(ids) == 10 * 3  # service messages: not capped, all go
    assert set(ids.values()) == {1}
    statuses = Counter(session.scalars(select(Message.status)))
    assert statuses == {"sent": 30, "delivered": 30}


def test_concurrent_senders_keep_the_channel_cap(
    app: Flask, session: Session, configured: Flask
) -> None:
    world = make_world(session)
    for k in range(6):  # six money SMS for one unit at once: only one may go
        queue(session, world, key=f"m{k}", channels=["sms"])
    session.commit()
    sms = SharedChannel("sms")
    _race(app, {"sms": sms})
    assert len(sms.sent) == 1
    attempts = session.scalars(select(ContactAttempt).where(ContactAttempt.channel == "sms")).all()
    assert len(attempts) == 1
    statuses = Counter(session.scalars(select(Message.status)))
    assert statuses == {"sent": 1, "deferred": 5}
