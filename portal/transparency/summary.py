"""What the public pages, the API and the open-data files show: sums done in SQL, rolled up
over the (small) category tree in Python. Only the latest version of each record counts."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session

from portal.billing import messages as billing_messages
from portal.communities.models import Community, FeeRegime
from portal.money import format_fen
from portal.publication import service as publication
from portal.transparency import budgets
from portal.transparency import service as spending
from portal.transparency.models import SpendingCategory, SpendingItem

HUNDRED = Decimal(100)


def percent(part: int, whole: int) -> Decimal | None:
    """part/whole as a percentage with one decimal (None when whole is 0)."""
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def _by_category_id(
    session: Session, *, community_id: int, start: date, end: date
) -> dict[int, int]:
    rows = session.execute(
        select(SpendingItem.category_id, func.sum(SpendingItem.amount_fen))
        .where(
            SpendingItem.community_id == community_id,
            spending.current_items_filter(),
            SpendingItem.spent_on >= start,
            SpendingItem.spent_on <= end,
        )
        .group_by(SpendingItem.category_id)
    )
    return {category_id: int(total or 0) for category_id, total in rows}


@dataclass
class CategoryTotal:
    id: int
    code: str
    name: str
    total_fen: int = 0
    month_fen: int = 0
    children: list[CategoryTotal] = field(default_factory=list)


def spending_by_category(
    session: Session, *, community_id: int, year: int, month: int | None = None
) -> list[CategoryTotal]:
    """Top-level categories (in display order) with the year's total, the month's, children."""
    start, end = year_bounds(year)
    year_totals = _by_category_id(session, community_id=community_id, start=start, end=end)
    month_totals: dict[int, int] = {}
    if month:
        last = calendar.monthrange(year, month)[1]
        month_totals = _by_category_id(
            session,
            community_id=community_id,
            start=date(year, month, 1),
            end=date(year, month, last),
        )
    tops: dict[int, CategoryTotal] = {}
    every = spending.categories(session, community_id=community_id)  # once, not per pass
    for category in every:
        if category.parent_id is None:
            tops[category.id] = CategoryTotal(category.id, category.code, category.name)
    for category in every:
        year_fen = year_totals.get(category.id, 0)
        month_fen = month_totals.get(category.id, 0)
        top = tops.get(category.parent_id or category.id)
        if top is None:
            continue
        top.total_fen += year_fen
        top.month_fen += month_fen
        if category.parent_id is not None and year_fen:
            top.children.append(
                CategoryTotal(category.id, category.code, category.name, year_fen, month_fen)
            )
    return list(tops.values())


def spending_by_month(session: Session, *, community_id: int, year: int) -> list[dict[str, Any]]:
    """Twelve rows {"month": "YYYY-MM", "total_fen"} (zero when nothing was spent)."""
    start, end = year_bounds(year)
    month = extract("month", SpendingItem.spent_on)
    rows = session.execute(
        select(month, func.sum(SpendingItem.amount_fen))
        .where(
            SpendingItem.community_id == community_id,
            spending.current_items_filter(),
            SpendingItem.spent_on >= start,
            SpendingItem.spent_on <= end,
        )
        .group_by(month)
    )
    totals = {int(m): int(t or 0) for m, t in rows}
    return [{"month": f"{year}-{m:02d}", "total_fen": totals.get(m, 0)} for m in range(1, 13)]


@dataclass(frozen=True)
class BudgetRow:
    code: str
    name: str
    budget_fen: int | None
    actual_fen: int
    expected_fen: int | None  # the budget pro rata to the days elapsed
    status: str  # over | ahead | ok | unbudgeted

    @property
    def variance_fen(self) -> int | None:
        return None if self.budget_fen is None else self.actual_fen - self.budget_fen

    @property
    def used_pct(self) -> Decimal | None:
        return None if self.budget_fen is None else percent(self.actual_fen, self.budget_fen)


def elapsed_fraction(year: int, today: date) -> tuple[int, int]:
    """(days elapsed, days in year): the whole year once it is over."""
    days = 366 if calendar.isleap(year) else 365
    if today.year > year:
        return days, days
    if today.year < year:
        return 0, days
    return today.timetuple().tm_yday, days


def budget_vs_actual(
    session: Session,
    *,
    community_id: int,
    year: int,
    today: date,
    totals: list[CategoryTotal] | None = None,
) -> tuple[list[BudgetRow], Any]:
    """Per top-level category: budget, actual to date, and how it compares (and the budget).

    `totals`: the year's spending_by_category when the caller has it already."""
    if totals is None:
        totals = spending_by_category(session, community_id=community_id, year=year)
    budget = budgets.current_budget(session, community_id=community_id, year=year)
    planned = {line.category_id: line.amount_fen for line in budget.lines} if budget else {}
    elapsed, days = elapsed_fraction(year, today)
    rows: list[BudgetRow] = []
    for total in totals:
        budget_fen = planned.get(total.id)
        if budget_fen is None and not total.total_fen:
            continue
        expected = None if budget_fen is None else budget_fen * elapsed // days
        if budget_fen is None:
            status = "unbudgeted"
        elif total.total_fen > budget_fen:
            status = "over"
        elif expected is not None and total.total_fen * 10 > expected * 11:  # >10% ahead of pace
            status = "ahead"
        else:
            status = "ok"
        rows.append(
            BudgetRow(total.code, total.name, budget_fen, total.total_fen, expected, status)
        )
    return rows, budget


