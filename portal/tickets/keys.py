"""Open311 api_keys: an owner's keys for filing repair requests from an Open311 client.

The keys are the tickets domain's (Open311Key is a tickets model), so the owner's key page
(tickets.views) and the Open311 endpoints (open311, above tickets) both use them from here.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.errors import DomainError
from portal.tickets.models import Open311Key

KEY_PREFIX = "o311_"
MAX_KEYS = 5


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    key: str
    row: Open311Key


def create_key(session: Session, *, user: User, label: str, now: datetime) -> IssuedKey:
    """A new api_key for an owner; the clear text is shown once, only its hash is kept."""
    if not user.is_owner:
        raise DomainError(_l("只有业主可以申请 Open311 密钥"), field="label")
    live = session.scalars(
        select(Open311Key).where(Open311Key.user_id == user.id, Open311Key.revoked_at.is_(None))
    ).all()
    if len(live) >= MAX_KEYS:
        raise DomainError(
            _l("最多同时持有 %(n)s 个密钥，请先撤销不用的", n=MAX_KEYS), field="label"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = Open311Key(
        user_id=user.id,
        key_hash=_digest(key),
        label=(label or "").strip()[:64],
        prefix=key[: len(KEY_PREFIX) + 6],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return IssuedKey(key=key, row=row)


def user_keys(session: Session, *, user: User) -> list[Open311Key]:
    return list(
        session.scalars(
            select(Open311Key).where(Open311Key.user_id == user.id).order_by(Open311Key.id.desc())
        )
    )


def revoke_key(session: Session, *, user: User, key_id: int, now: datetime) -> bool:
    """Revoke one of the user's own keys; False when it is not theirs (→ 404)."""
    row = session.get(Open311Key, key_id)
    if row is None or row.user_id != user.id:
        return False
    if row.revoked_at is None:
        row.revoked_at = now
        session.flush()
    return True


def user_for_key(session: Session, *, key: str, now: datetime) -> User | None:
    """The active owner a live key belongs to, else None."""
    if not key:
        return None
    row = session.scalar(select(Open311Key).where(Open311Key.key_hash == _digest(key.strip())))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    row.last_used_at = now
    return row.user
