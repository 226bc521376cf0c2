"""queue_messages: a batch queues what the same requests queued one by one would, with a
fixed number of statements however many owners it holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from portal.errors import DomainError
from portal.notify import policy, service
from portal.notify.models import Category, ContactAttempt, Message, Reason
from tests import factories
from tests.notify.helpers import SHANGHAI_1030, SHANGHAI_2230

FIELDS = (
    "event_key",
    "recipient_id",
    "channel",
    "unit_id",
    "status",
    "not_before",
    "defer_reason",
    "suppressed_reason",
    "text",
    "address",
)


def _owners(session: Session, n: int) -> tuple[Any, list[tuple[Any, Any]]]:
    community = factories.make_community(session, hotline="021-5888 1234")
    pairs = []
    for i in range(n):
        unit = factories.make_unit(session, community=community)
        owner = factories.make_user(
            session,
            role="owner",
            unit=unit,
            display_name=f"业主{i}",
            phone=f"1381234{i:04d}" if i % 3 else None,  # every third has no phone
        )
        pairs.append((unit, owner))
    session.flush()
    return community, pairs


def _requests(community: Any, pairs: list[tuple[Any, Any]]) -> list[service.MessageRequest]:
    return [
        service.MessageRequest(
            event_key=f"bill_issued:bill:{unit.id}",
            recipient=owner,
            community_id=community.id,
            unit_id=unit.id,
            reason=Reason.BILL_ISSUED,
            category=Category.MONEY,
            template_key="bill_issued",
            context={"period": "2026年12月", "amount_fen": 25000 + i},
            related_type="bill",
            related_id=unit.id,
            amount_fen=25000 + i,
            held_fen=0,
        )
        for i, (unit, owner) in enumerate(pairs)
    ]


def _snapshot(session: Session) -> list[tuple[Any, ...]]:
    rows = session.scalars(select(Message).order_by(Message.event_key, Message.channel))
    return [tuple(getattr(m, f) for f in FIELDS) for m in rows]


def _attempt(session: Session, unit: Any, at: Any) -> None:
    """An SMS about money sent a day ago: the 3-day channel cap defers the next one."""
    session.add(
        ContactAttempt(
            unit_id=unit.id,
            channel="sms",
            category=Category.MONEY,
            at=at,
            source_type="message",
            source_id=0,
        )
    )
    session.flush()


@pytest.mark.parametrize("now", [SHANGHAI_1030, SHANGHAI_2230])
def test_a_batch_queues_what_one_by_one_would(
    session: Session, configured: Flask, now: Any
) -> None:
    community, pairs = _owners(session, 6)
    _attempt(session, pairs[1][0], now - timedelta(days=1))
    requests = _requests(community, pairs)
    for request in requests:
        service.queue_message(
            session,
            event_key=request.event_key,
            recipient=request.recipient,
            community_id=request.community_id,
            unit_id=request.unit_id,
            reason=request.reason,
            category=request.category,
            template_key=request.template_key,
            context=request.context,
            related_type=request.related_type,
            related_id=request.related_id,
            amount_fen=request.amount_fen,
            held_fen=request.held_fen,
            now=now,
        )
    one_by_one = _snapshot(session)
    session.execute(Message.__table__.delete())
    batch = service.queue_messages(session, requests, now=now)
    assert _snapshot(session) == one_by_one
    assert [len(m) for m in batch] == [2] * len(pairs)  # inbox and SMS, kept even if not sent
    no_phone = {
        m.suppressed_reason for ms in batch for m in ms if not m.address and m.channel == "sms"
    }
    assert no_phone == {"no_address"}
    # The capped unit's SMS waits three days from the last one; quiet hours defer the rest.
    capped = next(m for m in batch[1] if m.channel == "sms")
    assert capped.defer_reason == ("quiet_hours" if now == SHANGHAI_2230 else "cap_channel")


def test_a_batch_again_queues_nothing_new(session: Session, configured: Flask) -> None:
    community, pairs = _owners(session, 4)
    requests = _requests(community, pairs)
    first = service.queue_messages(session, requests, now=SHANGHAI_1030)
    again = service.queue_messages(session, requests, now=SHANGHAI_1030)
    assert [[m.id for m in ms] for ms in first] == [[m.id for m in ms] for ms in again]
    # The same event twice within one batch is one message too.
    doubled = service.queue_messages(session, requests[:1] * 2, now=SHANGHAI_1030)
    assert doubled[0][0] is doubled[1][0]
    assert session.scalar(select(func.count(Message.id))) == sum(len(m) for m in first)


def test_statements_do_not_grow_with_the_batch(
    session: Session, configured: Flask, app: Flask
) -> None:
    counts = []
    for n in (3, 30):
        community, pairs = _owners(session, n)
        statements: list[str] = []

        def count(
            _c: Any, _cur: Any, statement: str, *_args: Any, seen: list[str] = statements
        ) -> None:
            seen.append(statement)

        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            service.queue_messages(session, _requests(community, pairs), now=SHANGHAI_1030)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts.append(len(statements))
    # Inserting 60 rows instead of 6 may take another executemany batch, not one per owner.
    assert counts[1] <= counts[0] + 2, counts


def test_a_bad_request_anywhere_writes_nothing(session: Session, configured: Flask) -> None:
    community, pairs = _owners(session, 3)
    other = factories.make_community(session)
    requests = _requests(community, pairs)
    stranger = factories.make_user(session, role="owner", unit=factories.make_unit(session))
    bad = [
        ([*requests[:2], service.MessageRequest(**{**requests[2].__dict__, "reason": "x"})],
         "unknown_reason"),
        ([*requests[:2], service.MessageRequest(**{**requests[2].__dict__,
                                                   "community_id": other.id})],
         "unit_not_in_community"),
        ([*requests[:2], service.MessageRequest(**{**requests[2].__dict__,
                                                   "recipient": stranger})],
         "not_owner_of_unit"),
        ([*requests[:2], service.MessageRequest(**{**requests[2].__dict__,
                                                   "channels": ("fax",)})],
         "unknown_channel"),
    ]  # fmt: skip
    for batch, code in bad:
        with pytest.raises(DomainError) as caught:
            service.queue_messages(session, batch, now=SHANGHAI_1030)
        assert caught.value.code == code
        assert session.scalar(select(func.count(Message.id))) == 0


def test_the_attempt_index_reads_what_the_per_unit_query_reads(session: Session) -> None:
    _community, pairs = _owners(session, 3)
    unit = pairs[0][0]
    for days in (1, 5, 13, 20):
        _attempt(session, unit, SHANGHAI_1030 - timedelta(days=days))
    index = policy.AttemptIndex(
        session, unit_ids=[u.id for u, _ in pairs], start=SHANGHAI_1030, end=SHANGHAI_1030
    )
    assert index.covers(SHANGHAI_1030)
    assert not index.covers(SHANGHAI_1030 + timedelta(days=2))
    for channels in (["sms"], None, ["wechat"]):
        expected = policy._attempt_times(
            session, unit_id=unit.id, at=SHANGHAI_1030, channels=channels, exclude_message_id=None
        )
        got = index.times(
            unit_id=unit.id, at=SHANGHAI_1030, channels=channels, exclude_message_id=None
        )
        assert sorted(got) == sorted(expected)
