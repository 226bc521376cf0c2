"""Users, their roles (scoped to communities) and API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime


class Role(StrEnum):
    OWNER = "owner"
    CS = "cs"
    ENGINEER = "engineer"
    FINANCE = "finance"
    COLLECTOR = "collector"
    MANAGER = "manager"
    COMMITTEE = "committee"
    ADMIN = "admin"


STAFF_ROLES = frozenset(
    {Role.CS, Role.ENGINEER, Role.FINANCE, Role.COLLECTOR, Role.MANAGER, Role.COMMITTEE}
)


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # None means "imported, not yet activated": the account cannot log in.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(255))
    wechat_openid: Mapped[str | None] = mapped_column(String(64))  # bound WeChat, for messages
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    # The random id of the server-side session (UserSession) this request runs in, set at
    # log-in and by the user loader. Flask-Login keeps get_id() in the session and remember
    # cookies, so they carry that id, never the user's own id, and revoking the row ends them.
    session_token: ClassVar[str | None] = None  # set per instance; not a column
    current_session: ClassVar[UserSession | None] = None

    def get_id(self) -> str:
        if not self.session_token:
            raise RuntimeError("log in through accounts.sessions.start_session")
        return self.session_token

    # UserMixin compares users by get_id(), which is now a per-session id: compare the
    # account instead (the same user in two sessions is the same user).
    def __eq__(self, other: object) -> bool:
        if isinstance(other, User):
            return self is other or (self.id is not None and self.id == other.id)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = object.__hash__  # identity, as SQLAlchemy's identity map expects

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    def has_role(self, *roles: str) -> bool:
        names = self.role_names()
        return Role.ADMIN in names or bool(names.intersection(roles))

    def community_ids(self, *roles: str) -> set[int]:
        """Communities where the user holds one of `roles` (any role when none given)."""
        return {
            r.community_id
            for r in self.roles
            if r.community_id is not None and (not roles or r.role in roles)
        }

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.role_names()

    @property
    def is_staff(self) -> bool:
        return self.is_admin or bool(self.role_names() & STAFF_ROLES)

    @property
    def is_owner(self) -> bool:
        return Role.OWNER in self.role_names()


class RoleAssignment(Base):
    """A role held by a user, in one community (admin: community None = everywhere)."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "role", "community_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )

    user: Mapped[User] = relationship(back_populates="roles")


class UserSession(Base):
    """A log-in on one device. The cookie (and Flask-Login's remember cookie) carries only a
    random id whose SHA-256 is stored here, so ending this row ends that device's access."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_revoked", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    remember: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # When this session passed the second factor (staff roles that need it); None = not yet.
    two_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class TwoFactor(Base):
    """A user's TOTP secret; usable once confirmed with a code from their app."""

    __tablename__ = "two_factor"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # The verifier needs the shared secret itself (RFC 6238), so it cannot be hashed.
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The 30-second step of the last accepted code: a code is never accepted twice.
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Base):
    """A single-use recovery code; only its SHA-256 is stored."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_user_hash", "user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_expires", "user_id", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
