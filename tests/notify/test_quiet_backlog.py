"""A backlog that falls due in the quiet hours is deferred in one statement per time zone,
to exactly what `deliver` would have deferred it to; what deliver treats otherwise (holds,
letters, channels not configured, another zone's daytime) is left to deliver."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.notify import policy
from portal.notify import sending as notify_sending
from portal.notify.models import Message, MessageStatus
from portal.timeutil import zone
from tests import factories
from tests.feedback.test_profiles_batch import count_statements
from tests.notify.helpers import SHANGHAI_1030, FakeChannel, channels, make_world, queue

NIGHT = SHANGHAI_1030 + timedelta(hours=12)  # 22:30 in Shanghai, 15:30 in Berlin
MORNING = SHANGHAI_1030 + timedelta(hours=21, minutes=30)  # 08:00 the next day in Shanghai


def _backlog(session: Session, n: int) -> list[Message]:
    """n owners each with an inbox and an SMS message queued by day, still unsent."""
    messages = []
    for i in range(n):
        world = make_world(session, phone=f"1391234{i:04d}")
        messages += queue(session, world, key=f"bill_issued:bill:{i}")
    session.flush()
    return messages


def test_night_backlog_is_deferred_to_eight_in_a_fixed_number_of_statements(
    session: Session, configured: Flask
) -> None:
    small = _backlog(session, 2)
    assert {m.status for m in small} == {MessageStatus.QUEUED}
    sms = FakeChannel("sms")
    with count_statements(session) as few:
        report = notify_sending.send_due(
            session, now=NIGHT, channels=channels(sms=sms), commit=session.flush
        )
    large = _backlog(session, 20)
    with count_statements(session) as many:
        report_large = notify_sending.send_due(
            session, now=NIGHT, channels=channels(sms=sms), commit=session.flush
        )
    assert len(many) == len(few)  # no statement per message
    assert report.outcomes == {"deferred": 4}
    assert report_large.outcomes == {"deferred": 40}
    assert report_large.by_channel == {("inbox", "deferred"): 20, ("sms", "deferred"): 20}
    eight = policy.quiet_hours_end(NIGHT, zone("Asia/Shanghai"))
    for message in small + large:
        session.refresh(message)
        assert (message.status, message.defer_reason, message.not_before) == (
            MessageStatus.DEFERRED,
            "quiet_hours",
            eight,
        )
    assert sms.sent == []
    # The same night again: nothing is due, nothing is written.
    again = notify_sending.send_due(
        session, now=NIGHT + timedelta(minutes=5), channels=channels(sms=sms), commit=session.flush
    )
    assert again.lines() == ["nothing due"]
    # At eight they go, once each.
    morning = notify_sending.send_due(
        session, now=MORNING, channels=channels(sms=sms), commit=session.flush
    )
    assert morning.outcomes == {"delivered": 22, "sent": 22}
    assert len(sms.sent) == 22


def test_bulk_deferral_matches_what_deliver_decides(session: Session, configured: Flask) -> None:
    """The per-message path (claim, then deliver) and the bulk path leave the same rows."""
    messages = _backlog(session, 3)
    sms = FakeChannel("sms")
    ids = notify_sending.claim_due(session, now=NIGHT, limit=1000)
    one_by_one = {}
    for message_id in ids:
        notify_sending.deliver(
            session, message_id=message_id, now=NIGHT, channels=channels(sms=sms)
        )
        row = session.get(Message, message_id)
        one_by_one[message_id] = (row.status, row.defer_reason, row.not_before)
    session.flush()
    # Put them back as they were queued, then take the bulk path.
    for message in messages:
        message.status, message.defer_reason, message.not_before = (
            MessageStatus.QUEUED,
            None,
            SHANGHAI_1030,
        )
    session.flush()
    assert notify_sending.defer_quiet_hours(session, now=NIGHT, channels=channels(sms=sms))
    session.expire_all()
    bulk = {
        m.id: (m.status, m.defer_reason, m.not_before)
        for m in session.scalars(select(Message).where(Message.id.in_(ids)))
    }
    assert bulk == one_by_one


def test_holds_letters_unconfigured_channels_and_daytime_zones_are_left_to_deliver(
    session: Session, configured: Flask
) -> None:
    world = make_world(session)
    on_hold = queue(session, world, key="bill_issued:bill:held")
    for message in on_hold:
        message.amount_fen, message.held_fen = 0, 5000  # all owed is now under dispute
    berlin = factories.make_community(session, timezone="Europe/Berlin")
    unit = factories.make_unit(session, community=berlin)
    owner = factories.make_user(session, role="owner", unit=unit, phone="13900001111")
    session.flush()
    daytime = queue(
        session,
        type(world)(berlin, unit, owner),
        key="bill_issued:bill:berlin",
    )
    session.flush()
    # No SMS adapter configured: the SMS messages are deliver's to fail, not ours to defer.
    deferred = notify_sending.defer_quiet_hours(session, now=NIGHT, channels=channels())
    assert deferred == []  # held: left alone; Berlin: 15:30, not quiet
    report = notify_sending.send_due(session, now=NIGHT, channels=channels(), commit=session.flush)
    for message in on_hold:
        session.refresh(message)
        assert message.status == MessageStatus.SUPPRESSED
    statuses = {m.channel: m.status for m in daytime if session.refresh(m) is None}
    assert statuses["inbox"] == MessageStatus.DELIVERED
    assert report.outcomes["suppressed"] == 2


def test_inbox_backlog_is_delivered_in_one_statement_as_deliver_would(
    session: Session, configured: Flask
) -> None:
    """By day the due inbox messages are delivered together; each row ends as `deliver` would
    leave it, and no contact attempt is logged (the inbox is not a contact)."""
    from portal.notify.models import ContactAttempt

    by_hand = _backlog(session, 2)
    inbox_ids = [m.id for m in by_hand if m.channel == "inbox"]
    for message_id in notify_sending.claim_due(session, now=SHANGHAI_1030, only=["inbox"]):
        notify_sending.deliver(
            session, message_id=message_id, now=SHANGHAI_1030, channels=channels()
        )
    session.flush()
    fields = ("status", "attempts", "sent_at", "delivered_at", "provider_id", "last_error")
    expected = {tuple(getattr(session.get(Message, i), f) for f in fields) for i in inbox_ids}
    bulk = [m for m in _backlog(session, 20) if m.channel == "inbox"]
    with count_statements(session) as statements:
        notify_sending.deliver_inbox(session, now=SHANGHAI_1030, channels=channels())
    assert len(statements) == 1
    session.expire_all()
    assert {tuple(getattr(m, f) for f in fields) for m in bulk} == expected
    assert session.scalar(select(ContactAttempt.id).limit(1)) is None
    # A different inbox adapter keeps the one-by-one path.
    assert (
        notify_sending.deliver_inbox(session, now=SHANGHAI_1030, channels={"inbox": object()}) == 0
    )
    # Nothing is delivered twice: the day's send finds only the SMS messages.
    sms = FakeChannel("sms")
    report = notify_sending.send_due(
        session, now=SHANGHAI_1030, channels=channels(sms=sms), commit=session.flush
    )
    assert report.outcomes == {"sent": 22}
