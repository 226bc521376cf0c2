"""Surveys (满意度调查) and their answers, and service-recovery tasks per unit.

Complaints are tickets of kind "complaint" (portal/tickets): they share the SLA clock, the
timeline, the answer and the owner's rating with repairs.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.communities.models import Community, Unit
from portal.db import Base, UTCDateTime


class SurveyKind(StrEnum):
    ANNUAL = "annual"  # the annual satisfaction survey
    PULSE = "pulse"  # a short pulse
    FOLLOWUP = "followup"  # 满意度回访


class SurveyStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class QuestionKind(StrEnum):
    RATING = "rating"  # 1-5
    CHOICE = "choice"  # one of a list
    TEXT = "text"  # free text


class RecoveryStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class Survey(Base):
    """A survey of a community, or of some of its buildings (building_ids, null = all)."""

    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_community_status", "community_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default=SurveyKind.PULSE)
    status: Mapped[str] = mapped_column(String(16), default=SurveyStatus.DRAFT)
    building_ids: Mapped[list[int] | None] = mapped_column(JSON)
    intro: Mapped[str] = mapped_column(Text, default="")
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Results are shown to owners once the survey has closed and a person published them.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    community: Mapped[Community] = relationship()
    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates="survey", order_by="SurveyQuestion.position"
    )


class SurveyQuestion(Base):
    """One question; a rating question may carry a dimension (cleaning, security, …)."""

    __tablename__ = "survey_questions"
    __table_args__ = (UniqueConstraint("survey_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(255))
    dimension: Mapped[str] = mapped_column(String(32), default="")
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")

    survey: Mapped[Survey] = relationship(back_populates="questions")


class SurveyResponse(Base):
    """One unit's answer to a survey; the unique constraint makes it once per unit."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("survey_id", "unit_id"),
        Index("ix_survey_responses_unit", "unit_id", "created_at"),
        Index("ix_survey_responses_period", "period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    respondent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Mean of the rating answers × 100 (an integer, 100..500), so the profile reads one column.
    mean_x100: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The local month it was given in ("2026-11"): the KPI trend groups by it.
    period: Mapped[str] = mapped_column(String(7))

    survey: Mapped[Survey] = relationship()
    unit: Mapped[Unit] = relationship()
    respondent: Mapped[User | None] = relationship()
    answers: Mapped[list[SurveyAnswer]] = relationship(order_by="SurveyAnswer.id")


class SurveyAnswer(Base):
    """One answer: a score 1-5, a choice or a text."""

    __tablename__ = "survey_answers"
    __table_args__ = (
        CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="score_range"),
        UniqueConstraint("response_id", "question_id"),
        Index("ix_survey_answers_question", "question_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_questions.id"))
    score: Mapped[int | None] = mapped_column(SmallInteger)
    choice: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text, default="")


class RecoveryTask(Base):
    """A service-recovery task for customer service: a dissatisfied unit and its problems."""

    __tablename__ = "recovery_tasks"
    __table_args__ = (
        Index("ix_recovery_tasks_community_status", "community_id", "status"),
        Index("ix_recovery_tasks_community_period", "community_id", "period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RecoveryStatus.OPEN)
    # Set while open, cleared when done: one open task per unit, even under concurrent runs.
    open_unit_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    # [{"signal", "ref", "detail"}]: the specific problems to fix.
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    score: Mapped[int | None] = mapped_column(Integer)  # the profile score when opened
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    period: Mapped[str] = mapped_column(String(7))  # local month opened, for the KPIs
    due_on: Mapped[date] = mapped_column(Date)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_on_time: Mapped[bool | None] = mapped_column(Boolean)  # done by the end of due_on
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")

    community: Mapped[Community] = relationship()
    unit: Mapped[Unit] = relationship()
    done_by: Mapped[User | None] = relationship()
