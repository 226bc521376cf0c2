"""Notices (公告) with read receipts; outage notices name the buildings and the hours."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.communities.models import Building
from portal.db import Base, UTCDateTime
from portal.uploads.models import StoredFile


class NoticeCategory(StrEnum):
    FEE_CHANGE = "fee_change"  # 收费标准调整 (billing requires one before a new standard)
    OUTAGE = "outage"  # 停水停电等计划检修 — a maintenance announcement, never a collection step
    FINANCIAL = "financial"  # 财务公示
    EVENT = "event"  # 社区活动
    GENERAL = "general"  # 一般通知


class NoticeStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # waiting for publish_at
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class OutageType(StrEnum):
    WATER = "water"
    POWER = "power"
    GAS = "gas"
    ELEVATOR = "elevator"
    OTHER = "other"


notice_buildings = Table(
    "notice_buildings",
    Base.metadata,
    Column("notice_id", ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True),
    Column("building_id", ForeignKey("buildings.id"), primary_key=True),
)


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (
        Index("ix_notices_community_status_published", "community_id", "status", "published_at"),
        CheckConstraint(
            "outage_ends_at IS NULL OR outage_starts_at IS NULL "
            "OR outage_ends_at > outage_starts_at",
            name="outage_ends_after_start",
        ),
        CheckConstraint("fee_rate IS NULL OR fee_rate >= 0", name="fee_rate_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    category: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(120))
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")  # rendered and sanitised (nh3)
    important: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default=NoticeStatus.DRAFT)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # wanted time
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None until live
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outage_type: Mapped[str | None] = mapped_column(String(16))
    outage_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outage_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What a fee-change notice announces: the item, for which property type, at which new
    # rate (same units as the fee standard). A new fee-standard version must cite the
    # notice that names exactly its item and rate (billing/standards.py).
    fee_property_type: Mapped[str | None] = mapped_column(String(20))
    fee_item_code: Mapped[str | None] = mapped_column(String(40))
    fee_rate: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    buildings: Mapped[list[Building]] = relationship(
        secondary=notice_buildings, order_by="Building.code"
    )
    attachments: Mapped[list[NoticeAttachment]] = relationship(
        back_populates="notice", order_by="NoticeAttachment.id", cascade="all, delete-orphan"
    )


class NoticeAttachment(Base):
    __tablename__ = "notice_attachments"
    __table_args__ = (UniqueConstraint("notice_id", "stored_file_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    stored_file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))
    label: Mapped[str] = mapped_column(String(255), default="")

    notice: Mapped[Notice] = relationship(back_populates="attachments")
    file: Mapped[StoredFile] = relationship()


class NoticeRead(Base):
    """A user opened a notice (and, for important ones, confirmed having read it)."""

    __tablename__ = "notice_reads"
    __table_args__ = (UniqueConstraint("notice_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