def split_by_weights(amount_fen: int, weights: list[int]) -> list[int]:
    """Split an amount in proportion to weights; the parts add up exactly (largest remainder)."""
    whole = sum(weights)
    if amount_fen <= 0 or whole <= 0:
        return [0 for _ in weights]
    parts = [amount_fen * w // whole for w in weights]
    remainders = sorted(
        range(len(weights)), key=lambda i: (amount_fen * weights[i]) % whole, reverse=True
    )
    for i in remainders[: amount_fen - sum(parts)]:
        parts[i] += 1
    return parts


@dataclass(frozen=True)
class ShareRow:
    code: str
    name: str
    share_fen: int
    community_fen: int


def owner_share(
    session: Session, *, community: Community, year: int, fee_fen: int
) -> list[ShareRow]:
    """An owner's fee for the year split like the community's spending (酬金制: the agreed
    commission first, the rest by spending category)."""
    rows: list[ShareRow] = []
    remaining = fee_fen
    if community.fee_regime == FeeRegime.COMMISSION and community.commission_rate:
        commission = int(
            (Decimal(fee_fen) * community.commission_rate).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
        )
        rows.append(ShareRow("commission", "物业服务企业酬金", commission, 0))
        remaining -= commission
    totals = [
        t
        for t in spending_by_category(session, community_id=community.id, year=year)
        if t.total_fen
    ]
    parts = split_by_weights(remaining, [t.total_fen for t in totals])
    rows.extend(
        ShareRow(t.code, t.name, part, t.total_fen) for t, part in zip(totals, parts, strict=True)
    )
    return rows


def category_names(session: Session, *, community_id: int) -> dict[int, SpendingCategory]:
    return {c.id: c for c in spending.categories(session, community_id=community_id)}


def spending_document(session: Session, *, community: Community, year: int) -> dict[str, Any]:
    """The API / open-data document: totals, budget vs actual and every published item
    (corrections and what they replaced included) with its publication seq and hash."""
    totals = spending_by_category(session, community_id=community.id, year=year)
    budget = budgets.current_budget(session, community_id=community.id, year=year)
    planned = {line.category_id: line.amount_fen for line in budget.lines} if budget else {}
    page = spending.list_items(session, community_id=community.id, year=year, per_page=None)
    ids = [item.id for item in page.items]
    entries = publication.latest_for(
        session, community_id=community.id, kind=spending.KIND_SPENDING, record_ids=ids
    )
    replaced = spending.superseded_by(session, ids)
    items = []
    for item in sorted(page.items, key=lambda i: (i.spent_on, i.id)):
        entry = entries.get(item.id)
        top = item.category.parent or item.category
        items.append(
            {
                "id": item.id,
                "date": item.spent_on.isoformat(),
                "category": item.category.code,
                "category_name": item.category.name,
                "top_category": top.code,
                "amount_fen": item.amount_fen,
                "vendor": item.vendor,
                "description": item.description,
                "evidence": [e.file.sha256 for e in item.evidence],
                "supersedes": item.supersedes_id,
                "correction_reason": item.correction_reason,
                "superseded_by": replaced.get(item.id),
                "seq": entry.seq if entry else None,
                "hash": entry.hash if entry else None,
            }
        )
    return {
        "community": community.code,
        "year": year,
        "total_fen": sum(t.total_fen for t in totals),
        "budget_total_fen": sum(planned.values()) if budget else None,
        "categories": [
            {
                "code": t.code,
                "name": t.name,
                "total_fen": t.total_fen,
                "budget_fen": planned.get(t.id),
                "children": [
                    {"code": c.code, "name": c.name, "total_fen": c.total_fen} for c in t.children
                ],
            }
            for t in totals
            if t.total_fen or t.id in planned
        ],
        "items": items,
    }


def bill_spending_line(session: Session, community: Community, period: date) -> tuple[str, str]:
    """One line of what the fees paid for in the month before `period` (Chinese, English)."""
    month = (period.replace(day=1) - timedelta(days=1)).replace(day=1)
    rows = spending_by_category(
        session, community_id=community.id, year=month.year, month=month.month
    )
    spent = sorted((r for r in rows if r.month_fen > 0), key=lambda r: -r.month_fen)
    if not spent:
        return (
            f"{month.month}月的支出明细在小区收支公开页可查。",
            f"What the fees paid for in {month:%B} is published on the community page.",
        )
    top = "、".join(f"{r.name} {format_fen(r.month_fen)}" for r in spent[:3])
    top_en = ", ".join(f"{r.name} {format_fen(r.month_fen)}" for r in spent[:3])
    total = format_fen(sum(r.month_fen for r in spent))
    return (
        f"{month.month}月物业费主要用于：{top}（当月支出共 {total}）。",
        f"In {month:%B} the fees paid mainly for: {top_en} (total {total}).",
    )


billing_messages.on_spending_line(bill_spending_line)
