"""Accounts: password hashing (argon2id), authentication, roles, API tokens."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts import sessions
from portal.accounts.models import ApiToken, Role, RoleAssignment, User
from portal.errors import DomainError, NotFound
from portal.timeutil import now_utc

MIN_PASSWORD_LENGTH = 12
MIN_DISTINCT_CHARACTERS = 5
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


class _Hasher:
    """argon2id with a cost the app configures (tests lower it)."""

    def __init__(self) -> None:
        self.configure(time_cost=3, memory_cost=65536)

    def configure(self, *, time_cost: int, memory_cost: int) -> None:
        self.ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)
        self._dummy: str | None = None

    @property
    def dummy(self) -> str:
        """Verified against when the user is unknown, so both paths cost the same time. Made
        on first use, not at import: hashing it twice cost every CLI job 0.33 s to start."""
        if self._dummy is None:
            self._dummy = self.ph.hash(secrets.token_hex(16))
        return self._dummy


hasher = _Hasher()


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return hasher.ph.hash(password)


@cache
def common_passwords() -> frozenset[str]:
    """The bundled top-10,000 list (zxcvbn's frequency list), lower case."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def check_password_rules(password: str) -> None:
    """Raise DomainError when a new password is too weak."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            _l("密码至少 %(n)s 位", n=MIN_PASSWORD_LENGTH),
            field="new_password",
        )
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:  # "!!!!!!!!!!!!", "abababab1212"
        raise DomainError(
            _l("密码至少要有 %(n)s 个不同的字符", n=MIN_DISTINCT_CHARACTERS),
            field="new_password",
        )
    if password.isdigit() or password.isalpha():
        raise DomainError(_l("密码需同时包含字母和数字或符号"), field="new_password")
    if password.lower() in common_passwords():
        raise DomainError(
            _l("这个密码太常见，很容易被猜中，请换一个"), field="new_password", code="common"
        )


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The active user with this username and password, else None (no hint which failed)."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or user.password_hash is None or not user.active:
        with contextlib.suppress(VerificationError):
            hasher.ph.verify(hasher.dummy, password)
        return None
    try:
        hasher.ph.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if hasher.ph.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.flush()
    return user


def create_user(
    session: Session,
    *,
    username: str,
    password: str | None,
    now: datetime,
    display_name: str = "",
    phone: str | None = None,
    enforce_rules: bool = True,
) -> User:
    """Create a user; the username must be free. A None password makes an unactivated account."""
    username = username.strip()
    if not username or len(username) > 64:
        raise DomainError(_l("用户名不能为空且不超过 64 个字符"), field="username")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DomainError(
            _l("用户名 %(username)s 已存在", username=username), field="username", code="duplicate"
        )
    if password is not None and enforce_rules:
        check_password_rules(password)
    user = User(
        username=username,
        password_hash=hash_password(password) if password is not None else None,
        display_name=display_name or username,
        phone=phone,
        created_at=now,
        password_changed_at=now if password else None,
    )
    session.add(user)
    session.flush()
    return user


def grant_role(
    session: Session, *, user: User, role: str, community_id: int | None
) -> RoleAssignment:
    """Give a role, scoped to a community (admin may be unscoped); granting twice is a no-op."""
    if role not in set(Role):
        raise DomainError(_l("未知角色 %(role)s", role=role), field="role")
    if role != Role.ADMIN and community_id is None:
        raise DomainError(_l("除管理员外，角色必须指定小区"), field="community")
    for existing in user.roles:
        if existing.role == role and existing.community_id == community_id:
            return existing
    assignment = RoleAssignment(user=user, role=role, community_id=community_id)
    session.add(assignment)
    if role != Role.OWNER:
        # New staff powers take effect at the next log-in (and its second factor).
        sessions.revoke_all(session, user_id=user.id, now=now_utc())
    session.flush()
    return assignment


def revoke_role(session: Session, *, user: User, role: str, community_id: int | None) -> bool:
    """Take a role away and end the user's sessions; False when they did not hold it."""
    for existing in list(user.roles):
        if existing.role == role and existing.community_id == community_id:
            user.roles.remove(existing)
            sessions.revoke_all(session, user_id=user.id, now=now_utc())
            session.flush()
            return True
    return False


def set_active(session: Session, *, user: User, active: bool, now: datetime) -> None:
    """Enable or disable a user; disabling ends their sessions and API tokens at once."""
    user.active = active
    if not active:
        sessions.revoke_all(session, user_id=user.id, now=now)
        for token in session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        ):
            token.revoked_at = now
    session.flush()


def change_password(
    session: Session,
    *,
    user: User,
    current: str,
    new: str,
    now: datetime,
    keep_session_id: int | None = None,
) -> None:
    """Replace the password after checking the current one; ends the user's API tokens and
    every session but `keep_session_id` (the one changing it), so a thief's copy stops."""
    if user.password_hash is None:
        raise DomainError(_l("当前密码不正确"), field="current_password")
    try:
        hasher.ph.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError) as exc:
        raise DomainError(_l("当前密码不正确"), field="current_password") from exc
    check_password_rules(new)
    if new == current:
        raise DomainError(_l("新密码不能与当前密码相同"), field="new_password")
    user.password_hash = hash_password(new)
    user.password_changed_at = now
    for token in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = now
    sessions.revoke_all(session, user_id=user.id, now=now, keep_id=keep_session_id)
    session.flush()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, *, user: User, now: datetime, ttl: timedelta) -> IssuedToken:
    """Create a bearer token; only its hash is stored, the clear text is returned once."""
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_digest(token), created_at=now, expires_at=now + ttl)
    session.add(row)
    session.flush()
    return IssuedToken(token=token, expires_at=row.expires_at)


def user_for_token(session: Session, *, token: str, now: datetime) -> User | None:
    """The active user a live (unexpired, unrevoked) token belongs to, else None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row.user if row.user.active else None


def get_user(session: Session, username: str) -> User:
    """The user with this username, or NotFound."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(_l("用户 %(username)s 不存在", username=username))
    return user
