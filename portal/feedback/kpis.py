"""The manager's feedback KPIs by local month, each in one grouped SQL query.

Definitions (the dashboard states them too), for the community's months [from, to]:
- satisfaction (survey): mean of the month's survey responses (each the mean of its rating
  answers, 1-5) on the 0-100 scale; shown only with at least 5 responses (k-anonymity).
- satisfaction (repairs): mean owner rating of repairs received that month, 0-100; ≥ 5 ratings.
- complaint rate: units with a complaint received that month ÷ the community's units (target
  < 5%); complaints counted by the month they were received.
- complaint response: mean hours to first response and to the answer (resolution) of the
  month's complaints; on time = answered within the SLA ÷ complaints with a decided SLA.
- recovery: tasks opened in the month, of those done, and done by their deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal.communities.models import Building, Community, Unit
from portal.feedback.models import RecoveryStatus, RecoveryTask, SurveyResponse
from portal.tickets.models import Ticket, TicketCategory, TicketKind, TicketStatus
from portal.timeutil import to_local, zone

K = 5
SATISFACTION_TARGET = Decimal(80)
COMPLAINT_RATE_TARGET = Decimal("0.05")
HOUR = Decimal(3600)


def _q(value: Decimal, places: str = "0.1") -> Decimal:
    return value.quantize(Decimal(places), ROUND_HALF_UP)


def month_list(now: datetime, tz_name: str | None, months: int) -> list[str]:
    """The last `months` local months up to now's, oldest first ("2026-11")."""
    local = to_local(now, zone(tz_name))
    year, month = local.year, local.month
    out = []
    for _ in range(months):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


@dataclass
class MonthKpis:
    month: str
    responses: int = 0
    survey_satisfaction: Decimal | None = None
    ratings: int = 0
    repair_satisfaction: Decimal | None = None
    complaints: int = 0
    complaint_units: int = 0
    complaint_rate: Decimal | None = None
    first_response_h: Decimal | None = None
    answer_h: Decimal | None = None
    answered_on_time: Decimal | None = None
    recovery_opened: int = 0
    recovery_done: int = 0
    recovery_on_time: int = 0

    @property
    def recovery_completion(self) -> Decimal | None:
        if not self.recovery_opened:
            return None
        return _q(Decimal(self.recovery_done) / self.recovery_opened, "0.0001")


@dataclass
class Dashboard:
    community: Community
    months: list[str]
    units: int
    rows: list[MonthKpis] = field(default_factory=list)
    satisfaction_target: Decimal = SATISFACTION_TARGET
    complaint_rate_target: Decimal = COMPLAINT_RATE_TARGET


def dashboard(
    session: Session, *, community: Community, now: datetime, months: int = 12
) -> Dashboard:
    """Every month's feedback KPIs for a community (four grouped queries, no per-row loops)."""
    periods = month_list(now, community.timezone, months)
    first, last = periods[0], periods[-1]
    units = (
        session.scalar(select(func.count(Unit.id)).where(Unit.community_id == community.id)) or 0
    )
    rows = {p: MonthKpis(p) for p in periods}

    for period, n, total in session.execute(
        select(
            SurveyResponse.period, func.count(SurveyResponse.id), func.sum(SurveyResponse.mean_x100)
        )
        .join(Unit, Unit.id == SurveyResponse.unit_id)
        .where(
            Unit.community_id == community.id,
            SurveyResponse.mean_x100.is_not(None),
            SurveyResponse.period.between(first, last),
        )
        .group_by(SurveyResponse.period)
    ):
        row = rows[period]
        row.responses = int(n)
        if n >= K:
            row.survey_satisfaction = _q((Decimal(total) / (100 * n) - 1) * 25)

    for period, n, total in session.execute(
        select(Ticket.period, func.count(Ticket.id), func.sum(Ticket.rating_score))
        .where(
            Ticket.community_id == community.id,
            Ticket.kind == TicketKind.REPAIR,
            Ticket.rating_score.is_not(None),
            Ticket.period.between(first, last),
        )
        .group_by(Ticket.period)
    ):
        row = rows[period]
        row.ratings = int(n)
        if n >= K:
            row.repair_satisfaction = _q((Decimal(total) / n - 1) * 25)

    live = Ticket.status != TicketStatus.CANCELLED
    for period, n, unit_n, fr_n, fr_sum, res_n, res_sum, met, decided in session.execute(
        select(
            Ticket.period,
            func.count(Ticket.id),
            func.count(func.distinct(Ticket.unit_id)),
            func.count(Ticket.first_response_s),
            func.sum(Ticket.first_response_s),
            func.count(Ticket.resolution_s),
            func.sum(Ticket.resolution_s),
            func.coalesce(func.sum(case((Ticket.resolution_met.is_(True), 1), else_=0)), 0),
            func.count(Ticket.resolution_met),
        )
        .where(
            Ticket.community_id == community.id,
            Ticket.kind == TicketKind.COMPLAINT,
            live,
            Ticket.period.between(first, last),
        )
        .group_by(Ticket.period)
    ):
        row = rows[period]
        row.complaints = int(n)
        row.complaint_units = int(unit_n)
        if units:
            row.complaint_rate = _q(Decimal(unit_n) / units, "0.0001")
        if fr_n:
            row.first_response_h = _q(Decimal(fr_sum) / fr_n / HOUR)
        if res_n:
            row.answer_h = _q(Decimal(res_sum) / res_n / HOUR)
        if decided:
            row.answered_on_time = _q(Decimal(met) / decided, "0.0001")

    for period, opened, done, on_time in session.execute(
        select(
            RecoveryTask.period,
            func.count(RecoveryTask.id),
            func.coalesce(
                func.sum(case((RecoveryTask.status == RecoveryStatus.DONE, 1), else_=0)), 0
            ),
            func.coalesce(func.sum(case((RecoveryTask.done_on_time.is_(True), 1), else_=0)), 0),
        )
        .where(RecoveryTask.community_id == community.id, RecoveryTask.period.between(first, last))
        .group_by(RecoveryTask.period)
    ):
        row = rows[period]
        row.recovery_opened, row.recovery_done, row.recovery_on_time = (
            int(opened),
            int(done),
            int(on_time),
        )
    return Dashboard(community, periods, units, [rows[p] for p in periods])


