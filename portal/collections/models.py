"""Arrears cases (one per unit, reopened with its history), their events, tasks a person
approves, the contact log with proof, payment plans, holds on collection, the legal-basis
list and the daily runs."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.communities.models import Community, Unit
from portal.db import Base, UTCDateTime


class CaseStatus(StrEnum):
    OPEN = "open"
    PAUSED = "paused"  # a promise, a plan kept, a hold, or all that is owed is disputed
    CLOSED = "closed"  # paid up


class Tier(StrEnum):
    NONE = "none"
    L1 = "L1"  # friendly reminder (SMS/WeChat/phone)
    L2 = "L2"  # written notice (催缴通知书), delivered with proof
    L3 = "L3"  # in-person talk by a supervisor
    L4 = "L4"  # mediation / legal, with a manager's approval


TIER_ORDER = (Tier.NONE, Tier.L1, Tier.L2, Tier.L3, Tier.L4)


class ArrearsReason(StrEnum):
    FORGOT = "forgot"  # 遗忘
    DISSATISFIED = "dissatisfied"  # 不满
    HARDSHIP = "hardship"  # 困难
    WILFUL = "wilful"  # 恶意


class TaskKind(StrEnum):
    ESCALATE = "escalate"  # a proposed next tier, approved by a person (PIPL art. 24)
    SERVICE_RECOVERY = "service_recovery"  # fix the problem behind a dissatisfied owner
    PLAN_OFFER = "plan_offer"  # call a struggling owner to offer instalments
    PROMISE_DUE = "promise_due"  # a promised date passed unpaid: call back
    PLAN_MISSED = "plan_missed"  # an instalment was missed: talk again


class TaskStatus(StrEnum):
    PROPOSED = "proposed"  # waiting for a person
    APPROVED = "approved"
    DECLINED = "declined"
    OPEN = "open"  # work to do (recovery, calls)
    DONE = "done"
    CANCELLED = "cancelled"  # overtaken (case closed, tier reached otherwise)


ACTIVE_TASK_STATUSES = (TaskStatus.PROPOSED, TaskStatus.OPEN)


class ContactChannel(StrEnum):
    SMS = "sms"
    WECHAT = "wechat"
    PHONE = "phone"
    LETTER = "letter"  # registered mail (挂号信)
    POSTED = "posted"  # notice posted at the door (张贴), photo kept
    VISIT = "visit"  # 上门: two staff named
    INBOX = "inbox"  # the automated L1 reminder when only the in-portal inbox reached the owner


STAFF_CHANNELS = tuple(c for c in ContactChannel if c != ContactChannel.INBOX)


class ContactOutcome(StrEnum):
    NO_ANSWER = "no_answer"
    PROMISED = "promised"  # promised to pay on a date
    REFUSED = "refused"  # refused, with a reason
    WRONG_NUMBER = "wrong_number"
    PAID = "paid"
    COMPLAINED = "complained"  # raised a service complaint
    DELIVERED = "delivered"  # a notice or reminder delivered (letter, posting, message)
    HARDSHIP = "hardship"  # told us they cannot pay now
    SENT = "sent"  # the automated L1 reminder, handed to the outbox


RESPONSIVE_OUTCOMES = (
    ContactOutcome.PROMISED,
    ContactOutcome.REFUSED,
    ContactOutcome.PAID,
    ContactOutcome.COMPLAINED,
    ContactOutcome.HARDSHIP,
)


class PlanStatus(StrEnum):
    PROPOSED = "proposed"  # the collector's schedule, waiting for the owner
    ACTIVE = "active"  # accepted by the owner and kept so far
    COMPLETED = "completed"
    BROKEN = "broken"  # an instalment was missed
    CANCELLED = "cancelled"


class CollectionCase(Base):
    """One unit's arrears case. A unit has one row for life: it closes when paid up and
    reopens (same row, same history) when the unit falls behind again."""

    __tablename__ = "collection_cases"
    __table_args__ = (
        Index("ix_collection_cases_community_status", "community_id", "status", "tier"),
        CheckConstraint("overdue_fen >= 0 AND held_fen >= 0", name="amounts_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN)
    tier: Mapped[str] = mapped_column(String(8), default=Tier.NONE)
    # The aging snapshot of the last run (a case page recomputes it live).
    overdue_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # collectable: held excluded
    held_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # under open dispute, apart
    oldest_due_date: Mapped[date | None] = mapped_column(Date)
    near_limitation: Mapped[bool] = mapped_column(Boolean, default=False)
    suggested_reason: Mapped[str | None] = mapped_column(String(16))
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Confirmed (or overridden) by a person, with a note; the suggestion stays beside it.
    reason: Mapped[str | None] = mapped_column(String(16))
    reason_note: Mapped[str] = mapped_column(Text, default="")
    reason_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hardship_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    plan_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    promised_on: Mapped[date | None] = mapped_column(Date)  # escalation waits until then
    pause_reason: Mapped[str | None] = mapped_column(String(24))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_on: Mapped[date] = mapped_column(Date)
    tier_since: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    close_outcome: Mapped[str] = mapped_column(String(200), default="")
    episode: Mapped[int] = mapped_column(Integer, default=1)  # 1 + times reopened
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    community: Mapped[Community] = relationship()
    unit: Mapped[Unit] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    reason_by: Mapped[User | None] = relationship(foreign_keys=[reason_by_id])

    @property
    def effective_reason(self) -> str | None:
        return self.reason or self.suggested_reason


class CaseEvent(Base):
    """The case's history: opened, tier changes, reason confirmed, paused, closed, reopened."""

    __tablename__ = "collection_case_events"
    __table_args__ = (Index("ix_collection_case_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    on_date: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()


class CollectionTask(Base):
    """A step a person does or approves. `key` makes the daily run idempotent."""

    __tablename__ = "collection_tasks"
    __table_args__ = (
        Index("ix_collection_tasks_community_status", "community_id", "status"),
        Index("ix_collection_tasks_case", "case_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    kind: Mapped[str] = mapped_column(String(20))
    tier: Mapped[str | None] = mapped_column(String(8))  # escalate: the proposed tier
    status: Mapped[str] = mapped_column(String(16))
    assignee_role: Mapped[str] = mapped_column(String(16), default="collector")
    title: Mapped[str] = mapped_column(String(200))
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[CollectionCase] = relationship()
    decided_by: Mapped[User | None] = relationship()


class CollectionContact(Base):
    """One contact attempt: who, how, when, what came of it, and the proof of delivery."""

    __tablename__ = "collection_contacts"
    __table_args__ = (
        Index("ix_collection_contacts_case", "case_id", "at"),
        CheckConstraint(
            "channel != 'visit' OR second_staff_id IS NOT NULL", name="visit_two_staff"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    channel: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(8))  # the tier the contact was made under
    episode: Mapped[int] = mapped_column(Integer, default=1)  # the case's episode then
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: automated L1
    second_staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    refusal_reason: Mapped[str] = mapped_column(String(200), default="")
    promised_on: Mapped[date | None] = mapped_column(Date)
    proof_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"))
    mail_number: Mapped[str] = mapped_column(String(40), default="")  # registered mail no.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("notify_messages.id"), index=True)
    # A written notice delivered with proof (L2): what L3 needs, and what restarts the
    # limitation period (Civil Code art. 195).
    notice_delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # broke a contact rule
    flag_reason: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    staff: Mapped[User | None] = relationship(foreign_keys=[staff_id])
    second_staff: Mapped[User | None] = relationship(foreign_keys=[second_staff_id])


class PaymentPlan(Base):
    """Instalments for a struggling owner: proposed by a collector, accepted by the owner."""

    __tablename__ = "collection_plans"
    __table_args__ = (
        CheckConstraint("total_fen > 0", name="total_positive"),
        CheckConstraint("down_payment_fen >= 0", name="down_payment_nonnegative"),
        Index("ix_collection_plans_case", "case_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PlanStatus.PROPOSED)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    down_payment_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_on: Mapped[date | None] = mapped_column(Date)

    instalments: Mapped[list[PlanInstalment]] = relationship(
        back_populates="plan", order_by="PlanInstalment.seq", cascade="all, delete-orphan"
    )
    case: Mapped[CollectionCase] = relationship()


class PlanInstalment(Base):
    __tablename__ = "collection_plan_instalments"
    __table_args__ = (
        UniqueConstraint("plan_id", "seq"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("paid_fen >= 0 AND paid_fen <= amount_fen", name="paid_within_amount"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("collection_plans.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 0 = the down payment
    due_on: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    plan: Mapped[PaymentPlan] = relationship(back_populates="instalments")


class CollectionHold(Base):
    """A pause of collection for a unit or (unit_id NULL) a whole community, e.g. during a
    lift outage or an epidemic: cases keep aging, nothing else happens."""

    __tablename__ = "collection_holds"
    __table_args__ = (Index("ix_collection_holds_community", "community_id", "ends_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    reason: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)  # None: until released
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    unit: Mapped[Unit | None] = relationship()


class LegalBasis(Base):
    """A contract clause or statute a tier relies on, maintained per community (added to the
    statutory defaults every community has)."""

    __tablename__ = "collection_legal_bases"
    __table_args__ = (Index("ix_collection_legal_bases_community", "community_id", "tier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    tier: Mapped[str] = mapped_column(String(8))  # L1..L4 or "all"
    kind: Mapped[str] = mapped_column(String(16))  # contract | statute | regulation
    reference: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CollectionRun(Base):
    """One daily run per date, written once: a rerun of the date writes nothing."""

    __tablename__ = "collection_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_on: Mapped[date] = mapped_column(Date, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
