"""Billing's figures as the transparency pages show them: collection rates, fee standards in
force, an owner's fees for a year. Everything an owner sees of other owners is aggregate and
k-anonymous (k = 5).

Billing comes through billing_service(), which tests replace to feed fixed figures; a page
still renders (and shows nothing for a section) when a figure is missing.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

from sqlalchemy.orm import Session

from portal.billing import queries as billing_queries
from portal.billing import standards as billing_standards
from portal.timeutil import local_today

K_ANONYMITY = 5


def billing_service() -> Any:
    """Billing's published figures (tests replace this function to feed fixed ones)."""
    return SimpleNamespace(
        current_standards=billing_standards.current_standards,
        collection_stats=billing_queries.collection_stats,
        periods_not_yet_due=billing_queries.periods_not_yet_due,
        owner_fee_for_year=billing_queries.owner_fee_for_year,
    )


def _billing(name: str) -> Any:
    module = billing_service()
    return getattr(module, name, None) if module is not None else None


def as_rate(value: Any) -> Decimal | None:
    """A collection rate as a Decimal fraction (0-1), from whatever billing returns."""
    if value is None or isinstance(value, bool):
        return None
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        return None
    if not rate.is_finite():
        return None
    if rate > 1:  # a percentage
        rate = rate / 100
    return rate


def rate_number(value: Any) -> Any:
    """A rate as a JSON number (fraction 0-1, four decimals), or None. Parsing the decimal
    text gives the JSON number without ever computing in binary floating point."""
    rate = as_rate(value)
    return None if rate is None else json.loads(str(rate.quantize(Decimal("0.0001"))))


def as_percent(value: Any) -> Decimal | None:
    rate = as_rate(value)
    return None if rate is None else (rate * 100).quantize(Decimal("0.1"))


def fee_standards_in_force(session: Session, *, community_id: int, on: date) -> list[Any]:
    """The billing domain's current standards, or [] when billing is not installed."""
    current_standards = _billing("current_standards")
    if current_standards is None:
        return []
    return list(current_standards(session, community_id=community_id, on=on))


def collection_stats(
    session: Session, *, community_id: int, today: date | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Collection rate by month and by building; a building of fewer than 5 units shows no
    rate, and nothing below building level is ever returned. A month with a bill not yet due
    is `in_progress`: its rate is still climbing, so charts must not read it as a drop."""
    stats_fn = _billing("collection_stats")
    empty: dict[str, list[dict[str, Any]]] = {"collection_rate_by_month": [], "by_building": []}
    if stats_fn is None:
        return empty
    raw = (
        stats_fn(session, community_id=community_id)
        if today is None
        else stats_fn(session, community_id=community_id, today=today)
    ) or {}
    open_fn = _billing("periods_not_yet_due")
    not_due = (
        {
            p.strftime("%Y-%m")
            for _c, p in open_fn(
                session, community_ids=[community_id], today=today or local_today()
            )
        }
        if open_fn is not None
        else set()
    )
    months = []
    for row in raw.get("collection_rate_by_month", []):
        billed, collected = int(row.get("billed_fen") or 0), int(row.get("collected_fen") or 0)
        months.append(
            {
                "month": str(row.get("month")),
                "billed_fen": billed,
                "collected_fen": collected,
                "rate": row.get("rate"),
                "in_progress": str(row.get("month")) in not_due,
            }
        )
    buildings = []
    for row in raw.get("by_building", []):
        units = int(row.get("units") or 0)
        buildings.append(
            {
                "building": str(row.get("building")),
                "units": units,
                "rate": row.get("rate") if units >= K_ANONYMITY else None,
            }
        )
    result = dict(raw)
    result.update({"collection_rate_by_month": months, "by_building": buildings})
    return result


def collected_in_year(session: Session, *, community_id: int, year: int) -> int | None:
    """Fees collected for the year's billing months (None when billing is absent)."""
    if _billing("collection_stats") is None:
        return None
    stats = collection_stats(session, community_id=community_id)
    prefix = f"{year}-"
    return sum(
        row["collected_fen"]
        for row in stats["collection_rate_by_month"]
        if row["month"].startswith(prefix)
    )


def owner_fee_for_year(session: Session, *, unit_id: int, year: int) -> int | None:
    """The sum of a unit's bills for the year in fen (None when billing is absent)."""
    fee_fn = _billing("owner_fee_for_year")
    if fee_fn is None:
        return None
    return int(fee_fn(session, unit_id=unit_id, year=year) or 0)
