"""Aging: what a unit owes past due, less what is held under open dispute, from the oldest
unpaid due date, in the buckets the seed documents use. Set-based per community."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import holds
from portal.billing.models import Bill, BillLine, LineKind
from portal.db import chunked

BUCKETS = (
    ("1-15", 1, 15),
    ("16-30", 16, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    ("181-365", 181, 365),
    (">365", 366, None),
)
BUCKET_NAMES = tuple(name for name, _lo, _hi in BUCKETS)
# Civil Code art. 188: three years; we flag a debt whose oldest unpaid due date is older than
# 30 months, leaving six months to deliver a reminder that restarts the period (art. 195).
LIMITATION_WARNING_MONTHS = 30


def bucket_of(days: int | None) -> str | None:
    """The aging bucket of a number of days overdue (None when nothing is overdue)."""
    if days is None or days < 1:
        return None
    for name, low, high in BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return BUCKETS[-1][0]


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (clamped to the month's end)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    return date(year, month, 28)


def near_limitation(oldest_due: date | None, day: date) -> bool:
    """True when the oldest unpaid due date is more than 30 months before `day`."""
    return oldest_due is not None and oldest_due < months_before(day, LIMITATION_WARNING_MONTHS)


@dataclass
class BillAging:
    bill_id: int
    period: date
    period_months: int
    due_date: date
    outstanding_fen: int
    held_fen: int
    late_fee_fen: int

    @property
    def collectable_fen(self) -> int:
        return max(0, self.outstanding_fen - self.held_fen)


@dataclass
class UnitAging:
    unit_id: int
    bills: list[BillAging] = field(default_factory=list)  # past due, oldest first

    @property
    def overdue_fen(self) -> int:
        """Collectable: past due and not under open dispute."""
        return sum(b.collectable_fen for b in self.bills)

    @property
    def held_fen(self) -> int:
        return sum(b.held_fen for b in self.bills)

    @property
    def oldest_due_date(self) -> date | None:
        dues = [b.due_date for b in self.bills if b.collectable_fen > 0]
        return min(dues) if dues else None

    def days_overdue(self, day: date) -> int | None:
        oldest = self.oldest_due_date
        return (day - oldest).days if oldest else None


def unit_aging(
    session: Session,
    *,
    day: date,
    community_id: int | None = None,
    unit_ids: Iterable[int] | None = None,
) -> dict[int, UnitAging]:
    """Past-due bills (due before `day`) with an outstanding balance, per unit."""
    # The same bills for both queries below: open and past due, of the community or units.
    past_due = [Bill.outstanding_fen > 0, Bill.due_date < day]
    if community_id is not None:
        past_due.append(Bill.community_id == community_id)
    if unit_ids is not None:
        ids = list(unit_ids)
        if not ids:
            return {}
        past_due.append(Bill.unit_id.in_(ids))
    query = select(
        Bill.id,
        Bill.unit_id,
        Bill.period,
        Bill.period_months,
        Bill.due_date,
        Bill.outstanding_fen,
    ).where(*past_due)
    rows = session.execute(query.order_by(Bill.unit_id, Bill.due_date, Bill.id)).all()
    if not rows:
        return {}
    held_lines = holds.held_amounts(session, unit_ids={r[1] for r in rows})
    held_bill: dict[int, int] = {}
    late_bill: dict[int, int] = {}
    # Only the lines that matter: those on hold and the late fees (reading every open line
    # of a community, 300k of them at 20,000 units, took half the run).
    wanted = {r[0] for r in rows}
    for part in chunked(held_lines):
        for line_id, bill_id in session.execute(
            select(BillLine.id, BillLine.bill_id).where(BillLine.id.in_(part))
        ):
            if bill_id in wanted:
                held_bill[bill_id] = held_bill.get(bill_id, 0) + held_lines[line_id]
    for bill_id, outstanding in session.execute(
        select(BillLine.bill_id, func.sum(BillLine.outstanding_fen))
        .join(Bill, Bill.id == BillLine.bill_id)
        .where(BillLine.kind == LineKind.LATE_FEE, BillLine.outstanding_fen > 0, *past_due)
        .group_by(BillLine.bill_id)
    ):
        late_bill[bill_id] = int(outstanding)
    out: dict[int, UnitAging] = {}
    for bill_id, unit_id, period, months, due, outstanding in rows:
        out.setdefault(unit_id, UnitAging(unit_id)).bills.append(
            BillAging(
                bill_id=bill_id,
                period=period,
                period_months=months,
                due_date=due,
                outstanding_fen=int(outstanding),
                held_fen=min(int(outstanding), held_bill.get(bill_id, 0)),
                late_fee_fen=late_bill.get(bill_id, 0),
            )
        )
    return out