@dataclass
class BuildingKpis:
    building: str
    units: int
    responses: int
    satisfaction: Decimal | None  # 0-100, None below k responses
    complaint_units: int
    complaint_rate: Decimal | None


def by_building(
    session: Session, *, community: Community, now: datetime, days: int = 365
) -> list[BuildingKpis]:
    """Survey satisfaction and complaint rate per building over the last `days` (k = 5)."""
    since = now - timedelta(days=days)
    units = dict(
        session.execute(
            select(Building.id, func.count(Unit.id))
            .join(Unit, Unit.building_id == Building.id)
            .where(Building.community_id == community.id)
            .group_by(Building.id)
        ).all()
    )
    names = dict(
        session.execute(
            select(Building.id, Building.name).where(Building.community_id == community.id)
        ).all()
    )
    surveys_by = {
        b: (int(n), int(total or 0))
        for b, n, total in session.execute(
            select(
                SurveyResponse.building_id,
                func.count(SurveyResponse.id),
                func.sum(SurveyResponse.mean_x100),
            )
            .join(Building, Building.id == SurveyResponse.building_id)
            .where(
                Building.community_id == community.id,
                SurveyResponse.mean_x100.is_not(None),
                SurveyResponse.created_at >= since,
            )
            .group_by(SurveyResponse.building_id)
        )
    }
    complaints_by = dict(
        session.execute(
            select(Unit.building_id, func.count(func.distinct(Ticket.unit_id)))
            .join(Unit, Unit.id == Ticket.unit_id)
            .where(
                Ticket.community_id == community.id,
                Ticket.kind == TicketKind.COMPLAINT,
                Ticket.status != TicketStatus.CANCELLED,
                Ticket.created_at >= since,
            )
            .group_by(Unit.building_id)
        ).all()
    )
    out = []
    for building_id, name in sorted(names.items(), key=lambda item: item[1]):
        n, total = surveys_by.get(building_id, (0, 0))
        unit_count = int(units.get(building_id, 0))
        complained = int(complaints_by.get(building_id, 0))
        out.append(
            BuildingKpis(
                building=name,
                units=unit_count,
                responses=n,
                satisfaction=_q((Decimal(total) / (100 * n) - 1) * 25) if n >= K else None,
                complaint_units=complained,
                complaint_rate=(
                    _q(Decimal(complained) / unit_count, "0.0001") if unit_count >= K else None
                ),
            )
        )
    return out


MONTH_HEADER = [
    "month",
    "survey_responses",
    "survey_satisfaction_0_100",
    "repair_ratings",
    "repair_satisfaction_0_100",
    "complaints",
    "complaint_units",
    "complaint_rate",
    "complaint_first_response_h",
    "complaint_answer_h",
    "complaint_answered_on_time",
    "recovery_opened",
    "recovery_done",
    "recovery_done_on_time",
]


def month_rows(board: Dashboard) -> Iterator[list[Any]]:
    for r in board.rows:
        yield [
            r.month,
            r.responses,
            r.survey_satisfaction,
            r.ratings,
            r.repair_satisfaction,
            r.complaints,
            r.complaint_units,
            r.complaint_rate,
            r.first_response_h,
            r.answer_h,
            r.answered_on_time,
            r.recovery_opened,
            r.recovery_done,
            r.recovery_on_time,
        ]


COMPLAINT_HEADER = [
    "number",
    "period",
    "category",
    "status",
    "created_at_utc",
    "first_response_h",
    "answer_h",
    "answered_on_time",
    "rating",
]


def complaint_rows(session: Session, *, community_id: int) -> Iterator[list[Any]]:
    """Every complaint of the community (no owner names or units), read in batches."""
    result = session.execute(
        select(
            Ticket.number,
            Ticket.period,
            TicketCategory.name,
            Ticket.status,
            Ticket.created_at,
            Ticket.first_response_s,
            Ticket.resolution_s,
            Ticket.resolution_met,
            Ticket.rating_score,
        )
        .join(TicketCategory, TicketCategory.id == Ticket.category_id)
        .where(Ticket.community_id == community_id, Ticket.kind == TicketKind.COMPLAINT)
        .order_by(Ticket.id)
        .execution_options(yield_per=500)
    )
    for number, period, category, status, created, fr, res, met, rating in result:
        yield [
            number,
            period,
            category,
            status,
            created.isoformat(),
            None if fr is None else _q(Decimal(fr) / HOUR),
            None if res is None else _q(Decimal(res) / HOUR),
            met,
            rating,
        ]
