"""Disputes (异议): an owner contests a bill line, a published spending item, a fee standard or
the service; staff respond within an SLA, propose an explanation, a correction or a credit,
and the owner accepts, rejects or escalates. Money moves only through the ledger."""

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
from portal.uploads.models import StoredFile


class TargetType(StrEnum):
    BILL_LINE = "bill_line"
    SPENDING = "spending"
    FEE_STANDARD = "fee_standard"
    SERVICE = "service"


class DisputeStatus(StrEnum):
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"  # the first response
    UNDER_REVIEW = "under_review"
    PROPOSED = "proposed"  # a response is offered to the owner
    REJECTED = "rejected"  # the owner turned the proposal down
    ESCALATED = "escalated"  # to the owners' committee or a mediator
    CLOSED = "closed"


OPEN_STATUSES = tuple(s for s in DisputeStatus if s != DisputeStatus.CLOSED)


class RequestedOutcome(StrEnum):
    CREDIT = "credit"  # refund / credit of a stated amount
    CORRECTION = "correction"
    EXPLANATION = "explanation"


class ProposalKind(StrEnum):
    EXPLANATION = "explanation"
    CORRECTION = "correction"  # of a bill line: the wrong part is credited
    CREDIT = "credit"


class ProposalStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # a credit above the threshold needs a manager
    OFFERED = "offered"
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # by the owner
    DECLINED = "declined"  # by the manager, never shown to the owner
    SUPERSEDED = "superseded"  # a newer proposal replaced it, or the dispute closed


class Outcome(StrEnum):
    UPHELD = "upheld"  # the owner got what they asked for
    PARTLY_UPHELD = "partly_upheld"  # a credit smaller than requested
    EXPLAINED = "explained"  # the owner accepted an explanation
    NOT_UPHELD = "not_upheld"  # decided against the owner
    WITHDRAWN = "withdrawn"


FAVOURABLE_OUTCOMES = (Outcome.UPHELD, Outcome.PARTLY_UPHELD)


class EscalationTarget(StrEnum):
    COMMITTEE = "committee"  # 业主委员会
    MEDIATOR = "mediator"  # 人民调解委员会 / 物业纠纷调解组织


class EventKind(StrEnum):
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    REVIEW_STARTED = "review_started"
    PROPOSAL_DRAFTED = "proposal_drafted"  # awaiting a manager's approval (staff only)
    PROPOSAL_APPROVED = "proposal_approved"
    PROPOSAL_DECLINED = "proposal_declined"
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    CREDIT_POSTED = "credit_posted"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    COMMENT = "comment"  # seen by the owner
    NOTE = "note"  # internal: staff and committee only
    OPINION = "opinion"  # the owners' committee's opinion
    EVIDENCE_ADDED = "evidence_added"


class DisputeSettings(Base):
    """Per-community response targets (working days) and the credit approval threshold."""

    __tablename__ = "dispute_settings"
    __table_args__ = (
        CheckConstraint(
            "first_response_days >= 1 AND proposal_days >= first_response_days",
            name="days_valid",
        ),
        CheckConstraint("approval_threshold_fen >= 0", name="threshold_nonnegative"),
    )

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    first_response_days: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    proposal_days: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    # Credits above this need a manager's approval before they are offered (default ¥200).
    approval_threshold_fen: Mapped[int] = mapped_column(
        BigInteger, default=20_000, server_default="20000"
    )
    mediator: Mapped[str] = mapped_column(String(100), default="", server_default="")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Dispute(Base):
    """One objection by an owner; timings live on the row so statistics are plain SQL."""

    __tablename__ = "disputes"
    __table_args__ = (
        CheckConstraint(
            "requested_amount_fen IS NULL OR requested_amount_fen > 0",
            name="requested_positive",
        ),
        CheckConstraint("credited_fen >= 0", name="credited_nonnegative"),
        Index("ix_disputes_community_status", "community_id", "status"),
        Index("ix_disputes_target", "community_id", "target_type", "target_id"),
        Index("ix_disputes_bill_line_status", "bill_line_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int | None] = mapped_column(Integer)  # service: the ticket, if any
    bill_line_id: Mapped[int | None] = mapped_column(ForeignKey("bill_lines.id"))
    reason: Mapped[str] = mapped_column(String(32))
    statement: Mapped[str] = mapped_column(Text)
    requested_outcome: Mapped[str] = mapped_column(String(16))
    requested_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=DisputeStatus.SUBMITTED)
    outcome: Mapped[str | None] = mapped_column(String(16))
    # Set while open, cleared on close: the unique constraint allows one open dispute per
    # bill line (and per owner and record otherwise), even under concurrent submissions.
    open_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    escalated_to: Mapped[str | None] = mapped_column(String(16))
    credited_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    closing_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_response_due_on: Mapped[date] = mapped_column(Date)
    proposal_due_on: Mapped[date] = mapped_column(Date)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # first offer
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    community: Mapped[Community] = relationship()
    unit: Mapped[Unit] = relationship()
    owner: Mapped[User] = relationship()
    events: Mapped[list[DisputeEvent]] = relationship(
        back_populates="dispute", order_by="DisputeEvent.id"
    )
    proposals: Mapped[list[DisputeProposal]] = relationship(
        back_populates="dispute", order_by="DisputeProposal.id"
    )
    evidence: Mapped[list[DisputeEvidence]] = relationship(order_by="DisputeEvidence.id")

    @property
    def reference(self) -> str:
        return f"D{self.id:06d}"

    @property
    def is_open(self) -> bool:
        return self.status != DisputeStatus.CLOSED

    @property
    def current_proposal(self) -> DisputeProposal | None:
        """The proposal offered to the owner now, if any."""
        for proposal in reversed(self.proposals):
            if proposal.status == ProposalStatus.OFFERED:
                return proposal
        return None

    @property
    def pending_approval(self) -> DisputeProposal | None:
        for proposal in reversed(self.proposals):
            if proposal.status == ProposalStatus.AWAITING_APPROVAL:
                return proposal
        return None


class DisputeProposal(Base):
    """A response offered to the owner: an explanation, a correction or a credit."""

    __tablename__ = "dispute_proposals"
    __table_args__ = (
        CheckConstraint("amount_fen IS NULL OR amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    owner_reason: Mapped[str] = mapped_column(Text, default="")

    dispute: Mapped[Dispute] = relationship(back_populates="proposals")
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])


class DisputeEvent(Base):
    """One entry of a dispute's timeline: a transition, a comment, a note or an opinion."""

    __tablename__ = "dispute_events"
    __table_args__ = (Index("ix_dispute_events_dispute", "dispute_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text, default="")
    internal: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    dispute: Mapped[Dispute] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class DisputeEvidence(Base):
    """A photo or PDF backing a dispute (a measurement, a receipt, a photo of the problem)."""

    __tablename__ = "dispute_evidence"
    __table_args__ = (UniqueConstraint("dispute_id", "stored_file_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"), index=True)
    stored_file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    file: Mapped[StoredFile] = relationship()
