"""Monthly collection summaries: per community, building and billing period, the billed,
collected and waived fen of its bills, changed by the same statements' transaction that
changes the bills, so dashboards never read stale figures (and `rebuild` recomputes them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from portal.billing.models import Bill, CollectionSummary
from portal.communities.models import Unit

Key = tuple[int, int, date]  # community_id, building_id, period
# (billed, collected, waived) fen changes for one key
Delta = tuple[int, int, int]


def add(session: Session, deltas: Mapping[Key, Delta]) -> None:
    """Add these changes to the summary rows (created on first use), in one upsert."""
    rows = [
        {
            "community_id": c,
            "building_id": b,
            "period": p,
            "billed_fen": billed,
            "collected_fen": collected,
            "waived_fen": waived,
        }
        for (c, b, p), (billed, collected, waived) in sorted(deltas.items())
        if billed or collected or waived
    ]
    if not rows:
        return
    table = CollectionSummary.__table__
    dialect = session.get_bind().dialect.name
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    # Sorted keys: two transactions touching the same rows lock them in the same order.
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["community_id", "building_id", "period"],
            set_={
                name: table.c[name] + stmt.excluded[name]
                for name in ("billed_fen", "collected_fen", "waived_fen")
            },
        ),
        rows,
    )


def bills_changed(session: Session, changes: Mapping[int, tuple[int, int, int]]) -> None:
    """Record that bills' (amount, outstanding, waived) fen moved by these deltas."""
    if not changes:
        return
    where = list(changes)
    deltas: dict[Key, list[int]] = {}
    for start in range(0, len(where), 5000):
        chunk = where[start : start + 5000]
        for bill_id, community_id, building_id, period in session.execute(
            select(Bill.id, Bill.community_id, Unit.building_id, Bill.period)
            .join(Unit, Unit.id == Bill.unit_id)
            .where(Bill.id.in_(chunk))
        ):
            amount, outstanding, waived = changes[bill_id]
            acc = deltas.setdefault((community_id, building_id, period), [0, 0, 0])
            acc[0] += amount - waived
            acc[1] += amount - waived - outstanding
            acc[2] += waived
    add(session, {key: (a, b, c) for key, (a, b, c) in deltas.items()})


def new_bills(session: Session, bills: Iterable[tuple[int, int, date, int]]) -> None:
    """Record new, unpaid bills given as (community_id, building_id, period, amount_fen)."""
    deltas: dict[Key, tuple[int, int, int]] = {}
    for community_id, building_id, period, amount in bills:
        key = (community_id, building_id, period)
        billed, collected, waived = deltas.get(key, (0, 0, 0))
        deltas[key] = (billed + amount, collected, waived)
    add(session, deltas)


def computed(session: Session, *, community_id: int | None = None) -> select:
    """The summary rows recomputed from the bills (what the table must equal)."""
    query = (
        select(
            Bill.community_id,
            Unit.building_id,
            Bill.period,
            func.sum(Bill.amount_fen - Bill.waived_fen).label("billed_fen"),
            func.sum(Bill.amount_fen - Bill.waived_fen - Bill.outstanding_fen).label(
                "collected_fen"
            ),
            func.sum(Bill.waived_fen).label("waived_fen"),
        )
        .join(Unit, Unit.id == Bill.unit_id)
        .group_by(Bill.community_id, Unit.building_id, Bill.period)
    )
    if community_id is not None:
        query = query.where(Bill.community_id == community_id)
    return query


def rebuild(session: Session, *, community_id: int | None = None) -> int:
    """Replace the summary rows (of one community, or all) by their recomputation."""
    clear = delete(CollectionSummary)
    if community_id is not None:
        clear = clear.where(CollectionSummary.community_id == community_id)
    session.execute(clear)
    query = computed(session, community_id=community_id)
    session.execute(
        insert(CollectionSummary).from_select(
            ["community_id", "building_id", "period", "billed_fen", "collected_fen", "waived_fen"],
            query,
        )
    )
    session.expire_all()
    # Counted, not rowcount: drivers report -1 for INSERT … SELECT.
    count = select(func.count()).select_from(CollectionSummary)
    if community_id is not None:
        count = count.where(CollectionSummary.community_id == community_id)
    return int(session.scalar(count) or 0)


def differences(session: Session, *, community_id: int | None = None) -> list[tuple]:
    """Keys whose stored row differs from the recomputation (empty when in step)."""
    stored_q = select(
        CollectionSummary.community_id,
        CollectionSummary.building_id,
        CollectionSummary.period,
        CollectionSummary.billed_fen,
        CollectionSummary.collected_fen,
        CollectionSummary.waived_fen,
    )
    if community_id is not None:
        stored_q = stored_q.where(CollectionSummary.community_id == community_id)
    stored = {tuple(r[:3]): tuple(int(v) for v in r[3:]) for r in session.execute(stored_q)}
    fresh = {
        tuple(r[:3]): tuple(int(v) for v in r[3:])
        for r in session.execute(computed(session, community_id=community_id))
    }
    zero = (0, 0, 0)
    return sorted(
        (key, stored.get(key, zero), fresh.get(key, zero))
        for key in stored.keys() | fresh.keys()
        if stored.get(key, zero) != fresh.get(key, zero)
    )
