"""Double-entry journal: balanced, immutable entries; balances are sums of postings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    DDL,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime


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
