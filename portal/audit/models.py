"""Append-only, hash-chained log of staff actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime


class AuditEntry(Base):
    """One link of the audit chain: hash = sha256(prev_hash || canonical JSON of the entry)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_community_at", "community_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Position in the chain (1, 2, ...); unique, so two writers can never both extend it.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[int | None] = mapped_column(Integer)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# Append-only in the database itself, as the ledger: UPDATE and DELETE are refused by
# triggers, so not even a bug (or a compromised app account without DDL rights) rewrites
# history; the hash chain shows any edit made around them.
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'audit entries are append-only'; END $$ LANGUAGE plpgsql"
)
PG_TRIGGER = (
    "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
    "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
)
SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER audit_entries_no_{op.lower()} BEFORE {op} ON audit_entries "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END"
    for op in ("UPDATE", "DELETE")
)

_table = Base.metadata.tables["audit_entries"]
event.listen(_table, "before_create", DDL(PG_FUNCTION).execute_if(dialect="postgresql"))
event.listen(_table, "after_create", DDL(PG_TRIGGER).execute_if(dialect="postgresql"))
for _ddl in SQLITE_TRIGGERS:
    event.listen(_table, "after_create", DDL(_ddl).execute_if(dialect="sqlite"))
