"""Reading bills: owner- and staff-scoped look-ups, a unit's history, and the figures
other domains publish (an owner's fees for a year, collection rates, k-anonymous)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.billing.models import (
    Bill,
    BillLine,
    CollectionSummary,
    LineKind,
)
from portal.billing.runs import add_months
from portal.communities.models import (
    Building,
    Ownership,
    Unit,
)
from portal.timeutil import local_today

# ---------------------------------------------------------------- owner look-ups


def owned_unit_ids(session: Session, user: User) -> list[int]:
    return list(
        session.scalars(
            select(Ownership.unit_id).where(
                Ownership.user_id == user.id, Ownership.ended_on.is_(None)
            )
        )
    )


def get_owned_bill(session: Session, *, owner: User, bill_id: int) -> Bill | None:
    """The bill if it belongs to a unit the user currently owns; None (→ 404) otherwise."""
    return session.scalar(
        select(Bill)
        # The page names each line's standard (its approval reference): load them together.
        .options(selectinload(Bill.lines).selectinload(BillLine.fee_standard))
        .where(Bill.id == bill_id, Bill.unit_id.in_(owned_unit_ids(session, owner) or [-1]))
    )


def bills_for_units(
    session: Session, *, unit_ids: list[int], status: str = "all", limit: int = 500
) -> list[Bill]:
    """Bills of these units, unpaid first then newest, with their lines."""
    query = (
        select(Bill)
        .options(selectinload(Bill.lines), selectinload(Bill.unit))
        .where(Bill.unit_id.in_(unit_ids or [-1]))
    )
    if status == "unpaid":
        query = query.where(Bill.outstanding_fen > 0)
    elif status == "paid":
        query = query.where(Bill.outstanding_fen == 0)
    query = query.order_by(
        case((Bill.outstanding_fen > 0, 0), else_=1), Bill.period.desc(), Bill.unit_id
    ).limit(limit)
    return list(session.scalars(query))


@dataclass(frozen=True)
class BillPage:
    bills: list[Bill]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def bills_page(
    session: Session,
    *,
    unit_ids: list[int],
    status: str = "all",
    page: int = 1,
    per_page: int = 24,
    load_units: bool = True,
    load_lines: bool = True,
) -> BillPage:
    """One page of the units' bills, unpaid first then newest (the owner's list and API).

    `load_units=False` when the caller has the units in the session already: each bill's
    unit then comes from the identity map, without a query. `load_lines=False` for a list
    that shows no lines (the owner's /bills)."""
    where = [Bill.unit_id.in_(unit_ids or [-1])]
    if status == "unpaid":
        where.append(Bill.outstanding_fen > 0)
    elif status == "paid":
        where.append(Bill.outstanding_fen == 0)
    total = int(session.scalar(select(func.count(Bill.id)).where(*where)) or 0)
    page = max(1, page)
    options = ([selectinload(Bill.lines)] if load_lines else []) + (
        [selectinload(Bill.unit)] if load_units else []
    )
    bills = session.scalars(
        select(Bill)
        .options(*options)
        .where(*where)
        .order_by(
            case((Bill.outstanding_fen > 0, 0), else_=1),
            Bill.period.desc(),
            Bill.unit_id,
            Bill.id,
        )
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return BillPage(bills=list(bills), total=total, page=page, per_page=per_page)


def get_scoped_bill(
    session: Session, *, staff: User, bill_id: int, roles: tuple[str, ...]
) -> Bill | None:
    """A bill of a community where the staff user holds one of `roles`."""
    bill = session.get(Bill, bill_id)
    if bill is None:
        return None
    if staff.is_admin or bill.community_id in staff.community_ids(*roles):
        return bill
    return None


def unit_history(session: Session, *, unit_id: int) -> list[dict[str, Any]]:
    """The unit's ledger as an owner reads it: charges, payments, credits, with balance."""
    from portal.billing.models import Account, JournalEntry, Posting

    rows = session.execute(
        select(
            JournalEntry.id,
            JournalEntry.kind,
            JournalEntry.memo,
            JournalEntry.created_at,
            JournalEntry.source_type,
            JournalEntry.source_id,
            func.sum(Posting.amount_fen).label("amount"),
        )
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(Account, Account.id == Posting.account_id)
        .where(Account.unit_id == unit_id)
        .group_by(
            JournalEntry.id,
            JournalEntry.kind,
            JournalEntry.memo,
            JournalEntry.created_at,
            JournalEntry.source_type,
            JournalEntry.source_id,
        )
        .order_by(JournalEntry.created_at, JournalEntry.id)
    ).all()
    balance = 0
    out = []
    for row in rows:
        balance += int(row.amount)
        out.append(
            {
                "entry_id": row.id,
                "kind": row.kind,
                "memo": row.memo,
                "at": row.created_at,
                "amount_fen": int(row.amount),
                "balance_fen": balance,
                "source_type": row.source_type,
                "source_id": row.source_id,
            }
        )
    return out


# ---------------------------------------------------------------- figures for others


def owner_fee_for_year(session: Session, *, unit_id: int, year: int) -> int:
    """What the unit was charged (fee lines, not late fees) for periods in a year."""
    total = session.scalar(
        select(func.coalesce(func.sum(BillLine.amount_fen), 0))
        .join(Bill, Bill.id == BillLine.bill_id)
        .where(
            Bill.unit_id == unit_id,
            BillLine.kind == LineKind.CHARGE,
            Bill.period >= date(year, 1, 1),
            Bill.period < date(year + 1, 1, 1),
        )
    )
    return int(total or 0)


K_ANONYMITY = 5


def collection_stats(
    session: Session, *, community_id: int, months: int = 12, today: date | None = None
) -> dict[str, Any]:
    """Collection rate by billing month and by building; buildings under 5 units → null."""
    today = today or local_today()
    since = add_months(today.replace(day=1), -(months - 1))
    # From the monthly summary rows (kept in step with the bills in the same transaction),
    # not by re-adding every bill of the last 12 months on each request.
    summary = CollectionSummary
    rows = session.execute(
        select(summary.period, func.sum(summary.billed_fen), func.sum(summary.collected_fen))
        .where(summary.community_id == community_id, summary.period >= since)
        .group_by(summary.period)
        .order_by(summary.period)
    ).all()
    by_month = [
        {
            "month": p.strftime("%Y-%m"),
            "billed_fen": int(b or 0),
            "collected_fen": int(c or 0),
            "rate": _rate(c, b),
        }
        for p, b, c in rows
    ]
    unit_counts = dict(
        session.execute(
            select(Unit.building_id, func.count(Unit.id))
            .where(Unit.community_id == community_id)
            .group_by(Unit.building_id)
        ).all()
    )
    sums = {
        bid: (b, c)
        for bid, b, c in session.execute(
            select(
                summary.building_id, func.sum(summary.billed_fen), func.sum(summary.collected_fen)
            )
            .where(summary.community_id == community_id, summary.period >= since)
            .group_by(summary.building_id)
        ).all()
    }
    buildings = session.scalars(
        select(Building).where(Building.community_id == community_id).order_by(Building.code)
    ).all()
    by_building = []
    for building in buildings:
        count = unit_counts.get(building.id, 0)
        b, c = sums.get(building.id, (0, 0))
        by_building.append(
            {
                "building": building.name,
                "code": building.code,
                "units": count,
                "rate": _rate(c, b) if count >= K_ANONYMITY else None,
            }
        )
    return {"collection_rate_by_month": by_month, "by_building": by_building}


def _rate(collected: Any, billed: Any) -> Any:
    """A ratio rounded to 4 places (a JSON number), None when nothing was billed."""
    if not billed:
        return None
    return round(int(collected or 0) / int(billed), 4)


def periods_not_yet_due(
    session: Session, *, community_ids: list[int], today: date
) -> set[tuple[int, date]]:
    """(community, billing period) pairs with a bill whose due date has not passed: their
    collection rate is still in progress (owners have until the due date to pay)."""
    if not community_ids:
        return set()
    rows = session.execute(
        select(Bill.community_id, Bill.period)
        .where(Bill.community_id.in_(community_ids), Bill.due_date >= today)
        .group_by(Bill.community_id, Bill.period)
    ).all()
    return {(int(c), p) for c, p in rows}
