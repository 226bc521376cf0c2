"""What the community page shows owners and the public of satisfaction: the latest published
survey by dimension and by building (k-anonymous: no figure below 5 answers), and the
complaint rate beside repair responsiveness. Aggregates only, in grouped SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.communities.models import Building, Community, Unit
from portal.feedback.models import (
    QuestionKind,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    SurveyStatus,
)
from portal.feedback.surveys import DIMENSIONS, K_ANONYMITY, eligible_unit_count, to_100
from portal.tickets import stats as ticket_stats
from portal.tickets.models import Ticket, TicketKind

COMPLAINT_WINDOW_DAYS = 365
COMPLAINT_RATE_TARGET = Decimal("0.05")  # the seeds' target: under 5% of units


@dataclass
class Figure:
    label: str
    answers: int
    score: Decimal | None  # 0-100, None below k answers


@dataclass
class CommunitySatisfaction:
    survey: Survey | None
    responses: int = 0
    response_rate: Decimal | None = None
    dimensions: list[Figure] = field(default_factory=list)
    buildings: list[Figure] = field(default_factory=list)
    units: int = 0
    complaint_units: int = 0
    complaint_rate: Decimal | None = None  # 0-1, None under k units
    complaint_rate_target: Decimal = COMPLAINT_RATE_TARGET
    repairs: Any = None  # tickets.stats.Figures of the last 12 months (suppression inside)
    k: int = K_ANONYMITY


def latest_published_survey(session: Session, *, community_id: int) -> Survey | None:
    """The most recent closed survey whose results were published to owners."""
    return session.scalar(
        select(Survey)
        .where(
            Survey.community_id == community_id,
            Survey.status == SurveyStatus.CLOSED,
            Survey.published_at.is_not(None),
        )
        .order_by(Survey.closes_at.desc(), Survey.id.desc())
        .limit(1)
    )


def _score(total: int, n: int) -> Decimal:
    return to_100(Decimal(total) / n)


def community_satisfaction(
    session: Session, *, community: Community, now: datetime, k: int = K_ANONYMITY
) -> CommunitySatisfaction:
    """Satisfaction by dimension and building from the latest published survey, the share of
    units that complained in the last 12 months, and repair responsiveness beside it."""
    survey = latest_published_survey(session, community_id=community.id)
    out = CommunitySatisfaction(survey=survey, k=k)
    if survey is not None:
        out.responses = (
            session.scalar(
                select(func.count(SurveyResponse.id)).where(SurveyResponse.survey_id == survey.id)
            )
            or 0
        )
        eligible = eligible_unit_count(session, survey)
        if eligible:
            out.response_rate = (Decimal(out.responses) / eligible).quantize(
                Decimal("0.0001"), ROUND_HALF_UP
            )
        # A dimension may have several questions: its answers are pooled.
        pooled: dict[str, list[int]] = {}
        order: list[str] = []
        for dimension, text, n, total in session.execute(
            select(
                SurveyQuestion.dimension,
                SurveyQuestion.text,
                func.count(SurveyAnswer.id),
                func.coalesce(func.sum(SurveyAnswer.score), 0),
            )
            .join(SurveyAnswer, SurveyAnswer.question_id == SurveyQuestion.id)
            .where(
                SurveyQuestion.survey_id == survey.id,
                SurveyQuestion.kind == QuestionKind.RATING,
                SurveyAnswer.score.is_not(None),
            )
            .group_by(SurveyQuestion.id, SurveyQuestion.dimension, SurveyQuestion.text)
            .order_by(SurveyQuestion.id)
        ):
            key = str(DIMENSIONS[dimension]) if dimension in DIMENSIONS else text
            if key not in pooled:
                pooled[key] = [0, 0]
                order.append(key)
            pooled[key][0] += int(n)
            pooled[key][1] += int(total)
        out.dimensions = [
            Figure(key, pooled[key][0], _score(pooled[key][1], pooled[key][0]))
            if pooled[key][0] >= k
            else Figure(key, pooled[key][0], None)
            for key in order
        ]
        # By building: each response's mean of its rating answers, averaged over responses.
        for name, n, total_x100 in session.execute(
            select(
                Building.name,
                func.count(SurveyResponse.id),
                func.coalesce(func.sum(SurveyResponse.mean_x100), 0),
            )
            .join(Building, Building.id == SurveyResponse.building_id)
            .where(SurveyResponse.survey_id == survey.id, SurveyResponse.mean_x100.is_not(None))
            .group_by(Building.id, Building.name)
            .order_by(Building.name)
        ):
            n = int(n)
            score = to_100(Decimal(int(total_x100)) / (100 * n)) if n >= k else None
            out.buildings.append(Figure(name, n, score))
    out.units = (
        session.scalar(select(func.count(Unit.id)).where(Unit.community_id == community.id)) or 0
    )
    out.complaint_units = (
        session.scalar(
            select(func.count(func.distinct(Ticket.unit_id))).where(
                Ticket.community_id == community.id,
                Ticket.kind == TicketKind.COMPLAINT,
                Ticket.unit_id.is_not(None),
                Ticket.created_at >= now - timedelta(days=COMPLAINT_WINDOW_DAYS),
                Ticket.created_at <= now,
            )
        )
        or 0
    )
    if out.units >= k:
        out.complaint_rate = (Decimal(out.complaint_units) / out.units).quantize(
            Decimal("0.0001"), ROUND_HALF_UP
        )
    out.repairs = ticket_stats.responsiveness(
        session, community=community, months=12, now=now
    ).overall
    return out
