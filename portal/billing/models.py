"""Fee standards (versioned, never edited), bills and their lines, late-fee policy, holds, and
the ledger they post to: a double-entry journal of balanced, immutable entries, whose
receivable postings name the bill line they concern (balances are sums of postings)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    DDL,
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
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.communities.models import Community, Unit
from portal.db import Base, UTCDateTime


class Basis(StrEnum):
    PER_M2_MONTH = "per_m2_month"  # 元/㎡·月 × building area
    PER_UNIT_MONTH = "per_unit_month"  # 元/户·月
    METERED = "metered"  # 元 per metered quantity (e.g. kWh of shared power)


class LineKind(StrEnum):
    CHARGE = "charge"
    LATE_FEE = "late_fee"


class BillStatus(StrEnum):
    UNPAID = "unpaid"
    PARTIAL = "partial"
    PAID = "paid"
    WAIVED = "waived"


class FeeStandard(Base):
    """One version of a fee item's rate for a property type; a change is a new version."""

    __tablename__ = "fee_standards"
    __table_args__ = (
        UniqueConstraint("community_id", "property_type", "item_code", "version"),
        CheckConstraint("rate >= 0", name="rate_nonnegative"),
        Index(
            "ix_fee_standards_lookup",
            "community_id",
            "property_type",
            "item_code",
            "effective_from",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    property_type: Mapped[str] = mapped_column(String(20))
    item_code: Mapped[str] = mapped_column(String(40))
    item_name: Mapped[str] = mapped_column(String(60))
    basis: Mapped[str] = mapped_column(String(20))
    rate: Mapped[Decimal] = mapped_column(Numeric(12, 4))  # yuan per basis unit
    effective_from: Mapped[date] = mapped_column(Date)
    approval_ref: Mapped[str] = mapped_column(String(200))  # 物价备案/合同条款 document
    version: Mapped[int] = mapped_column(Integer)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("fee_standards.id"))
    # The published fee-change notice that announced this version (not needed for version 1,
    # which comes from the property service contract). A notice announces one change, so it
    # justifies one version only.
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    community: Mapped[Community] = relationship()

    @property
    def unit_label(self) -> str:
        return {
            "per_m2_month": "元/㎡·月",
            "per_unit_month": "元/户·月",
            "metered": "元/计量单位",
        }.get(self.basis, "")


class LateFeePolicy(Base):
    """Late fees (违约金): only where the contract provides them; off by default, capped."""

    __tablename__ = "late_fee_policies"
    __table_args__ = (
        CheckConstraint("daily_rate >= 0 AND daily_rate <= 0.001", name="daily_rate_range"),
        CheckConstraint("cap_rate >= 0 AND cap_rate <= 0.3", name="cap_rate_range"),
    )

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    daily_rate: Mapped[Decimal] = mapped_column(Numeric(8, 6), default=Decimal("0.0003"))
    cap_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4), default=Decimal("0.1000"))
    grace_days: Mapped[int] = mapped_column(Integer, default=30)
    clause_ref: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Bill(Base):
    """One unit's bill for one billing period. amount and outstanding mirror the ledger."""

    __tablename__ = "bills"
    __table_args__ = (
        UniqueConstraint("unit_id", "period"),
        CheckConstraint("outstanding_fen >= 0", name="outstanding_nonnegative"),
        CheckConstraint("outstanding_fen <= amount_fen", name="outstanding_within_amount"),
        Index("ix_bills_community_period", "community_id", "period"),
        # Open bills by due date: arrears aging and reminders read only these rows.
        Index("ix_bills_open_due", "community_id", "due_date", "outstanding_fen"),
        # Only the unpaid ones (an eighth of the bills): what the collections run ages. The
        # index above still serves look-ups by due date alone (bills not yet due).
        Index(
            "ix_bills_unpaid_due",
            "community_id",
            "due_date",
            postgresql_where=text("outstanding_fen > 0"),
            sqlite_where=text("outstanding_fen > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    period: Mapped[date] = mapped_column(Date)  # first day of the month or quarter
    period_months: Mapped[int] = mapped_column(Integer, default=1)
    issued_on: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    outstanding_fen: Mapped[int] = mapped_column(BigInteger)
    waived_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    unit: Mapped[Unit] = relationship()
    lines: Mapped[list[BillLine]] = relationship(back_populates="bill", order_by="BillLine.id")

    @property
    def period_label(self) -> str:
        if self.period_months == 3:
            return f"{self.period.year}-Q{(self.period.month - 1) // 3 + 1}"
        return self.period.strftime("%Y-%m")

    @property
    def paid_fen(self) -> int:
        return self.amount_fen - self.outstanding_fen - self.waived_fen

    @property
    def status(self) -> BillStatus:
        if self.outstanding_fen == 0:
            return BillStatus.WAIVED if self.paid_fen == 0 and self.waived_fen else BillStatus.PAID
        if self.outstanding_fen < self.amount_fen - self.waived_fen:
            return BillStatus.PARTIAL
        return BillStatus.UNPAID


class BillLine(Base):
    __tablename__ = "bill_lines"
    __table_args__ = (
        CheckConstraint("outstanding_fen >= 0", name="outstanding_nonnegative"),
        CheckConstraint("outstanding_fen <= amount_fen", name="outstanding_within_amount"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        UniqueConstraint("bill_id", "late_fee_month"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=LineKind.CHARGE)
    item_code: Mapped[str] = mapped_column(String(40))
    item_name: Mapped[str] = mapped_column(String(60))
    fee_standard_id: Mapped[int | None] = mapped_column(ForeignKey("fee_standards.id"))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    rate: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    months: Mapped[int] = mapped_column(Integer, default=1)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    outstanding_fen: Mapped[int] = mapped_column(BigInteger)
    waived_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    explanation: Mapped[str] = mapped_column(String(255))  # "89.50㎡ × 2.3500 元/㎡·月 × 1 月"
    # For late-fee lines: the month assessed (one line per bill per month, so re-runs are no-ops).
    late_fee_month: Mapped[date | None] = mapped_column(Date)

    bill: Mapped[Bill] = relationship(back_populates="lines")
    fee_standard: Mapped[FeeStandard | None] = relationship()


class HoldSource(StrEnum):
    DISPUTE = "dispute"


OPEN_HOLD = text("released_at IS NULL")


class LineHold(Base):
    """An amount of a bill line on hold: payments are not allocated to it, late fees are not
    charged on it and collections leave it alone, until the hold is released.

    `requested_fen` NULL holds all of the line's outstanding; otherwise the hold is
    min(outstanding, requested_fen), so it shrinks as the line is paid and ends at zero.
    Disputes place and release holds (in the same transaction as their status changes);
    the hold is billing's fact so that billing and collections read it without asking up.
    """

    __tablename__ = "line_holds"
    __table_args__ = (
        CheckConstraint("requested_fen IS NULL OR requested_fen > 0", name="requested_positive"),
        # The open holds of a unit: what held_amounts() reads on every payment and late fee.
        Index(
            "ix_line_holds_open_unit",
            "unit_id",
            "bill_line_id",
            postgresql_where=OPEN_HOLD,
            sqlite_where=OPEN_HOLD,
        ),
        # A source (one dispute) holds at most one line at a time.
        Index(
            "uq_line_holds_open_source",
            "source_type",
            "source_id",
            unique=True,
            postgresql_where=OPEN_HOLD,
            sqlite_where=OPEN_HOLD,
        ),
        Index("ix_line_holds_line", "bill_line_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bill_line_id: Mapped[int] = mapped_column(ForeignKey("bill_lines.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    source_type: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[int] = mapped_column(Integer)
    requested_fen: Mapped[int | None] = mapped_column(BigInteger)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_open(self) -> bool:
        return self.released_at is None


# ---------------------------------------------------------------- the ledger


class AccountKind(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    INCOME = "income"
    EXPENSE = "expense"


class EntryKind(StrEnum):
    BILL = "bill"
    PAYMENT = "payment"
    REFUND = "refund"
    WAIVER = "waiver"
    LATE_FEE = "late_fee"
    ADJUSTMENT = "adjustment"
    PREPAYMENT_APPLIED = "prepayment_applied"
    REVERSAL = "reversal"


class Account(Base):
    """A ledger account, e.g. receivable:unit:12, cash:wechat, income:property_service."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    code: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    __table_args__ = (
        Index("ix_journal_entries_source", "source_type", "source_id"),
        Index("ix_journal_entries_community_at", "community_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    kind: Mapped[str] = mapped_column(String(24))
    memo: Mapped[str] = mapped_column(String(255))
    source_type: Mapped[str] = mapped_column(String(24))
    source_id: Mapped[int] = mapped_column(Integer)
    # A reversal names the entry it reverses; the unique constraint means at most once.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    postings: Mapped[list[Posting]] = relationship(back_populates="entry", order_by="Posting.id")


class Posting(Base):
    """One leg of an entry: a positive amount is a debit, a negative one a credit."""

    __tablename__ = "postings"
    __table_args__ = (Index("ix_postings_account", "account_id", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    bill_line_id: Mapped[int | None] = mapped_column(ForeignKey("bill_lines.id"), index=True)

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")
    account: Mapped[Account] = relationship()


# Immutability in the database itself: UPDATE and DELETE are refused by triggers.
IMMUTABLE_TABLES = ("journal_entries", "postings")


def _install_triggers(table_name: str) -> None:
    table = Base.metadata.tables[table_name]
    for op in ("UPDATE", "DELETE"):
        name = f"{table_name}_no_{op.lower()}"
        event.listen(
            table,
            "after_create",
            DDL(
                f"CREATE TRIGGER {name} BEFORE {op} ON {table_name} "
                f"BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable'); END"
            ).execute_if(dialect="sqlite"),
        )
    event.listen(
        table,
        "after_create",
        DDL(
            f"CREATE TRIGGER {table_name}_immutable BEFORE UPDATE OR DELETE ON {table_name} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_immutable()"
        ).execute_if(dialect="postgresql"),
    )


PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION ledger_immutable() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'ledger rows are immutable'; END $$ LANGUAGE plpgsql"
)
event.listen(
    Base.metadata.tables["journal_entries"],
    "before_create",
    DDL(PG_FUNCTION).execute_if(dialect="postgresql"),
)
for _name in IMMUTABLE_TABLES:
    _install_triggers(_name)


class CollectionSummary(Base):
    """Billed, collected and waived fen of one building's bills for one billing period.

    Kept in step with the bills in the same transaction wherever their amounts move (billing
    runs, late fees and every ledger entry that moves a line: payments, waivers, adjustments,
    reversals, refunds, prepayment), so collection statistics read a few hundred rows instead
    of re-adding every bill; `flask billing rebuild-summaries` recomputes them from the bills.
    """

    __tablename__ = "collection_summaries"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    billed_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # amount less waived
    collected_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # billed less outstanding
    waived_fen: Mapped[int] = mapped_column(BigInteger, default=0)
