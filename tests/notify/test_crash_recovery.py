"""A sender killed between claiming and delivering loses nothing: the claim goes stale and
the next run sends the message."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.notify import sending
from portal.notify.models import Message, MessageStatus
from tests.notify.helpers import SHANGHAI_1030, FakeChannel, channels, make_world, queue


def test_a_stale_claim_is_sent_by_the_next_run(session: Session, configured: Flask) -> None:
    world = make_world(session)
    queue(session, world)
    session.commit()
    claimed = sending.claim_due(session, now=SHANGHAI_1030)
    session.commit()  # ... and the sender is killed here, before delivering
    assert claimed
    sms = FakeChannel("sms")
    soon = SHANGHAI_1030 + timedelta(minutes=5)
    assert (
        sending.send_due(
            session, now=soon, channels=channels(sms=sms), commit=session.commit
        ).outcomes
        == {}
    )
    later = SHANGHAI_1030 + sending.STALE_CLAIM + timedelta(minutes=1)
    sending.send_due(session, now=later, channels=channels(sms=sms), commit=session.commit)
    assert len(sms.sent) == 1
    left = session.scalars(select(Message.status).where(Message.status == MessageStatus.SENDING))
    assert list(left) == []
