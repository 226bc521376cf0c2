"""Transparency: spending with evidence, budgets, the common-revenue and maintenance-fund
accounts, and annual income-and-expenditure statements.

Published rows are never edited: a correction is a new row whose `supersedes_id` points at the
old one, and both stay visible. What was published is in the hash-chained publication log, so
an edit made behind the application's back is detected by `flask transparency verify`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
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
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.db import Base, UTCDateTime
from portal.uploads.models import StoredFile


class RecordStatus(StrEnum):
    DRAFT = "draft"  # private to staff, editable
    PUBLISHED = "published"  # in the publication log; never edited again


class SpendingCategory(Base):
    """A node of a community's two-level category tree; `code` never changes once made."""

    __tablename__ = "spending_categories"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("spending_categories.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(60))
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")

    parent: Mapped[SpendingCategory | None] = relationship(remote_side=[id])


class SpendingItem(Base):
    """One dated expense of a community, with evidence; drafts are private."""

    __tablename__ = "spending_items"
    __table_args__ = (
        CheckConstraint("amount_fen >= 0", name="amount_nonnegative"),
        # A published item is superseded at most once (corrections form a chain).
        UniqueConstraint("supersedes_id"),
        Index("ix_spending_items_community_status_spent", "community_id", "status", "spent_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("spending_categories.id"), index=True)
    spent_on: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # 0 only for a retraction
    vendor: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default=RecordStatus.DRAFT)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("spending_items.id"))
    correction_reason: Mapped[str] = mapped_column(String(500), default="")
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    category: Mapped[SpendingCategory] = relationship()
    entered_by: Mapped[User | None] = relationship()
    supersedes: Mapped[SpendingItem | None] = relationship(remote_side=[id])
    evidence: Mapped[list[SpendingEvidence]] = relationship(
        back_populates="item", order_by="SpendingEvidence.id", cascade="all, delete-orphan"
    )


class SpendingEvidence(Base):
    """An invoice, contract or photo backing a spending item."""

    __tablename__ = "spending_evidence"
    __table_args__ = (UniqueConstraint("item_id", "stored_file_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("spending_items.id"), index=True)
    stored_file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))
    label: Mapped[str] = mapped_column(String(100), default="")

    item: Mapped[SpendingItem] = relationship(back_populates="evidence")
    file: Mapped[StoredFile] = relationship()


class Budget(Base):
    """One version of a community's annual budget; a revision supersedes the previous one."""

    __tablename__ = "budgets"
    __table_args__ = (
        UniqueConstraint("community_id", "year", "version"),
        UniqueConstraint("supersedes_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default=RecordStatus.DRAFT)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("budgets.id"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    note: Mapped[str] = mapped_column(String(1000), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list[BudgetLine]] = relationship(
        back_populates="budget", order_by="BudgetLine.id", cascade="all, delete-orphan"
    )


class BudgetLine(Base):
    """The budgeted amount of one top-level category."""

    __tablename__ = "budget_lines"
    __table_args__ = (
        UniqueConstraint("budget_id", "category_id"),
        CheckConstraint("amount_fen >= 0", name="amount_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("spending_categories.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)

    budget: Mapped[Budget] = relationship(back_populates="lines")
    category: Mapped[SpendingCategory] = relationship()


class FundAccount(StrEnum):
    COMMON_REVENUE = "common_revenue"  # 公共收益: belongs to the owners
    MAINTENANCE_FUND = "maintenance_fund"  # 专项维修资金


class FundMovement(Base):
    """Money into or out of one of the owners' separate accounts."""

    __tablename__ = "fund_movements"
    __table_args__ = (
        CheckConstraint("amount_fen >= 0", name="amount_nonnegative"),
        CheckConstraint("direction IN ('in', 'out')", name="direction_valid"),
        UniqueConstraint("supersedes_id"),
        Index("ix_fund_movements_community_account", "community_id", "account", "occurred_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    account: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(32))
    occurred_on: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # 0 only for a retraction
    counterparty: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    approval_ref: Mapped[str] = mapped_column(String(200), default="")
    # The passed owners' vote (governance) that decided this movement, if cited.
    vote_id: Mapped[int | None] = mapped_column(ForeignKey("gov_votes.id"))
    status: Mapped[str] = mapped_column(String(16), default=RecordStatus.DRAFT)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("fund_movements.id"))
    correction_reason: Mapped[str] = mapped_column(String(500), default="")
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    supersedes: Mapped[FundMovement | None] = relationship(remote_side=[id])
    evidence: Mapped[list[FundEvidence]] = relationship(
        back_populates="movement", order_by="FundEvidence.id", cascade="all, delete-orphan"
    )


class FundEvidence(Base):
    __tablename__ = "fund_evidence"
    __table_args__ = (UniqueConstraint("movement_id", "stored_file_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    movement_id: Mapped[int] = mapped_column(ForeignKey("fund_movements.id"), index=True)
    stored_file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id"))
    label: Mapped[str] = mapped_column(String(100), default="")

    movement: Mapped[FundMovement] = relationship(back_populates="evidence")
    file: Mapped[StoredFile] = relationship()


class AnnualStatement(Base):
    """A year's income-and-expenditure statement (mandatory under 酬金制), as published."""

    __tablename__ = "annual_statements"
    __table_args__ = (
        UniqueConstraint("community_id", "year", "version"),
        UniqueConstraint("supersedes_id"),
        CheckConstraint(
            "fee_income_fen >= 0 AND other_income_fen >= 0 AND commission_fen >= 0",
            name="amounts_nonnegative",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default=RecordStatus.DRAFT)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("annual_statements.id"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    fee_regime: Mapped[str] = mapped_column(String(20))
    fee_income_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    other_income_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    commission_rate: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))
    commission_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    spending_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # [{"code", "name", "amount_fen"}] per top-level category, frozen at drafting time.
    spending_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def income_fen(self) -> int:
        return self.fee_income_fen + self.other_income_fen

    @property
    def balance_fen(self) -> int:
        """Income minus expenditure and commission: the surplus (or deficit) carried forward."""
        return self.income_fen - self.spending_fen - self.commission_fen
