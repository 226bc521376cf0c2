"""Retention of messages and uploads, applied by `flask privacy retention` (daily, idempotent).

- Messages (notify outbox and inbox): a message in a final state (sent, delivered, failed,
  cancelled, suppressed) older than MESSAGE_RETENTION_DAYS is deleted, unless another row
  points at it (a collections contact record or contact attempt that proves a reminder was
  sent, or a fallback message): those are evidence and stay with the record that cites them.
- Uploads: a file lives as long as the record it is evidence for. Photos of repair tickets
  closed more than UPLOAD_RETENTION_DAYS ago are removed (they show the inside of homes);
  published spending, fund, notice and vote documents and dispute evidence stay with their
  records. A stored file that nothing references any more, older than a day, is deleted
  with its bytes on disk (the bytes only when no other row shares the same content).
- Audit rows are never deleted: the table is append-only (triggers) and hash-chained, and a
  gap would break verification. They are kept AUDIT_RETENTION_YEARS (documented, default 10:
  they back accounting records, which the Accounting Archives Measures keep for 10-30 years).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.db import Base
from portal.notify.models import Message, MessageStatus
from portal.tickets.models import Ticket, TicketPhoto
from portal.uploads import service as uploads
from portal.uploads.models import StoredFile

FINAL = (
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.FAILED,
    MessageStatus.CANCELLED,
    MessageStatus.SUPPRESSED,
)
ORPHAN_GRACE = timedelta(days=1)  # a file stored a moment ago may not be attached yet


@dataclass(frozen=True)
class RetentionResult:
    messages: int
    ticket_photos: int
    files: int
    unlink: frozenset[Path] = frozenset()  # bytes to remove once the transaction committed


def _referenced_ids(session: Session, table_name: str) -> set[int]:
    """Ids of `table_name` that any row of another table (or a self-reference) points at."""
    ids: set[int] = set()
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == table_name:
                column = table.c[fk.parent.name]
                ids.update(
                    v for v in session.scalars(select(column).where(column.is_not(None))) if v
                )
    return ids


def apply(
    session: Session,
    *,
    now: datetime,
    message_days: int,
    upload_days: int,
    batch: int = 1000,
) -> RetentionResult:
    """Delete what is past its retention period; re-running the same day deletes nothing more."""
    kept = _referenced_ids(session, "notify_messages")
    old = list(
        session.scalars(
            select(Message.id)
            .where(
                Message.status.in_(FINAL), Message.created_at < now - timedelta(days=message_days)
            )
            .order_by(Message.id)
        )
    )
    doomed = [i for i in old if i not in kept]
    for start in range(0, len(doomed), batch):
        session.execute(delete(Message).where(Message.id.in_(doomed[start : start + batch])))

    closed_before = now - timedelta(days=upload_days)
    photo_ids = list(
        session.scalars(
            select(TicketPhoto.id)
            .join(Ticket, Ticket.id == TicketPhoto.ticket_id)
            .where(Ticket.closed_at.is_not(None), Ticket.closed_at < closed_before)
        )
    )
    for start in range(0, len(photo_ids), batch):
        session.execute(
            delete(TicketPhoto).where(TicketPhoto.id.in_(photo_ids[start : start + batch]))
        )
    session.flush()

    used = _referenced_ids(session, "stored_files")
    orphans = [
        f
        for f in session.scalars(
            select(StoredFile).where(StoredFile.created_at < now - ORPHAN_GRACE)
        )
        if f.id not in used
    ]
    paths: set[Path] = set()
    for stored in orphans:
        paths.add(uploads.storage_path(stored.sha256, stored.extension))
        session.delete(stored)
    session.flush()
    still = {
        uploads.storage_path(sha, ext)
        for sha, ext in session.execute(select(StoredFile.sha256, StoredFile.extension))
    }
    if doomed or photo_ids or orphans:
        audit.record(
            session,
            actor_id=None,
            action="privacy.retention_applied",
            target_type="retention",
            target_id=None,
            community_id=None,
            now=now,
            details={
                "messages": len(doomed),
                "ticket_photos": len(photo_ids),
                "files": len(orphans),
                "message_days": message_days,
                "upload_days": upload_days,
            },
        )
    return RetentionResult(
        messages=len(doomed),
        ticket_photos=len(photo_ids),
        files=len(orphans),
        unlink=frozenset(paths - still),
    )


def remove_files(paths: frozenset[Path]) -> None:
    """Delete the bytes of removed rows; call after commit, so a failed transaction never
    leaves a row without its file (a file without a row is harmless)."""
    for path in paths:
        path.unlink(missing_ok=True)
