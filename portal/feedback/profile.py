"""Each unit's satisfaction profile: a 0-100 score with every input, its weight and evidence.

This is the function collections (and anything after feedback in DOMAINS) calls:

    profile = satisfaction_profile(session, unit_id=unit.id, now=now)
    profile.score          # 0-100 int, or None when nothing is known about the unit
    profile.dissatisfied   # score < 60 or an open complaint (the arrears-list filter)
    profile.as_json()      # {"score", "inputs", "penalties", "evidence", "trend", ...}

Definition (stated on the unit page too):
- inputs, each mapped to 0-100 by (mean - 1) × 25 from the 1-5 scale, over the last 365 days:
  repair ratings (weight 30), complaint-answer ratings (weight 20), survey answers (the mean of
  each response's rating questions, weight 50). The base is the weighted mean of the inputs that
  have data (weights re-normalised); with no input at all it is 50 (neutral) if there are
  problems below, else the score is None.
- penalties for open problems right now: each open complaint −10 (at most −30), each open
  service dispute −10 (at most −20), each overdue open ticket of the unit or of its building's
  common areas −5 (at most −15). The score is clamped to 0-100 and rounded half-up.
- trend: mean of the 0-100 points of the last 90 days against the 90 days before (±5 = steady).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from portal.communities.models import Unit
from portal.db import chunked
from portal.disputes.models import OPEN_STATUSES as DISPUTE_OPEN
from portal.disputes.models import Dispute, TargetType
from portal.feedback.models import Survey, SurveyResponse
from portal.tickets.models import (
    OPEN_STATUSES,
    LocationType,
    Ticket,
    TicketCategory,
    TicketKind,
    TicketRating,
)
from portal.tickets.queries import overdue_clause

WINDOW_DAYS = 365
TREND_DAYS = 90
LOW_SCORE = 60  # below this a unit counts as dissatisfied
LOW_RATING = 2
WEIGHTS = {"repair_ratings": 30, "complaint_ratings": 20, "survey": 50}
PENALTIES = {  # per item, cap
    "open_complaints": (10, 30),
    "open_service_disputes": (10, 20),
    "overdue_tickets": (5, 15),
}
SIGNAL_LABELS: dict[str, Any] = {
    "repair_ratings": _l("报修评价"),
    "complaint_ratings": _l("投诉处理评价"),
    "survey": _l("满意度调查"),
    "open_complaints": _l("未办结的投诉"),
    "open_service_disputes": _l("未结的服务异议"),
    "overdue_tickets": _l("超时未办的工单"),
    "low_rating": _l("低分评价"),
    "low_survey": _l("调查低分"),
}
NEUTRAL = Decimal(50)


def to_100(mean_1_5: Decimal) -> Decimal:
    """A 1-5 mean on the 0-100 scale (1 → 0, 3 → 50, 5 → 100)."""
    return (mean_1_5 - 1) * 25


@dataclass
class ProfileInput:
    signal: str
    weight: int
    count: int
    value: Decimal | None  # 0-100 (one decimal)


@dataclass
class Penalty:
    signal: str
    count: int
    points: int  # deducted


@dataclass
class SatisfactionProfile:
    unit_id: int
    as_of: datetime
    score: int | None
    base: Decimal | None
    inputs: list[ProfileInput]
    penalties: list[Penalty]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    trend: str | None = None  # improving | steady | worsening | None (too little data)
    trend_delta: Decimal | None = None
    fresh_at: datetime | None = None  # the newest input it rests on
    open_complaints: int = 0

    @property
    def dissatisfied(self) -> bool:
        return self.open_complaints > 0 or (self.score is not None and self.score < LOW_SCORE)

    def as_json(self) -> dict[str, Any]:
        """The shape of `"satisfaction"` in the collections case JSON (DESIGN.md §3)."""
        return {
            "score": self.score,
            "dissatisfied": self.dissatisfied,
            "inputs": [
                {
                    "signal": i.signal,
                    "weight": i.weight,
                    "count": i.count,
                    "value": None if i.value is None else str(i.value),
                }
                for i in self.inputs
            ],
            "penalties": [
                {"signal": p.signal, "count": p.count, "points": -p.points} for p in self.penalties
            ],
            "evidence": [
                {**e, "at": e["at"].isoformat() if e.get("at") else None} for e in self.evidence
            ],
            "trend": self.trend,
            "as_of": self.as_of.isoformat(),
            "fresh_at": self.fresh_at.isoformat() if self.fresh_at else None,
        }


def _one(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), ROUND_HALF_UP)


Rating = tuple[int, datetime, int, str, str, str]  # score, at, ticket id, number, category, comment
Response = tuple[int, datetime, int, str]  # mean ×100, at, survey id, title
Complaint = tuple[int, str, str, datetime]  # ticket id, number, category, created at
ServiceDispute = tuple[int, str, datetime]  # dispute id, reason, created at
Overdue = tuple[int, str, str, datetime]  # ticket id, number, category, resolution due


def satisfaction_profile(
    session: Session, *, unit_id: int, now: datetime, window_days: int = WINDOW_DAYS
) -> SatisfactionProfile:
    """The unit's satisfaction now: score, inputs with weights, penalties, evidence, trend
    (one unit of `satisfaction_profiles`, so the case page and the lists never disagree)."""
    return satisfaction_profiles(session, [unit_id], now, window_days=window_days)[unit_id]


def satisfaction_profiles(
    session: Session,
    unit_ids: Iterable[int],
    now: datetime,
    *,
    window_days: int = WINDOW_DAYS,
) -> dict[int, SatisfactionProfile]:
    """The profiles of many units at once, equal to `satisfaction_profile` unit by unit, in six
    grouped queries per 900 units (lists and the daily collections run: no query per unit)."""
    since = now - timedelta(days=window_days)
    ids = sorted(set(unit_ids))
    ratings: dict[tuple[int, str], list[Rating]] = {}
    responses: dict[int, list[Response]] = {}
    complaints: dict[int, list[Complaint]] = {}
    disputes: dict[int, list[ServiceDispute]] = {}
    overdue: dict[int, list[Overdue]] = {}
    for part in chunked(ids):
        for row in session.execute(
            select(
                Ticket.unit_id,
                Ticket.kind,
                TicketRating.score,
                TicketRating.created_at,
                Ticket.id,
                Ticket.number,
                TicketCategory.name,
                TicketRating.comment,
            )
            .join(Ticket, Ticket.id == TicketRating.ticket_id)
            .join(TicketCategory, TicketCategory.id == Ticket.category_id)
            .where(
                Ticket.unit_id.in_(part),
                Ticket.kind.in_([TicketKind.REPAIR, TicketKind.COMPLAINT]),
                TicketRating.created_at >= since,
                TicketRating.created_at <= now,
            )
            .order_by(TicketRating.created_at.desc(), TicketRating.id.desc())
        ):
            ratings.setdefault((row[0], row[1]), []).append(
                (row[2], row[3], row[4], row[5], row[6], row[7])
            )
        for row in session.execute(
            select(
                SurveyResponse.unit_id,
                SurveyResponse.mean_x100,
                SurveyResponse.created_at,
                Survey.id,
                Survey.title,
            )
            .join(Survey, Survey.id == SurveyResponse.survey_id)
            .where(
                SurveyResponse.unit_id.in_(part),
                SurveyResponse.mean_x100.is_not(None),
                SurveyResponse.created_at >= since,
                SurveyResponse.created_at <= now,
            )
            .order_by(SurveyResponse.created_at.desc(), SurveyResponse.id.desc())
        ):
            responses.setdefault(row[0], []).append((row[1], row[2], row[3], row[4]))
        for row in session.execute(
            select(Ticket.unit_id, Ticket.id, Ticket.number, TicketCategory.name, Ticket.created_at)
            .join(TicketCategory, TicketCategory.id == Ticket.category_id)
            .where(
                Ticket.unit_id.in_(part),
                Ticket.kind == TicketKind.COMPLAINT,
                Ticket.status.in_(OPEN_STATUSES),
            )
            .order_by(Ticket.created_at, Ticket.id)
        ):
            complaints.setdefault(row[0], []).append((row[1], row[2], row[3], row[4]))
        for row in session.execute(
            select(Dispute.unit_id, Dispute.id, Dispute.reason, Dispute.created_at)
            .where(
                Dispute.unit_id.in_(part),
                Dispute.target_type == TargetType.SERVICE,
                Dispute.status.in_(DISPUTE_OPEN),
            )
            .order_by(Dispute.id)
        ):
            disputes.setdefault(row[0], []).append((row[1], row[2], row[3]))
        building_of = dict(
            session.execute(select(Unit.id, Unit.building_id).where(Unit.id.in_(part))).all()
        )
        units_of_building: dict[int, list[int]] = {}
        for unit_id, building_id in building_of.items():
            units_of_building.setdefault(building_id, []).append(unit_id)
        common = and_(
            Ticket.location_type == LocationType.COMMON_AREA,
            Ticket.building_id.in_(sorted(units_of_building) or [-1]),
        )
        for row in session.execute(
            select(
                Ticket.unit_id,
                Ticket.location_type,
                Ticket.building_id,
                Ticket.id,
                Ticket.number,
                TicketCategory.name,
                Ticket.resolution_due_at,
            )
            .join(TicketCategory, TicketCategory.id == Ticket.category_id)
            .where(
                or_(Ticket.unit_id.in_(part), common),
                Ticket.kind == TicketKind.REPAIR,
                overdue_clause(now),
            )
            .order_by(Ticket.resolution_due_at, Ticket.id)
        ):
            owners: set[int] = {row[0]} if row[0] in building_of else set()
            if row[1] == LocationType.COMMON_AREA:
                owners.update(units_of_building.get(row[2], []))
            for unit_id in sorted(owners):
                overdue.setdefault(unit_id, []).append((row[3], row[4], row[5], row[6]))
    return {
        unit_id: _assemble(
            unit_id,
            now,
            ratings.get((unit_id, TicketKind.REPAIR), []),
            ratings.get((unit_id, TicketKind.COMPLAINT), []),
            responses.get(unit_id, []),
            complaints.get(unit_id, []),
            disputes.get(unit_id, []),
            overdue.get(unit_id, []),
        )
        for unit_id in ids
    }


def _assemble(
    unit_id: int,
    now: datetime,
    repairs: list[Rating],
    complaint_ratings: list[Rating],
    responses: list[Response],
    open_complaints: list[Complaint],
    disputes: list[ServiceDispute],
    overdue: list[Overdue],
) -> SatisfactionProfile:
    """The score, penalties, evidence and trend from the unit's rows (shared by both readers)."""
    points: list[tuple[datetime, Decimal]] = []  # (when, 0-100) for the trend
    inputs = []
    for signal, rows in (("repair_ratings", repairs), ("complaint_ratings", complaint_ratings)):
        value = None
        if rows:
            value = _one(to_100(Decimal(sum(r[0] for r in rows)) / len(rows)))
            points.extend((r[1], to_100(Decimal(r[0]))) for r in rows)
        inputs.append(ProfileInput(signal, WEIGHTS[signal], len(rows), value))
    survey_value = None
    if responses:
        survey_value = _one(to_100(Decimal(sum(r[0] for r in responses)) / (100 * len(responses))))
        points.extend((r[1], to_100(Decimal(r[0]) / 100)) for r in responses)
    inputs.append(ProfileInput("survey", WEIGHTS["survey"], len(responses), survey_value))

    penalties = []
    for signal, count in (
        ("open_complaints", len(open_complaints)),
        ("open_service_disputes", len(disputes)),
        ("overdue_tickets", len(overdue)),
    ):
        if count:
            each, cap = PENALTIES[signal]
            penalties.append(Penalty(signal, count, min(each * count, cap)))

    present = [i for i in inputs if i.value is not None]
    base: Decimal | None = None
    if present:
        total_weight = sum(i.weight for i in present)
        weighted = sum((i.value * i.weight for i in present if i.value is not None), Decimal(0))
        base = _one(weighted / total_weight)
    elif penalties:
        base = NEUTRAL
    score = None
    if base is not None:
        raw = base - sum(p.points for p in penalties)
        score = int(max(Decimal(0), min(Decimal(100), raw)).quantize(Decimal(1), ROUND_HALF_UP))

    evidence: list[dict[str, Any]] = []
    for kind, rows in (("repair", repairs), ("complaint", complaint_ratings)):
        for score_1_5, at, ticket_id, number, category, comment in rows:
            if score_1_5 <= LOW_RATING:
                evidence.append(
                    {
                        "signal": "low_rating",
                        "kind": kind,
                        "ref": f"ticket:{ticket_id}",
                        "detail": f"{number} {category} {score_1_5}/5 {comment}".strip(),
                        "at": at,
                    }
                )
    for mean_x100, at, survey_id, title in responses:
        if mean_x100 <= 250:
            evidence.append(
                {
                    "signal": "low_survey",
                    "ref": f"survey:{survey_id}",
                    "detail": f"{title} {Decimal(mean_x100) / 100}/5",
                    "at": at,
                }
            )
    for ticket_id, number, category, at in open_complaints:
        evidence.append(
            {
                "signal": "open_complaints",
                "ref": f"ticket:{ticket_id}",
                "detail": f"{number} {category}",
                "at": at,
            }
        )
    for dispute_id, reason, at in disputes:
        evidence.append(
            {
                "signal": "open_service_disputes",
                "ref": f"dispute:{dispute_id}",
                "detail": f"#{dispute_id} {reason}",
                "at": at,
            }
        )
    for ticket_id, number, category, due in overdue:
        evidence.append(
            {
                "signal": "overdue_tickets",
                "ref": f"ticket:{ticket_id}",
                "detail": f"{number} {category}",
                "at": due,
            }
        )

    trend, delta = _trend(points, now)
    fresh = max((p[0] for p in points), default=None)
    return SatisfactionProfile(
        unit_id=unit_id,
        as_of=now,
        score=score,
        base=base,
        inputs=inputs,
        penalties=penalties,
        evidence=evidence,
        trend=trend,
        trend_delta=delta,
        fresh_at=fresh,
        open_complaints=len(open_complaints),
    )


def _trend(points: list[tuple[datetime, Decimal]], now: datetime) -> tuple[str | None, Any]:
    recent_from = now - timedelta(days=TREND_DAYS)
    before_from = now - timedelta(days=2 * TREND_DAYS)
    recent = [v for at, v in points if at >= recent_from]
    before = [v for at, v in points if before_from <= at < recent_from]
    if not recent or not before:
        return None, None
    delta = _one(sum(recent, Decimal(0)) / len(recent) - sum(before, Decimal(0)) / len(before))
    if delta > 5:
        return "improving", delta
    if delta < -5:
        return "worsening", delta
    return "steady", delta


def unit_open_complaint_ids(session: Session, *, community_id: int) -> set[int]:
    """Units of a community with an open complaint (one set-based query, for list filters)."""
    return set(
        session.scalars(
            select(func.distinct(Ticket.unit_id)).where(
                Ticket.community_id == community_id,
                Ticket.kind == TicketKind.COMPLAINT,
                Ticket.status.in_(OPEN_STATUSES),
                Ticket.unit_id.is_not(None),
            )
        )
    )
