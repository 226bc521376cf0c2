"""The daily run: cases open, age, remind at L1, propose later tiers, close and reopen."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.collections.models import CollectionTask, Tier
from portal.notify.models import Message
from tests.collections.helpers import case_of, make_world, pay, run


def test_first_run_opens_cases_and_queues_l1(session: Session) -> None:
    world = make_world(session)
    result = run(session, date(2026, 11, 20))
    case = case_of(session, world.unit)
    assert case is not None
    assert result.opened == 2
    assert case.tier == Tier.L1
    assert case.overdue_fen == 4 * 25000
    messages = session.scalars(
        select(Message).where(
            Message.unit_id == world.unit.id, Message.reason == "collections_tier"
        )
    ).all()
    assert messages
    assert all(m.amount_fen == 100000 for m in messages)
    tasks = session.scalars(select(CollectionTask)).all()
    assert tasks == []  # the L1 reminder gets its week before L2 is proposed
    run(session, date(2026, 11, 26))
    assert session.scalars(select(CollectionTask)).all() == []
    run(session, date(2026, 11, 27))
    tasks = session.scalars(select(CollectionTask)).all()
    assert {t.tier for t in tasks} == {"L2"}


def test_paid_up_closes_and_falls_behind_reopens(session: Session) -> None:
    world = make_world(session)
    run(session, date(2026, 11, 20))
    pay(session, world, world.unit, 100000, "R1")
    run(session, date(2026, 11, 21))
    case = case_of(session, world.unit)
    assert case.status == "closed"
    assert "¥1,000.00" in case.close_outcome
