"""The publication log: append-only, hash-chained per community, verifiable by anyone.

Each entry, as served by the API, is {"seq", "community", "kind", "record_id", "published_at",
"payload", "prev_hash", "hash"}; `hash = sha256_hex(prev_hash + canonical)` where `canonical`
is the JSON of the entry without "hash", keys sorted, separators (",", ":"), non-ASCII kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.communities.models import Community
from portal.publication.models import PublicationEntry

GENESIS = "0" * 64

# kind → function(session, record_id) giving the record's payload as it is *now*; verify()
# compares it with the logged payload, so editing a published row in place is detected.
PAYLOAD_BUILDERS: dict[str, Callable[[Session, int], dict[str, Any] | None]] = {}


def register_kind(kind: str, builder: Callable[[Session, int], dict[str, Any] | None]) -> None:
    """Let a domain say how to rebuild the payload of a record it publishes."""
    PAYLOAD_BUILDERS[kind] = builder


def canonical_json(data: dict[str, Any]) -> str:
    """The one serialisation that is hashed (DESIGN.md §3)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_instant(instant: datetime) -> str:
    """An instant as UTC text, e.g. 2026-11-20T02:00:00Z (whatever zone it was given in)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_dict(entry: PublicationEntry, community_code: str) -> dict[str, Any]:
    """The entry exactly as published (and hashed)."""
    return {
        "seq": entry.seq,
        "community": community_code,
        "kind": entry.kind,
        "record_id": entry.record_id,
        "published_at": format_instant(entry.published_at),
        "payload": entry.payload,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def compute_hash(entry: dict[str, Any]) -> str:
    """sha256_hex(prev_hash + canonical JSON of the entry without its hash)."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256((entry["prev_hash"] + canonical_json(body)).encode()).hexdigest()


def append(
    session: Session,
    *,
    community: Community,
    kind: str,
    record_id: int,
    payload: dict[str, Any],
    now: datetime,
) -> PublicationEntry:
    """Append one publication to the community's chain (serialised per community)."""
    # Lock the community row so concurrent publications of one community queue up
    # (PostgreSQL); SQLite serialises writers anyway. The unique (community, seq) backs it.
    session.execute(select(Community.id).where(Community.id == community.id).with_for_update())
    last = session.execute(
        select(PublicationEntry.seq, PublicationEntry.hash)
        .where(PublicationEntry.community_id == community.id)
        .order_by(PublicationEntry.seq.desc())
        .limit(1)
    ).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    # Stored as UTC without microseconds, so the hashed text survives the database round trip.
    published_at = now.astimezone(UTC).replace(microsecond=0)
    # Round-trip through JSON so the stored payload is exactly what gets hashed.
    clean_payload = json.loads(canonical_json(payload))
    entry = PublicationEntry(
        community_id=community.id,
        seq=seq,
        kind=kind,
        record_id=record_id,
        published_at=published_at,
        payload=clean_payload,
        prev_hash=prev_hash,
        hash="",
    )
    entry.hash = compute_hash(entry_dict(entry, community.code))
    session.add(entry)
    session.flush()
    return entry


def rechain_in_time_order(session: Session, *, community: Community) -> int:
    """Rewrite a community's not-yet-public chain so that seq follows published_at.

    Only for building demo data in one transaction, where each domain seeds its own past
    publications in turn: once anything is committed the chain is append-only."""
    entries = list(
        session.scalars(
            select(PublicationEntry)
            .where(PublicationEntry.community_id == community.id)
            .order_by(PublicationEntry.published_at, PublicationEntry.seq)
        )
    )
    for entry in entries:  # move out of the way of the unique (community, seq) first
        entry.seq = -entry.seq
    session.flush()
    prev_hash = GENESIS
    for seq, entry in enumerate(entries, start=1):
        entry.seq = seq
        entry.prev_hash = prev_hash
        entry.hash = compute_hash(entry_dict(entry, community.code))
        prev_hash = entry.hash
    session.flush()
    return len(entries)


