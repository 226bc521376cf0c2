"""Record staff actions in an append-only hash chain, and verify the chain.

Each entry's hash is `sha256_hex(prev_hash + canonical)`, where `canonical` is the JSON of
{seq, at, actor_id, action, target_type, target_id, community_id, details, prev_hash} with
sorted keys and no spaces (as the publication log), and the first prev_hash is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry

GENESIS = "0" * 64


def canonical_json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_body(entry: AuditEntry) -> dict[str, Any]:
    """The hashed fields of an entry, exactly as stored."""
    return {
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "actor_id": entry.actor_id,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "community_id": entry.community_id,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }


def compute_hash(entry: AuditEntry) -> str:
    """sha256_hex(prev_hash + canonical JSON of the entry's fields)."""
    return hashlib.sha256(
        (entry.prev_hash + canonical_json(entry_body(entry))).encode()
    ).hexdigest()


def _lock_chain(session: Session) -> None:
    """One writer extends the chain at a time (PostgreSQL; SQLite serialises writers anyway).
    The unique seq backs it: a second writer with the same tip fails rather than forks."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7420131)"))


def record(
    session: Session,
    *,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | None,
    community_id: int | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit entry, chained to the previous one, in the caller's transaction."""
    _lock_chain(session)
    session.flush()  # entries added earlier in this transaction are part of the tip
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    entry = AuditEntry(
        seq=seq,
        # Whole seconds, so the hashed text survives every database's round trip.
        at=now.astimezone(UTC).replace(microsecond=0),
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        community_id=community_id,
        # Round-trip through JSON so what is stored is exactly what is hashed.
        details=json.loads(json.dumps(details or {}, default=str)),
        prev_hash=prev_hash,
        hash="",
    )
    entry.hash = compute_hash(entry)
    session.add(entry)
    session.flush()
    return entry


def record_personal_data_export(
    session: Session,
    *,
    actor_id: int,
    action: str,
    community_id: int | None,
    now: datetime,
    ip: str | None,
    fmt: str | None = None,
    target_type: str = "community",
    target_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Audit a staff export or reveal of personal data: who (actor), when (now), what
    (action, format, filters) and from where (the client address, as ProxyFix sees it)."""
    return record(
        session,
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=community_id if target_id is None else target_id,
        community_id=community_id,
        now=now,
        details={**(details or {}), "format": fmt, "ip": ip or ""},
    )


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    broken_seq: int | None = None
    reason: str = ""


def verify(session: Session, *, batch: int = 1000) -> Verification:
    """Walk the chain in order; the first entry whose link or hash does not hold, if any."""
    prev_hash, expected_seq, count, last_seq = GENESIS, 1, 0, 0
    while True:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return Verification(ok=True, entries=count)
        for entry in rows:
            if entry.seq != expected_seq:
                return Verification(False, count, expected_seq, "entry missing (deleted)")
            if entry.prev_hash != prev_hash:
                return Verification(False, count, entry.seq, "prev_hash does not match")
            if compute_hash(entry) != entry.hash:
                return Verification(False, count, entry.seq, "content changed")
            prev_hash, expected_seq, last_seq = entry.hash, entry.seq + 1, entry.seq
            count += 1
