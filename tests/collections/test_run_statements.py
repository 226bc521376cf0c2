"""The daily run's statements do not grow with the number of cases it opens and reminds:
new cases are inserted together and the L1 reminders go through the outbox as one batch."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing import runs as billing_runs
from portal.collections import engine
from portal.collections.models import (
    CaseEvent,
    CollectionContact,
    CollectionTask,
    TaskKind,
    Tier,
)
from portal.notify.models import Message
from tests import factories
from tests.collections.helpers import dispute_line, enable_late_fees, make_world
from tests.factories import NOW
from tests.feedback.test_profiles_batch import count_statements

DAY = date(2026, 11, 20)


def _community_in_arrears(session: Session, owners: int, *, leaks: bool = False) -> int:
    """A community whose `owners` units each owe four months (a co-owner on the first);
    with `leaks`, each unit also has a repair long past its deadline (a dissatisfied owner,
    so the run proposes a service-recovery task for every case)."""
    world = make_world(session, periods=())
    owned = [(world.unit, world.owner), (world.other_unit, world.other_owner)]
    for i in range(owners - 2):
        unit = factories.make_unit(session, community=world.community, area_m2=Decimal("90.00"))
        owner = factories.make_user(session, role="owner", unit=unit, phone=f"1370000{i:04d}")
        owned.append((unit, owner))
    factories.make_user(session, role="owner", unit=world.unit, phone="13700009999")
    if leaks:
        from datetime import timedelta

        from portal.tickets import intake

        for unit, owner in owned:
            intake.create_ticket(
                session,
                community=world.community,
                actor=owner,
                now=NOW - timedelta(days=12),
                category_code="plumbing_electric",
                description="厨房水管漏水",
                unit=unit,
            )
    for period in ("2026-07", "2026-08", "2026-09", "2026-10"):
        billing_runs.generate_bills(
            session, community=world.community, period=billing_runs.period_start(period), now=NOW
        )
    session.commit()
    return world.community.id


def _first_run(
    session: Session, owners: int, *, leaks: bool = False
) -> tuple[engine.RunResult, int]:
    community_id = _community_in_arrears(session, owners, leaks=leaks)
    with count_statements(session) as seen:
        result = engine.run_daily(session, day=DAY, now=NOW, community_ids=[community_id])
        session.flush()
    session.commit()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite cannot return the ids of a multi-row insert in order, so SQLAlchemy inserts
        # new ORM rows one statement each there; PostgreSQL gets one per table and batch.
        seen = [s for s in seen if not s.startswith("INSERT")]
    return result, len(seen)


def test_first_run_statements_stay_flat_as_cases_grow(session: Session) -> None:
    small, few = _first_run(session, 3)
    assert (small.opened, small.reminders) == (3, 3)
    large, many = _first_run(session, 15)
    assert (large.opened, large.reminders) == (15, 15)
    assert many == few, (few, many)


def test_recovery_tasks_are_written_together(session: Session) -> None:
    """A service-recovery task per dissatisfied case, inserted in one batch: a flush per task
    had re-read every object in the session each time (190 s for 2,800 tasks)."""
    small, few = _first_run(session, 3, leaks=True)
    assert (small.opened, small.recovery_tasks) == (3, 3)
    large, many = _first_run(session, 15, leaks=True)
    assert (large.opened, large.recovery_tasks) == (15, 15)
    assert many == few, (few, many)
    tasks = session.scalars(select(CollectionTask).order_by(CollectionTask.id)).all()
    assert len(tasks) == 18
    assert len({t.key for t in tasks}) == 18
    assert all(t.kind == TaskKind.SERVICE_RECOVERY and t.problems for t in tasks)


def test_batched_reminders_write_what_one_by_one_did(session: Session) -> None:
    """Each case: one L1 contact pointing at its pushed message, a tier event after the
    opening event, and one message per owner and channel (the co-owner gets their own)."""
    _community_in_arrears(session, 4)
    result = engine.run_daily(session, day=DAY, now=NOW)
    session.commit()
    assert result.reminders == 4
    contacts = session.scalars(select(CollectionContact).order_by(CollectionContact.id)).all()
    assert len(contacts) == 4
    for contact in contacts:
        assert (contact.tier, contact.outcome, contact.episode) == (Tier.L1, "sent", 1)
        message = session.get(Message, contact.message_id)
        assert message.unit_id == contact.unit_id
        assert message.related_id == contact.case_id
        assert message.channel == contact.channel  # inbox: no SMS gateway configured
        kinds = session.scalars(
            select(CaseEvent.kind)
            .where(CaseEvent.case_id == contact.case_id)
            .order_by(CaseEvent.id)
        ).all()
        assert kinds == ["opened", "tier"]
    per_unit = Counter(
        (m.unit_id, m.channel)
        for m in session.scalars(select(Message).where(Message.reason == "collections_tier"))
    )
    first_unit = contacts[0].unit_id
    assert per_unit[(first_unit, "inbox")] == 2  # owner and co-owner
    assert {n for (u, _), n in per_unit.items() if u != first_unit} == {1}


def test_prefetched_signals_equal_the_ones_read_case_by_case(session: Session) -> None:
    """The run's cache (common-area tickets per building included) gives each case the same
    evidence as reading its signals one case at a time."""
    from datetime import timedelta

    from portal.collections import signals
    from portal.tickets import intake
    from portal.tickets.models import LocationType

    world = make_world(session)
    old = NOW - timedelta(days=12)  # long past every response deadline
    for i in range(12):  # more than the ten a building shows
        intake.create_ticket(
            session,
            community=world.community,
            actor=world.owner,
            now=old + timedelta(minutes=i),
            category_code="plumbing_electric",
            description=f"楼道灯坏了 {i}",
            location_type=LocationType.COMMON_AREA,
            unit=world.unit,
            building_id=world.unit.building_id,
        )
    intake.create_ticket(
        session,
        community=world.community,
        actor=world.owner,
        now=old,
        category_code="plumbing_electric",
        description="厨房水管漏水",
        unit=world.unit,
    )
    engine.run_daily(session, day=DAY, now=NOW)
    session.commit()
    cases = {c.unit_id: c for c in session.scalars(select(engine.CollectionCase))}
    units = [world.unit, world.other_unit]
    at = engine.as_of(DAY, world.community)
    cache = signals.prefetch(session, unit_ids=[u.id for u in units], day=DAY, now=at)
    for unit in units:
        one = signals.gather(session, case=cases[unit.id], unit=unit, day=DAY, now=at)
        many = signals.gather(
            session, case=cases[unit.id], unit=unit, day=DAY, now=at, cache=dict(cache)
        )
        assert (one.common_overdue, one.unit_overdue, one.evidence) == (
            many.common_overdue,
            many.unit_overdue,
            many.evidence,
        )
    assert len(one.common_overdue) == 10


def test_aging_reads_holds_and_late_fees_as_the_lines_say(session: Session) -> None:
    """unit_aging reads only the held and late-fee lines; per bill, its held and late-fee
    amounts equal what the bill's own lines add up to."""
    from portal.billing import late_fees
    from portal.billing.models import Bill, BillLine, LineKind
    from portal.collections import aging

    world = make_world(session)
    enable_late_fees(session, world)
    late_fees.assess_late_fees(session, community=world.community, on=date(2026, 11, 30), now=NOW)
    line = world.bills(session)[1].lines[0]
    dispute_line(session, world, line)
    session.commit()
    day = date(2026, 12, 1)
    by_community = aging.unit_aging(session, day=day, community_id=world.community.id)
    by_units = aging.unit_aging(session, day=day, unit_ids=[world.unit.id, world.other_unit.id])
    assert by_community == by_units
    late_seen = held_seen = 0
    for unit_aging in by_community.values():
        for bill in unit_aging.bills:
            lines = session.scalars(select(BillLine).where(BillLine.bill_id == bill.bill_id)).all()
            late = sum(
                ln.outstanding_fen
                for ln in lines
                if ln.kind == LineKind.LATE_FEE and ln.outstanding_fen > 0
            )
            held = line.outstanding_fen if line in lines else 0
            assert (bill.late_fee_fen, bill.held_fen) == (late, held), bill
            assert session.get(Bill, bill.bill_id).outstanding_fen == bill.outstanding_fen
            late_seen += late
            held_seen += held
    assert late_seen > 0
    assert held_seen > 0
