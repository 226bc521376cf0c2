"""Owners deciding together: votes (Civil Code art. 278), revenue proposals, on-time rewards."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime


class Matter(StrEnum):
    """What a vote decides; the art. 278 item fixes the majority it needs."""

    RULES = "rules"  # item 1-2: 管理规约, 业主大会/业委会议事规则
    COMMITTEE = "committee"  # item 3: 选举或更换业委会
    SERVICE_COMPANY = "service_company"  # item 4: 选聘、解聘物业服务企业
    FUND_USE = "fund_use"  # item 5: 使用维修资金 (ordinary since 2021)
    FUND_RAISE = "fund_raise"  # item 6: 筹集维修资金
    REBUILD = "rebuild"  # item 7: 改建、重建建筑物
    COMMON_BUSINESS = "common_business"  # item 8: 改变共有部分用途、利用共有部分经营
    REVENUE_USE = "revenue_use"  # item 9: 公共收益的使用
    FEE_CHANGE = "fee_change"  # item 9: 其他共有和共同管理的重大事项
    OTHER = "other"  # item 9


class VoteKind(StrEnum):
    ORDINARY = "ordinary"  # more than half of the participating area and owners
    MAJOR = "major"  # at least three quarters of both


# Civil Code art. 278 items 6-8 need three quarters; everything else more than half.
MAJOR_MATTERS = frozenset({Matter.FUND_RAISE, Matter.REBUILD, Matter.COMMON_BUSINESS})


class VoteStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class Vote(Base):
    __tablename__ = "gov_votes"
    __table_args__ = (
        CheckConstraint(
            "closes_at IS NULL OR opens_at IS NULL OR closes_at > opens_at",
            name="closes_after_opens",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    matter: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=VoteStatus.DRAFT, index=True)
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    document_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"))
    # Eligibility fixed when the vote opens (art. 278 counts are of that moment).
    eligible_units: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    eligible_persons: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    eligible_area_m2: Mapped[Decimal] = mapped_column(
        Numeric(14, 2), default=Decimal("0"), server_default="0"
    )
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the published tally
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    options: Mapped[list[VoteOption]] = relationship(
        back_populates="vote", order_by="VoteOption.position"
    )

    @property
    def published_at(self) -> datetime | None:
        """When the tally entered the publication log: the closing."""
        return self.closed_at


class VoteOption(Base):
    __tablename__ = "gov_vote_options"
    __table_args__ = (UniqueConstraint("vote_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("gov_votes.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # An approving option carries the motion when it reaches the majority ("同意", or a
    # shortlisted project); "反对"/"弃权" never do, though they count as taking part.
    approves: Mapped[bool] = mapped_column(Boolean, default=False)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("gov_proposals.id"))

    vote: Mapped[Vote] = relationship(back_populates="options")


class VoteUnit(Base):
    """An eligible unit of a vote, its area and owner group (person) as of the opening."""

    __tablename__ = "gov_vote_units"
    __table_args__ = (UniqueConstraint("vote_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("gov_votes.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    area_m2: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    # Units sharing an owner are one person for the headcount (最高法建筑物区分所有权解释 art. 9).
    person_key: Mapped[int] = mapped_column(Integer)


class Ballot(Base):
    """One unit's current choice; a new ballot replaces it until the vote closes."""

    __tablename__ = "gov_ballots"
    __table_args__ = (UniqueConstraint("vote_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("gov_votes.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    option_id: Mapped[int] = mapped_column(ForeignKey("gov_vote_options.id"))
    cast_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    receipt: Mapped[str] = mapped_column(String(32), unique=True)
    # sha256(vote id : receipt : option code), published in the tally at closing.
    ballot_hash: Mapped[str] = mapped_column(String(64))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ProposalStatus(StrEnum):
    SUBMITTED = "submitted"
    SHORTLISTED = "shortlisted"
    DECLINED = "declined"
    IN_VOTE = "in_vote"
    CHOSEN = "chosen"
    NOT_CHOSEN = "not_chosen"


class Proposal(Base):
    """An owner's idea for spending the common revenue (公共收益), with its estimated cost."""

    __tablename__ = "gov_proposals"
    __table_args__ = (CheckConstraint("estimated_cost_fen > 0", name="cost_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    estimated_cost_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=ProposalStatus.SUBMITTED)
    supporters: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    decided_note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProposalSupport(Base):
    __tablename__ = "gov_proposal_supports"
    __table_args__ = (UniqueConstraint("proposal_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("gov_proposals.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RewardPolicy(Base):
    """A community's rewards for paying on time (缴费激励), shown to owners before they pay."""

    __tablename__ = "gov_reward_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), unique=True)
    # Prepaying twelve months: this share of the year's fee back as a credit (0-0.1000).
    prepay_year_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4), default=Decimal("0"))
    autopay_credit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    early_points: Mapped[int] = mapped_column(Integer, default=0)  # per bill paid before due
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RewardKind(StrEnum):
    PREPAY_YEAR = "prepay_year"
    AUTOPAY = "autopay"
    EARLY_POINTS = "early_points"


class RewardGrant(Base):
    """One reward given to a unit; credits are a ledger entry, points are counted here."""

    __tablename__ = "gov_reward_grants"
    __table_args__ = (
        UniqueConstraint("kind", "unit_id", "source_key"),
        CheckConstraint("credit_fen >= 0 AND points >= 0", name="nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    source_key: Mapped[str] = mapped_column(String(64))  # what earned it: "bill:12", "2026"
    credit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    points: Mapped[int] = mapped_column(Integer, default=0)
    journal_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
