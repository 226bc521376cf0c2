"""Responsiveness statistics: set-based SQL over the tickets table, small groups suppressed.

Definitions (the page and the API say the same):
- tickets: requests received in the period (by local month of receipt), cancelled ones included;
  every other figure leaves cancelled requests out.
- first response / resolution hours: from receipt to the first response (acknowledgement or any
  later step) / to the latest resolution; median and 90th percentile with linear interpolation
  between ranks (PostgreSQL's percentile_cont), over the tickets that have that time.
- SLA compliance: tickets that got both their first response and their resolution in time,
  divided by tickets whose outcome is known (resolved, or already past a due time).
- reopen rate: tickets reopened at least once, divided by tickets resolved at least once.
- mean rating: mean of the owners' 1-5 ratings of those tickets.
- backlog: requests not yet resolved, as of now (not a monthly figure).
A figure computed from fewer than MIN_SAMPLE tickets is withheld ("too few to rate").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from portal.communities.models import Community
from portal.tickets.models import OPEN_STATUSES, Ticket, TicketCategory, TicketKind, TicketStatus
from portal.tickets.setup import category_name
from portal.timeutil import to_local, zone

MIN_SAMPLE = 5
MAX_MONTHS = 60
HOUR = Decimal(3600)
TWO_PLACES = Decimal("0.01")
FOUR_PLACES = Decimal("0.0001")


def _q(value: Decimal, places: Decimal) -> Decimal:
    return value.quantize(places, rounding=ROUND_HALF_UP)


def json_number(value: Decimal | None) -> Any:
    """A Decimal as a JSON number (hours and rates are not money), None as null."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    exponent = -value.as_tuple().exponent  # type: ignore[operator]
    scale = 10**exponent
    return int(value * scale) / scale


@dataclass
class Figures:
    """Raw counts and order statistics of one group; the properties apply suppression."""

    tickets: int = 0
    cancelled: int = 0
    fr_n: int = 0
    fr_median_s: Decimal | None = None
    fr_p90_s: Decimal | None = None
    res_n: int = 0
    res_median_s: Decimal | None = None
    res_p90_s: Decimal | None = None
    sla_n: int = 0
    sla_met: int = 0
    resolved_n: int = 0
    reopened: int = 0
    rating_n: int = 0
    rating_sum: int = 0
    backlog: int | None = None

    @staticmethod
    def _hours(seconds: Decimal | None, n: int) -> Decimal | None:
        if seconds is None or n < MIN_SAMPLE:
            return None
        return _q(seconds / HOUR, TWO_PLACES)

    @property
    def median_first_response_h(self) -> Decimal | None:
        return self._hours(self.fr_median_s, self.fr_n)

    @property
    def p90_first_response_h(self) -> Decimal | None:
        return self._hours(self.fr_p90_s, self.fr_n)

    @property
    def median_resolution_h(self) -> Decimal | None:
        return self._hours(self.res_median_s, self.res_n)

    @property
    def p90_resolution_h(self) -> Decimal | None:
        return self._hours(self.res_p90_s, self.res_n)

    @property
    def sla_compliance(self) -> Decimal | None:
        """Share 0-1 of tickets meeting both targets."""
        if self.sla_n < MIN_SAMPLE:
            return None
        return _q(Decimal(self.sla_met) / Decimal(self.sla_n), FOUR_PLACES)

    @property
    def reopen_rate(self) -> Decimal | None:
        if self.resolved_n < MIN_SAMPLE:
            return None
        return _q(Decimal(self.reopened) / Decimal(self.resolved_n), FOUR_PLACES)

    @property
    def mean_rating(self) -> Decimal | None:
        if self.rating_n < MIN_SAMPLE:
            return None
        return _q(Decimal(self.rating_sum) / Decimal(self.rating_n), TWO_PLACES)

    def as_json(self) -> dict[str, Any]:
        return {
            "tickets": self.tickets,
            "median_first_response_h": json_number(self.median_first_response_h),
            "p90_first_response_h": json_number(self.p90_first_response_h),
            "median_resolution_h": json_number(self.median_resolution_h),
            "p90_resolution_h": json_number(self.p90_resolution_h),
            "sla_compliance": json_number(self.sla_compliance),
            "reopen_rate": json_number(self.reopen_rate),
            "mean_rating": json_number(self.mean_rating),
            "samples": {
                "first_response": self.fr_n,
                "resolution": self.res_n,
                "sla": self.sla_n,
                "resolved": self.resolved_n,
                "ratings": self.rating_n,
            },
            "backlog": self.backlog,
        }


def period_range(today: date, months: int) -> tuple[str, str, list[str]]:
    """The last `months` local months up to and including today's: (from, to, all of them)."""
    months = max(1, min(MAX_MONTHS, months))
    index = today.year * 12 + today.month - 1
    periods = [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - months + 1, index + 1)]
    return periods[0], periods[-1], periods


