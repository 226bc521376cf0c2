"""Repair requests (报修): tickets, their event log, photos, ratings, SLA targets, follow-ups."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
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
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.communities.models import Building, Community, Unit
from portal.db import Base, UTCDateTime


class TicketStatus(StrEnum):
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"  # the first response
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"


# Statuses in which work is still owed (the backlog).
OPEN_STATUSES = (
    TicketStatus.SUBMITTED,
    TicketStatus.ACKNOWLEDGED,
    TicketStatus.ASSIGNED,
    TicketStatus.IN_PROGRESS,
    TicketStatus.REOPENED,
)
DONE_STATUSES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class LocationType(StrEnum):
    IN_HOME = "in_home"  # inside a unit
    COMMON_AREA = "common_area"  # building / floor / area of the community


class Channel(StrEnum):
    WEB = "web"
    PHONE = "phone"  # entered by customer service from a call
    API = "api"
    OPEN311 = "open311"
    PATROL = "patrol"  # found by staff on a round


class VisitSlot(StrEnum):
    ANY = "any"
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"


class EventKind(StrEnum):
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    STARTED = "started"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"
    COMMENT = "comment"  # seen by the owner
    NOTE = "note"  # internal: staff only
    RATED = "rated"
    RECHECK_ASKED = "recheck_asked"
    RECHECK_ANSWERED = "recheck_answered"
    PHOTO_ADDED = "photo_added"


class FollowupKind(StrEnum):
    SERVICE_RECOVERY = "service_recovery"  # a low rating (≤ 2): staff call the owner back
    RECHECK = "recheck"  # two weeks after resolution: "is it still fixed?"


class FollowupStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    EXPIRED = "expired"


class TicketKind(StrEnum):
    """Kinds of one work order (客服 practice): a repair (报修) or a complaint (投诉)."""

    REPAIR = "repair"
    COMPLAINT = "complaint"  # filed through portal/feedback; seen by cs and managers only


class RatingChannel(StrEnum):
    OWNER = "owner"  # the owner rated on the web or in the API
    PHONE = "phone"  # customer service recorded it from a return call (回访)


class TicketCategory(Base):
    """A kind of repair request; each community edits its own list (codes are stable)."""

    __tablename__ = "ticket_categories"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))  # Open311 service_code
    name: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(String(255), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # Repair categories and complaint categories live side by side; codes stay unique.
    kind: Mapped[str] = mapped_column(
        String(16), default=TicketKind.REPAIR, server_default=TicketKind.REPAIR
    )


class TicketSettings(Base):
    """Per-community ticket settings: working hours for SLA clocks and the number counter."""

    __tablename__ = "ticket_settings"
    __table_args__ = (
        CheckConstraint(
            "work_start_min >= 0 AND work_start_min < work_end_min AND work_end_min <= 1440",
            name="work_hours_valid",
        ),
    )

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    # When on, normal-urgency SLA clocks only run in working hours (urgent ones always run).
    business_hours: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    work_start_min: Mapped[int] = mapped_column(Integer, default=510, server_default="510")
    work_end_min: Mapped[int] = mapped_column(Integer, default=1080, server_default="1080")
    work_days: Mapped[str] = mapped_column(String(7), default="1234567", server_default="1234567")
    last_number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SlaTarget(Base):
    """First-response and resolution targets for a community, per category (or all) and urgency."""

    __tablename__ = "ticket_sla_targets"
    __table_args__ = (
        UniqueConstraint("community_id", "category_id", "urgency"),
        CheckConstraint(
            "first_response_minutes > 0 AND resolution_minutes >= first_response_minutes",
            name="minutes_valid",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_categories.id"))
    urgency: Mapped[str] = mapped_column(String(16))
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)


class Ticket(Base):
    """A repair request. Timings are kept on the row so statistics are plain set-based SQL."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("community_id", "number"),
        Index("ix_tickets_stats", "community_id", "period", "category_id"),
        Index("ix_tickets_board", "community_id", "status"),
        Index("ix_tickets_assignee", "assignee_id", "status"),
        Index("ix_tickets_done", "status", "resolved_at"),
        Index("ix_tickets_community_created", "community_id", "created_at"),
        CheckConstraint("floor IS NULL OR (floor >= -10 AND floor <= 200)", name="floor_range"),
        CheckConstraint("reopen_count >= 0", name="reopen_count_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    number: Mapped[str] = mapped_column(String(40))
    # The category's kind, copied so statistics and visibility filter one column.
    kind: Mapped[str] = mapped_column(
        String(16), default=TicketKind.REPAIR, server_default=TicketKind.REPAIR
    )
    # A complaint may name the staff member it is about (never shown to engineers).
    about_staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("ticket_categories.id"))
    urgency: Mapped[str] = mapped_column(String(16), default=Urgency.NORMAL)
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.SUBMITTED)
    channel: Mapped[str] = mapped_column(String(16), default=Channel.WEB)
    # The unit the request comes from (and, for in-home requests, where the work is).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    location_type: Mapped[str] = mapped_column(String(16), default=LocationType.IN_HOME)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    floor: Mapped[int | None] = mapped_column(Integer)
    area: Mapped[str] = mapped_column(String(100), default="")
    lat: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    long: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    description: Mapped[str] = mapped_column(Text)
    preferred_on: Mapped[date | None] = mapped_column(Date)
    preferred_slot: Mapped[str] = mapped_column(String(16), default=VisitSlot.ANY)
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    # The local month it was received in ("2026-11"): the statistics group by it.
    period: Mapped[str] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_response_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolution_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the latest resolution
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Seconds from receipt to first response / to the latest resolution (wall clock).
    first_response_s: Mapped[int | None] = mapped_column(Integer)
    resolution_s: Mapped[int | None] = mapped_column(Integer)
    first_response_met: Mapped[bool | None] = mapped_column(Boolean)
    resolution_met: Mapped[bool | None] = mapped_column(Boolean)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A copy of the rating's score, so the statistics read one table.
    rating_score: Mapped[int | None] = mapped_column(SmallInteger)

    community: Mapped[Community] = relationship()
    category: Mapped[TicketCategory] = relationship()
    unit: Mapped[Unit | None] = relationship()
    building: Mapped[Building | None] = relationship()
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    about_staff: Mapped[User | None] = relationship(foreign_keys=[about_staff_id])
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id"
    )
    photos: Mapped[list[TicketPhoto]] = relationship(order_by="TicketPhoto.id")
    rating: Mapped[TicketRating | None] = relationship(uselist=False)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TicketEvent(Base):
    """One entry of a ticket's timeline: a transition, comment or internal note."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text, default="")
    internal: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class TicketPhoto(Base):
    """A photo of the problem (stage "report") or of the finished work ("resolution")."""

    __tablename__ = "ticket_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    stored_file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))
    stage: Mapped[str] = mapped_column(String(16), default="report")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TicketRating(Base):
    """The owner's 1-5 rating of a resolved ticket (回访); one per ticket."""

    __tablename__ = "ticket_ratings"
    __table_args__ = (CheckConstraint("score >= 1 AND score <= 5", name="score_range"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), unique=True
    )
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16), default=RatingChannel.OWNER)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TicketFollowup(Base):
    """A follow-up: a service-recovery task after a low rating, or the two-week recheck."""

    __tablename__ = "ticket_followups"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "round"),
        Index("ix_ticket_followups_open", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    # The ticket's reopen_count when created: one recheck per resolution.
    round: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=FollowupStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_on: Mapped[date | None] = mapped_column(Date)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer: Mapped[str | None] = mapped_column(String(16))  # recheck: fixed / not_fixed
    note: Mapped[str] = mapped_column(Text, default="")
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    ticket: Mapped[Ticket] = relationship()
    handled_by: Mapped[User | None] = relationship()


class Open311Key(Base):
    """An Open311 api_key bound to an owner account; only its SHA-256 is stored."""

    __tablename__ = "open311_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(64), default="")
    prefix: Mapped[str] = mapped_column(String(12))  # shown so the owner can tell keys apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
