"""Communities (小区), buildings, units and who owns them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime


class FeeRegime(StrEnum):
    LUMP_SUM = "lump_sum"  # 包干制: the company keeps any surplus
    COMMISSION = "commission"  # 酬金制: fees are the owners' money; company takes a commission


class BillingCycle(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


class PropertyType(StrEnum):
    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    PARKING = "parking"
    VILLA = "villa"


# The fee items a community may charge (code → name). Here rather than in billing because a
# fee-change notice (notices, below billing) names the item it announces.
FEE_ITEMS = {
    "property_service": "物业服务费",
    "shared_utilities": "公摊水电费",
    "parking": "停车管理费",
    "garbage": "生活垃圾清运费",
    "elevator": "电梯运行费",
}


class Community(Base):
    __tablename__ = "communities"
    __table_args__ = (
        CheckConstraint(
            "tier_l1_days < tier_l2_days AND tier_l2_days < tier_l3_days "
            "AND tier_l3_days < tier_l4_days",
            name="tiers_ascending",
        ),
        CheckConstraint("tier_l1_days >= 0", name="tier_l1_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(50), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    fee_regime: Mapped[str] = mapped_column(String(20), default=FeeRegime.LUMP_SUM)
    commission_rate: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))  # 酬金制 only
    hotline: Mapped[str] = mapped_column(String(32), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    is_public: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    billing_cycle: Mapped[str] = mapped_column(
        String(16), default=BillingCycle.MONTHLY, server_default=BillingCycle.MONTHLY
    )
    description: Mapped[str] = mapped_column(Text, default="")
    # Collections: days overdue from which each tier may start (DESIGN.md §1).
    tier_l1_days: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    tier_l2_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    tier_l3_days: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    tier_l4_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    # Days a fee-standard change must be announced before it takes effect.
    notice_period_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    buildings: Mapped[list[Building]] = relationship(
        back_populates="community", order_by="Building.code"
    )


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))  # e.g. "A-3"
    name: Mapped[str] = mapped_column(String(64))  # e.g. "A区3号楼"
    floors: Mapped[int | None] = mapped_column(Integer)

    community: Mapped[Community] = relationship(back_populates="buildings")


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        CheckConstraint("area_m2 > 0", name="area_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))  # e.g. "A-3-1202"
    floor: Mapped[int | None] = mapped_column(Integer)
    area_m2: Mapped[Decimal] = mapped_column(Numeric(10, 2))  # building area, two decimals
    property_type: Mapped[str] = mapped_column(String(20), default=PropertyType.RESIDENTIAL)

    community: Mapped[Community] = relationship()
    building: Mapped[Building] = relationship()
    ownerships: Mapped[list[Ownership]] = relationship(back_populates="unit")


class Ownership(Base):
    """A user owns (or co-owns) a unit from a date; ended ownerships keep their history."""

    __tablename__ = "ownerships"
    __table_args__ = (UniqueConstraint("user_id", "unit_id", "started_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)

    unit: Mapped[Unit] = relationship(back_populates="ownerships")
