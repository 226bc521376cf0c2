"""Server-side sessions: every log-in is a row, checked on every request and revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from portal.accounts.models import ApiToken, User, UserSession


@dataclass(frozen=True)
class Timeouts:
    """How long a session lives: since the last request (idle) and since log-in (absolute);
    a "remember me" log-in gets the longer pair."""

    idle: timedelta
    absolute: timedelta
    remember_idle: timedelta
    remember_absolute: timedelta

    def limits(self, remember: bool) -> tuple[timedelta, timedelta]:
        if remember:
            return self.remember_idle, self.remember_absolute
        return self.idle, self.absolute


# Writing last_seen on every request would turn each page view into a write; once a minute
# is precise enough for an idle timeout counted in minutes.
TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session,
    *,
    user: User,
    now: datetime,
    ip: str = "",
    user_agent: str = "",
    remember: bool = False,
) -> UserSession:
    """Open a new session for the user; its clear id is put on `user.session_token` only."""
    token = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user.id,
        token_hash=_digest(token),
        created_at=now,
        last_seen_at=now,
        ip=(ip or "")[:45],
        user_agent=(user_agent or "")[:200],
        remember=remember,
    )
    session.add(row)
    session.flush()
    user.session_token = token
    user.current_session = row
    return row


def is_live(row: UserSession, *, now: datetime, timeouts: Timeouts) -> bool:
    """True while the session is neither revoked nor past its idle or absolute timeout."""
    if row.revoked_at is not None:
        return False
    idle, absolute = timeouts.limits(row.remember)
    return now - row.last_seen_at < idle and now - row.created_at < absolute


def resolve_session(
    session: Session, *, token: str, now: datetime, timeouts: Timeouts
) -> UserSession | None:
    """The live session with this id (its user active), else None."""
    if not token or len(token) > 100:
        return None
    # Session, user and roles in one statement: every signed-in request starts here.
    row = (
        session.scalars(
            select(UserSession)
            .options(joinedload(UserSession.user).joinedload(User.roles))
            .where(UserSession.token_hash == _digest(token))
        )
        .unique()
        .first()
    )
    if row is None or not is_live(row, now=now, timeouts=timeouts) or not row.user.active:
        return None
    row.user.session_token = token
    row.user.current_session = row
    return row


def needs_touch(row: UserSession, *, now: datetime) -> bool:
    return now - row.last_seen_at >= TOUCH_EVERY


def revoke_session(session: Session, *, user: User, session_id: int, now: datetime) -> bool:
    """End one of the user's own sessions; False when it is not theirs or already ended."""
    ended = session.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    ).rowcount
    session.flush()
    return ended == 1


def revoke_all(session: Session, *, user_id: int, now: datetime, keep_id: int | None = None) -> int:
    """End every session of the user except `keep_id`; returns how many were ended."""
    stmt = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if keep_id is not None:
        stmt = stmt.where(UserSession.id != keep_id)
    ended = session.execute(stmt.values(revoked_at=now)).rowcount
    session.flush()
    return int(ended)


def live_sessions(
    session: Session, *, user: User, now: datetime, timeouts: Timeouts
) -> list[UserSession]:
    """The user's sessions still in force, newest activity first."""
    rows = session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        .limit(200)
    )
    return [row for row in rows if is_live(row, now=now, timeouts=timeouts)]


def live_tokens(session: Session, *, user: User, now: datetime) -> list[ApiToken]:
    """The user's API tokens still in force, newest first."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(
                ApiToken.user_id == user.id,
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > now,
            )
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
            .limit(200)
        )
    )


def revoke_token(session: Session, *, user: User, token_id: int, now: datetime) -> bool:
    """Revoke one of the user's own API tokens; False when not theirs or already revoked."""
    ended = session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    session.flush()
    return ended == 1