def _interpolate(lo: Any, hi: Any, numerator: int, denominator: int) -> Decimal | None:
    """lo + (hi - lo) * numerator / denominator, exactly."""
    if lo is None:
        return None
    lo_d = Decimal(lo)
    hi_d = Decimal(hi if hi is not None else lo)
    return lo_d + (hi_d - lo_d) * Decimal(numerator) / Decimal(denominator)


def _base_filter(community_id: int, period_from: str, period_to: str) -> ColumnElement[bool]:
    return and_(
        Ticket.community_id == community_id,
        Ticket.period >= period_from,
        Ticket.period <= period_to,
        Ticket.kind == TicketKind.REPAIR,  # responsiveness is about repairs; complaints apart
    )


GROUPINGS = ("all", "category", "month", "category_month")
OrderStats = dict[str, tuple[int, Decimal | None, Decimal | None]]


def _key(grouping: str, category_id: int, period: str) -> tuple[Any, ...]:
    return {
        "all": (),
        "category": (category_id,),
        "month": (period,),
        "category_month": (category_id, period),
    }[grouping]


def figures(
    session: Session,
    *,
    community_id: int,
    period_from: str,
    period_to: str,
    group: str,
    now: datetime,
) -> dict[tuple[Any, ...], Figures]:
    """Figures per group: "all", "category", "month" or "category_month"."""
    return all_figures(
        session,
        community_id=community_id,
        period_from=period_from,
        period_to=period_to,
        groupings=(group,),
        now=now,
    )[group]


