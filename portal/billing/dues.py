"""What an owner owes now: the one computation every page and the API use.

A bill's outstanding splits into what is payable now and what is held by an open dispute
(holds.held_amounts); a bill is overdue when part of its payable amount is past its due date
in the community's own calendar. The bills list, the bill page, the home card, the pay page
and the JSON API all read these figures, so they cannot tell different stories.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import holds
from portal.billing.models import Bill
from portal.communities.models import Community
from portal.timeutil import local_today, zone


@dataclass(frozen=True)
class BillDues:
    bill_id: int
    outstanding_fen: int
    held_fen: int  # under open dispute: not asked for now
    payable_fen: int  # outstanding − held
    days_overdue: int  # 0 unless a payable amount is past the due date
    line_held: dict[int, int] = field(default_factory=dict, compare=False, hash=False)

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


@dataclass(frozen=True)
class UnitDues:
    unit_id: int
    outstanding_fen: int
    held_fen: int
    payable_fen: int
    paid_fen: int  # paid on the unit's bills, all periods
    overdue_fen: int  # payable amounts already past their due dates
    overdue_bills: int
    max_days_overdue: int


def bill_dues(
    session: Session,
    *,
    bills: Sequence[Bill],
    now: datetime | None,
    today: date | None = None,
) -> dict[int, BillDues]:
    """Held, payable and days overdue for each bill (bill id → figures).

    Days overdue are counted in each bill's community calendar at `now` (`today` overrides
    it); with neither, only the amounts are computed (days_overdue 0). What is held comes
    grouped by bill (`holds.held_by_bill`): no bill's lines are read."""
    held = holds.held_by_bill(session, unit_ids=sorted({b.unit_id for b in bills}))
    todays = (
        _local_todays(session, {b.community_id for b in bills}, now)
        if today is None and now is not None
        else {}
    )
    out: dict[int, BillDues] = {}
    for bill in bills:
        line_held = dict(held.get(bill.id, {}))  # each at most its line's outstanding
        bill_held = min(sum(line_held.values()), bill.outstanding_fen)
        payable = bill.outstanding_fen - bill_held
        day = today or todays.get(bill.community_id)
        days = (day - bill.due_date).days if payable > 0 and day is not None else 0
        out[bill.id] = BillDues(
            bill_id=bill.id,
            outstanding_fen=bill.outstanding_fen,
            held_fen=bill_held,
            payable_fen=payable,
            days_overdue=max(0, days),
            line_held=line_held,
        )
    return out


def settled(bill: Bill) -> BillDues:
    """The figures of a bill with nothing outstanding: nothing held, payable or overdue."""
    return BillDues(bill_id=bill.id, outstanding_fen=0, held_fen=0, payable_fen=0, days_overdue=0)


def unit_dues(
    session: Session,
    *,
    unit_ids: Iterable[int],
    now: datetime,
    today: date | None = None,
    open_bill_dues: dict[int, BillDues] | None = None,
) -> dict[int, UnitDues]:
    """Each unit's 应缴 / 已缴 / 逾期 and the amount on hold (unit id → figures).

    Reads the unit's open bills only (plus one sum for what was paid), so it stays cheap
    for a unit with years of history. `open_bill_dues`, when given, receives each open
    bill's figures (a page listing the same bills need not read them again)."""
    ids = sorted(set(unit_ids))
    if not ids:
        return {}
    open_bills = list(
        session.scalars(select(Bill).where(Bill.unit_id.in_(ids), Bill.outstanding_fen > 0))
    )
    per_bill = bill_dues(session, bills=open_bills, now=now, today=today)
    if open_bill_dues is not None:
        open_bill_dues.update(per_bill)
    paid = dict(
        session.execute(
            select(
                Bill.unit_id,
                func.coalesce(
                    func.sum(Bill.amount_fen - Bill.outstanding_fen - Bill.waived_fen), 0
                ),
            )
            .where(Bill.unit_id.in_(ids))
            .group_by(Bill.unit_id)
        ).all()
    )
    out: dict[int, UnitDues] = {}
    for unit_id in ids:
        mine = [per_bill[b.id] for b in open_bills if b.unit_id == unit_id]
        overdue = [d for d in mine if d.overdue]
        out[unit_id] = UnitDues(
            unit_id=unit_id,
            outstanding_fen=sum(d.outstanding_fen for d in mine),
            held_fen=sum(d.held_fen for d in mine),
            payable_fen=sum(d.payable_fen for d in mine),
            paid_fen=int(paid.get(unit_id, 0) or 0),
            overdue_fen=sum(d.payable_fen for d in overdue),
            overdue_bills=len(overdue),
            max_days_overdue=max((d.days_overdue for d in overdue), default=0),
        )
    return out


def _local_todays(session: Session, community_ids: set[int], now: datetime) -> dict[int, date]:
    if not community_ids:
        return {}
    rows = session.execute(
        select(Community.id, Community.timezone).where(Community.id.in_(community_ids))
    ).all()
    return {cid: local_today(zone(tz), now=now) for cid, tz in rows}