def append_many(
    session: Session,
    *,
    community: Community,
    records: list[tuple[str, int, dict[str, Any], datetime]],
) -> list[PublicationEntry]:
    """Append several (kind, record_id, payload, now) publications in order, locking once."""
    session.execute(select(Community.id).where(Community.id == community.id).with_for_update())
    last = session.execute(
        select(PublicationEntry.seq, PublicationEntry.hash)
        .where(PublicationEntry.community_id == community.id)
        .order_by(PublicationEntry.seq.desc())
        .limit(1)
    ).first()
    seq, prev_hash = (last[0], last[1]) if last else (0, GENESIS)
    made = []
    for kind, record_id, payload, now in records:
        seq += 1
        entry = PublicationEntry(
            community_id=community.id,
            seq=seq,
            kind=kind,
            record_id=record_id,
            published_at=now.astimezone(UTC).replace(microsecond=0),
            payload=json.loads(canonical_json(payload)),
            prev_hash=prev_hash,
            hash="",
        )
        entry.hash = compute_hash(entry_dict(entry, community.code))
        prev_hash = entry.hash
        made.append(entry)
    session.add_all(made)
    session.flush()
    return made


def entries(session: Session, community: Community) -> list[dict[str, Any]]:
    """The community's whole chain in seq order, as published."""
    rows = session.scalars(
        select(PublicationEntry)
        .where(PublicationEntry.community_id == community.id)
        .order_by(PublicationEntry.seq)
    )
    return [entry_dict(row, community.code) for row in rows]


def recent(session: Session, community: Community, *, limit: int = 100) -> list[dict[str, Any]]:
    """The newest `limit` entries, newest first (for pages; verification needs entries())."""
    rows = session.scalars(
        select(PublicationEntry)
        .where(PublicationEntry.community_id == community.id)
        .order_by(PublicationEntry.seq.desc())
        .limit(limit)
    )
    return [entry_dict(row, community.code) for row in rows]


def latest_for(
    session: Session, *, community_id: int, kind: str, record_ids: list[int]
) -> dict[int, PublicationEntry]:
    """The latest publication entry of each record (for showing seq and hash beside it)."""
    if not record_ids:
        return {}
    rows = session.scalars(
        select(PublicationEntry)
        .where(
            PublicationEntry.community_id == community_id,
            PublicationEntry.kind == kind,
            PublicationEntry.record_id.in_(record_ids),
        )
        .order_by(PublicationEntry.seq)
    )
    return {row.record_id: row for row in rows}


@dataclass(frozen=True)
class VerifyResult:
    community: str
    entries: int
    ok: bool
    bad_seq: int | None = None
    reason: str = ""


def verify_chain(chain: list[dict[str, Any]]) -> tuple[int | None, str]:
    """The first broken seq and why, or (None, "") when every link holds."""
    prev = GENESIS
    for expected_seq, entry in enumerate(chain, start=1):
        if entry.get("seq") != expected_seq:
            return entry.get("seq"), f"seq {entry.get('seq')} where {expected_seq} expected"
        if entry.get("prev_hash") != prev:
            return expected_seq, "prev_hash does not match the previous entry's hash"
        if compute_hash(entry) != entry.get("hash"):
            return expected_seq, "hash does not match the entry's content"
        prev = entry["hash"]
    return None, ""


def verify(session: Session, community: Community) -> VerifyResult:
    """Recompute the chain and compare each published record's current content with its log."""
    chain = entries(session, community)
    bad_seq, reason = verify_chain(chain)
    if bad_seq is None:
        latest: dict[tuple[str, int], dict[str, Any]] = {}
        for entry in chain:
            latest[(entry["kind"], entry["record_id"])] = entry
        for (kind, record_id), entry in sorted(latest.items(), key=lambda kv: kv[1]["seq"]):
            builder = PAYLOAD_BUILDERS.get(kind)
            if builder is None:
                continue
            current = builder(session, record_id)
            if current is None or json.loads(canonical_json(current)) != entry["payload"]:
                bad_seq, reason = (
                    entry["seq"],
                    f"{kind} #{record_id} differs from what was published",
                )
                break
    return VerifyResult(
        community=community.code,
        entries=len(chain),
        ok=bad_seq is None,
        bad_seq=bad_seq,
        reason=reason,
    )


def count(session: Session, community: Community) -> int:
    return (
        session.scalar(
            select(func.count(PublicationEntry.id)).where(
                PublicationEntry.community_id == community.id
            )
        )
        or 0
    )