def all_figures(
    session: Session,
    *,
    community_id: int,
    period_from: str,
    period_to: str,
    groupings: tuple[str, ...],
    now: datetime,
) -> dict[str, dict[tuple[Any, ...], Figures]]:
    """Figures for several groupings at once, in two set-based queries.

    Counts are summed by the database per category and month (the finest grain) and rolled up
    here, a few hundred rows at most; medians and percentiles cannot be rolled up, so the
    database computes them for every grouping asked for.
    """
    where = _base_filter(community_id, period_from, period_to)
    live = Ticket.status != TicketStatus.CANCELLED
    decided = and_(
        live,
        or_(
            Ticket.resolution_met.is_not(None),
            Ticket.resolution_due_at < now,
            Ticket.first_response_met.is_(False),
            and_(Ticket.acknowledged_at.is_(None), Ticket.first_response_due_at < now),
        ),
    )
    met = and_(live, Ticket.resolution_met.is_(True), Ticket.first_response_met.is_(True))

    def count_if(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    counts = session.execute(
        select(
            Ticket.category_id,
            Ticket.period,
            func.count(Ticket.id),
            count_if(Ticket.status == TicketStatus.CANCELLED),
            count_if(decided),
            count_if(met),
            count_if(and_(live, Ticket.resolved_at.is_not(None))),
            count_if(and_(live, Ticket.resolved_at.is_not(None), Ticket.reopen_count > 0)),
            count_if(and_(live, Ticket.rating_score.is_not(None))),
            func.coalesce(func.sum(case((live, Ticket.rating_score), else_=0)), 0),
        )
        .where(where)
        .group_by(Ticket.category_id, Ticket.period)
    ).all()
    result: dict[str, dict[tuple[Any, ...], Figures]] = {g: {} for g in groupings}
    for row in counts:
        category_id, period = row[0], row[1]
        values = [int(v or 0) for v in row[2:]]
        for grouping in groupings:
            figure = result[grouping].setdefault(_key(grouping, category_id, period), Figures())
            figure.tickets += values[0]
            figure.cancelled += values[1]
            figure.sla_n += values[2]
            figure.sla_met += values[3]
            figure.resolved_n += values[4]
            figure.reopened += values[5]
            figure.rating_n += values[6]
            figure.rating_sum += values[7]
    ranked = order_statistics(
        session,
        community_id=community_id,
        period_from=period_from,
        period_to=period_to,
        groupings=groupings,
    )
    for grouping in groupings:
        for key, values in ranked[grouping].items():
            figure = result[grouping].setdefault(key, Figures())
            figure.fr_n, figure.fr_median_s, figure.fr_p90_s = values["fr"]
            figure.res_n, figure.res_median_s, figure.res_p90_s = values["res"]
    return result


# PostgreSQL computes every grouping in one pass with its ordered-set aggregates; the result
# equals the window-function ranking used elsewhere (a test checks one against the other).
_PG_PERCENTILES = """
SELECT {category} AS category_id, {period} AS period, {grouping} AS g,
  count(first_response_s) AS fr_n,
  (percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY first_response_s))::numeric[] AS fr,
  count(resolution_s) AS res_n,
  (percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolution_s))::numeric[] AS res
FROM tickets
WHERE community_id = :community_id AND period >= :period_from AND period <= :period_to
  AND status <> 'cancelled'
GROUP BY GROUPING SETS ({sets})
"""
_GROUP_COLUMNS = {
    "all": (),
    "category": ("category_id",),
    "month": ("period",),
    "category_month": ("category_id", "period"),
}


def _pg_percentiles_sql(groupings: tuple[str, ...]) -> tuple[str, dict[int, str]]:
    """The query for these groupings, and which GROUPING() value means which grouping."""
    present = [
        c for c in ("category_id", "period") if any(c in _GROUP_COLUMNS[g] for g in groupings)
    ]
    bits = {}
    for grouping in groupings:
        value = 0
        for column in present:  # GROUPING() sets a bit for each column aggregated away
            value = value * 2 + (column not in _GROUP_COLUMNS[grouping])
        bits[value] = grouping
    sql = _PG_PERCENTILES.format(
        category="category_id" if "category_id" in present else "NULL::integer",
        period="period" if "period" in present else "NULL::varchar",
        grouping=f"GROUPING({', '.join(present)})" if present else "0",
        sets=", ".join("(" + ", ".join(_GROUP_COLUMNS[g]) + ")" for g in groupings),
    )
    return sql, bits


def order_statistics(
    session: Session,
    *,
    community_id: int,
    period_from: str,
    period_to: str,
    groupings: tuple[str, ...],
    native: bool = True,
) -> dict[str, dict[tuple[Any, ...], OrderStats]]:
    """Median and p90 of first-response and resolution seconds (cancelled left out)."""
    if native and session.get_bind().dialect.name == "postgresql":
        out: dict[str, dict[tuple[Any, ...], OrderStats]] = {g: {} for g in groupings}
        sql, by_bit = _pg_percentiles_sql(groupings)
        params = {"community_id": community_id, "period_from": period_from, "period_to": period_to}
        for row in session.execute(text(sql), params).mappings():
            grouping = by_bit[row["g"]]
            key = _key(grouping, row["category_id"], row["period"])
            out[grouping][key] = {
                metric: (int(row[f"{metric}_n"]), *_exact_pair(row[metric]))
                for metric in ("fr", "res")
            }
        return out
    where = and_(
        _base_filter(community_id, period_from, period_to),
        Ticket.status != TicketStatus.CANCELLED,
    )
    return {
        g: _order_statistics(
            session, cols=[getattr(Ticket, c) for c in _GROUP_COLUMNS[g]], where=where
        )
        for g in groupings
    }


def _exact_pair(values: list[Decimal | None] | None) -> tuple[Decimal | None, Decimal | None]:
    """(median, p90) from percentile_cont, which interpolates in binary floating point.

    Interpolating integer seconds at 0.5 or at tenths gives a multiple of 0.1, so rounding
    to 0.1 recovers the exact value the rank-based method computes.
    """
    if not values or values[0] is None:
        return None, None
    median, p90 = (v.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) for v in values)
    return median, p90


def _order_statistics(
    session: Session, *, cols: list[Any], where: ColumnElement[bool]
) -> dict[tuple[Any, ...], dict[str, tuple[int, Decimal | None, Decimal | None]]]:
    """Median and p90 of first-response and resolution seconds per group, ranked in SQL.

    The database numbers the rows of each group in order (window functions, on SQLite and
    PostgreSQL alike) and hands back only the few ranks the percentiles need.
    """
    partition = cols or [literal(1)]
    ranked = (
        select(
            *[c.label(f"g{i}") for i, c in enumerate(cols)],
            Ticket.first_response_s.label("fr"),
            Ticket.resolution_s.label("res"),
            func.row_number()
            .over(
                partition_by=partition,
                order_by=[Ticket.first_response_s.is_(None), Ticket.first_response_s],
            )
            .label("fr_rn"),
            func.count(Ticket.first_response_s).over(partition_by=partition).label("fr_n"),
            func.row_number()
            .over(
                partition_by=partition,
                order_by=[Ticket.resolution_s.is_(None), Ticket.resolution_s],
            )
            .label("res_rn"),
            func.count(Ticket.resolution_s).over(partition_by=partition).label("res_n"),
        )
        .where(where)
        .subquery()
    )
    picks: list[Any] = []
    for metric in ("fr", "res"):
        value, rank, n = ranked.c[metric], ranked.c[f"{metric}_rn"], ranked.c[f"{metric}_n"]
        # Zero-based positions: median (n-1)/2 → ranks ⌊⌋ and ⌈⌉; p90 9(n-1)/10 likewise.
        positions = {
            "med_lo": (n - 1) // 2,
            "med_hi": n // 2,
            "p90_lo": (9 * (n - 1)) // 10,
            "p90_hi": (9 * (n - 1) + 9) // 10,
        }
        for name, position in positions.items():
            picks.append(func.max(case((rank == position + 1, value))).label(f"{metric}_{name}"))
        picks.append(func.max(n).label(f"{metric}_n"))
    group_cols = [ranked.c[f"g{i}"] for i in range(len(cols))]
    rows = session.execute(select(*group_cols, *picks).group_by(*group_cols)).all()
    out: dict[tuple[Any, ...], dict[str, tuple[int, Decimal | None, Decimal | None]]] = {}
    width = len(cols)
    for row in rows:
        data = row._mapping
        key = tuple(row[:width])
        stats: dict[str, tuple[int, Decimal | None, Decimal | None]] = {}
        for metric in ("fr", "res"):
            n = int(data[f"{metric}_n"] or 0)
            if n == 0:
                stats[metric] = (0, None, None)
                continue
            median = _interpolate(data[f"{metric}_med_lo"], data[f"{metric}_med_hi"], 1, 2)
            frac = (9 * (n - 1)) % 10
            p90 = _interpolate(data[f"{metric}_p90_lo"], data[f"{metric}_p90_hi"], frac, 10)
            stats[metric] = (n, median, p90)
        out[key] = stats
    return out


