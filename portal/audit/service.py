"""Record staff actions; entries are only ever appended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry


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
    """Append one audit entry in the caller's transaction."""
    entry = AuditEntry(
        at=now,
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        community_id=community_id,
        details=details or {},
    )
    session.add(entry)
    session.flush()
    return entry
