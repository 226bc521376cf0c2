"""The daily run: cases open, age, remind at L1, propose later tiers, close and reopen."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.collections.models import CollectionTask, Tier
from portal.notify.models import Message
from tests.collections.helpers import _snapshot, case_of, dispute_line, make_world, pay, run
from tests.factories import NOW


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


def test_rerun_for_the_same_date_writes_nothing(session: Session, clock) -> None:
    world = make_world(session)
    run(session, date(2026, 11, 20))
    run(session, date(2026, 11, 27))  # proposals, recovery tasks, everything a run writes
    before = _snapshot(session)
    clock.advance(hours=3)
    run(session, date(2026, 11, 27), now=clock.now)
    assert _snapshot(session) == before
    assert world.unit.id


def test_preview_changes_nothing(session: Session, runner, app) -> None:
    make_world(session)
    session.commit()
    before = _snapshot(session)
    result = app.test_cli_runner().invoke(
        args=["collections", "run", "--date", "2026-11-20", "--preview"]
    )
    assert result.exit_code == 0, result.output
    assert "would: " in result.output
    assert "preview" in result.output
    session.expire_all()
    assert _snapshot(session) == before
    result = app.test_cli_runner().invoke(args=["collections", "run", "--date", "2026-11-20"])
    assert result.exit_code == 0, result.output
    assert "2 opened" in result.output


def test_held_amounts_are_shown_apart_and_never_chased(session: Session) -> None:
    world = make_world(session, periods=("2026-10",))
    line = world.bills(session)[0].lines[0]
    dispute_line(session, world, line)
    session.commit()
    run(session, date(2026, 11, 20))
    assert case_of(session, world.unit) is None  # all that is overdue is held
    messages = session.scalars(
        select(Message).where(
            Message.unit_id == world.unit.id, Message.reason == "collections_tier"
        )
    ).all()
    assert messages == []
    assert case_of(session, world.other_unit).tier == "L1"


def test_aging_buckets_and_limitation_flag() -> None:
    from portal.collections import aging

    assert [
        aging.bucket_of(d) for d in (1, 15, 16, 30, 31, 60, 61, 90, 91, 180, 181, 365, 366)
    ] == [
        "1-15",
        "1-15",
        "16-30",
        "16-30",
        "31-60",
        "31-60",
        "61-90",
        "61-90",
        "91-180",
        "91-180",
        "181-365",
        "181-365",
        ">365",
    ]
    assert aging.bucket_of(0) is None
    assert aging.near_limitation(date(2024, 5, 19), date(2026, 11, 20))
    assert not aging.near_limitation(date(2024, 5, 20), date(2026, 11, 20))


def test_case_near_limitation_is_flagged(session: Session) -> None:
    world = make_world(session, periods=("2024-04", "2024-05"))
    run(session, date(2026, 11, 20))
    assert case_of(session, world.unit).near_limitation is True


def test_an_open_complaint_makes_the_owner_dissatisfied_with_evidence(session: Session) -> None:
    """The feedback domain's profile reaches the case: an open complaint (投诉) is shown as
    evidence, the reason suggested is 不满, and the recovery task names the complaint."""
    from portal.feedback import complaints

    world = make_world(session)
    complaint = complaints.file_complaint(
        session,
        owner=world.owner,
        unit_id=world.unit.id,
        category_code="c_cleaning",
        description="楼道三天没打扫",
        now=NOW,
    )
    session.commit()
    run(session, date(2026, 11, 20))
    case = case_of(session, world.unit)
    assert case.suggested_reason == "dissatisfied"
    signals = {e["signal"]: e["detail"] for e in case.evidence}
    assert complaint.number in signals["open_complaint"]
    run(session, date(2026, 11, 27))
    recovery = session.scalars(
        select(CollectionTask).where(
            CollectionTask.case_id == case.id, CollectionTask.kind == "service_recovery"
        )
    ).all()
    assert recovery
    proposed = session.scalars(select(CollectionTask).where(CollectionTask.tier == "L2")).all()
    assert {t.case_id for t in proposed} == {case_of(session, world.other_unit).id}