def backlog(session: Session, *, community_id: int) -> dict[int, int]:
    """Open requests per category right now."""
    rows = session.execute(
        select(Ticket.category_id, func.count(Ticket.id))
        .where(
            Ticket.community_id == community_id,
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.kind == TicketKind.REPAIR,
        )
        .group_by(Ticket.category_id)
    ).all()
    return {int(category_id): int(count) for category_id, count in rows}


@dataclass
class CategoryRow:
    category: TicketCategory
    name: str
    figures: Figures


@dataclass
class Responsiveness:
    community: Community
    months: int
    period_from: str
    period_to: str
    periods: list[str]
    as_of: datetime
    overall: Figures
    categories: list[CategoryRow]
    by_month: dict[str, Figures]
    by_category_month: dict[tuple[int, str], Figures] = field(default_factory=dict)


def responsiveness(
    session: Session,
    *,
    community: Community,
    months: int,
    now: datetime,
    detail: bool = False,
) -> Responsiveness:
    """Everything the page and the API show for the last `months` months."""
    today = to_local(now, zone(community.timezone)).date()
    months = max(1, min(MAX_MONTHS, months))
    period_from, period_to, periods = period_range(today, months)
    groupings = ("all", "category", "month") + (("category_month",) if detail else ())
    found = all_figures(
        session,
        community_id=community.id,
        period_from=period_from,
        period_to=period_to,
        groupings=groupings,
        now=now,
    )
    overall = found["all"].get((), Figures())
    per_category = found["category"]
    open_now = backlog(session, community_id=community.id)
    overall.backlog = sum(open_now.values())
    # Read-only (no default categories made here): a GET must not write. A community that
    # has none yet has no tickets either.
    categories = session.scalars(
        select(TicketCategory)
        .where(
            TicketCategory.community_id == community.id,
            TicketCategory.kind == TicketKind.REPAIR,
        )
        .order_by(TicketCategory.position, TicketCategory.id)
    ).all()
    rows = []
    for category in categories:
        figure = per_category.get((category.id,), Figures())
        figure.backlog = open_now.get(category.id, 0)
        if not category.active and figure.tickets == 0 and figure.backlog == 0:
            continue
        rows.append(CategoryRow(category=category, name=category_name(category), figures=figure))
    by_month = {key[0]: value for key, value in found["month"].items()}
    by_category_month = {
        (key[0], key[1]): value for key, value in found.get("category_month", {}).items()
    }
    return Responsiveness(
        community=community,
        months=months,
        period_from=period_from,
        period_to=period_to,
        periods=periods,
        as_of=now,
        overall=overall,
        categories=rows,
        by_month=by_month,
        by_category_month=by_category_month,
    )


def responsiveness_json(report: Responsiveness) -> dict[str, Any]:
    """The API shape (DESIGN.md §3), with the period and sample sizes stated."""
    return {
        "community": report.community.code,
        "months": report.months,
        "period": {"from": report.period_from, "to": report.period_to},
        "as_of": report.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "min_sample": MIN_SAMPLE,
        "categories": [
            {"category": row.category.code, "name": row.name, **row.figures.as_json()}
            for row in report.categories
        ],
        "overall": report.overall.as_json(),
        "by_month": [
            {"month": period, **report.by_month.get(period, Figures()).as_json()}
            for period in report.periods
        ],
    }
