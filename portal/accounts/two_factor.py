"""Staff two-factor: TOTP (RFC 6238, pyotp) with single-use recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

import pyotp
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.accounts.models import RecoveryCode, Role, TwoFactor, User
from portal.errors import DomainError

# Roles that see personal data or move money (issue 13 §4); configurable per install.
DEFAULT_ROLES = (Role.FINANCE, Role.COLLECTOR, Role.MANAGER, Role.ADMIN)
# The documented demo secret (DESIGN.md §3): demo staff share it so a demo can log in.
DEMO_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 - public, demo mode only
ISSUER = "Clearfee"
RECOVERY_CODES = 10


def required_for(user: User, roles: Iterable[str]) -> bool:
    """Whether the user holds a role that must use a second factor."""
    return bool(user.role_names() & set(roles))


def get(session: Session, user: User) -> TwoFactor | None:
    return session.get(TwoFactor, user.id)


def is_enrolled(session: Session, user: User) -> bool:
    row = get(session, user)
    return row is not None and row.confirmed_at is not None


def _check_secret(secret: str) -> str:
    secret = secret.strip().replace(" ", "").upper()
    try:
        pyotp.TOTP(secret).at(0)
    except Exception as exc:  # binascii.Error and friends: not base32
        raise DomainError(_l("两步验证密钥必须是 Base32"), field="totp_secret") from exc
    if len(secret) < 16:
        raise DomainError(_l("两步验证密钥至少 16 个字符"), field="totp_secret")
    return secret


def begin_enrolment(session: Session, *, user: User, now: datetime) -> TwoFactor:
    """An unconfirmed secret for the user (kept until confirmed); an enrolled user keeps theirs."""
    row = get(session, user)
    if row is not None:
        return row
    row = TwoFactor(user_id=user.id, secret=pyotp.random_base32(), created_at=now)
    session.add(row)
    session.flush()
    return row


def provisioning_uri(row: TwoFactor, user: User) -> str:
    return pyotp.TOTP(row.secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def _step(now: datetime) -> int:
    return int(now.timestamp()) // 30


def _verify_totp(session: Session, row: TwoFactor, code: str, now: datetime) -> bool:
    """A code of this or the neighbouring 30-second step, each step usable once (no replay)."""
    if not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(row.secret)
    for offset in (0, -1, 1):
        step = _step(now) + offset
        if hmac.compare_digest(totp.at(step * 30), code):
            if row.last_step is not None and step <= row.last_step:
                return False  # a code already used (replayed) or older than the last one
            used = session.execute(
                update(TwoFactor)
                .where(
                    TwoFactor.user_id == row.user_id,
                    (TwoFactor.last_step.is_(None)) | (TwoFactor.last_step < step),
                )
                .values(last_step=step)
            ).rowcount
            session.refresh(row)
            return used == 1
    return False


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def _use_recovery_code(session: Session, user: User, code: str, now: datetime) -> bool:
    used = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    ).rowcount
    return used == 1


def verify(session: Session, *, user: User, code: str, now: datetime) -> bool:
    """True for a fresh TOTP code or an unused recovery code (which is then spent)."""
    row = get(session, user)
    code = (code or "").strip()
    if row is None or row.confirmed_at is None or not code or len(code) > 20:
        return False
    if _verify_totp(session, row, code.replace(" ", ""), now):
        return True
    return _use_recovery_code(session, user, code, now)


def confirm_enrolment(session: Session, *, user: User, code: str, now: datetime) -> list[str]:
    """Confirm the pending secret with a code from the app; returns fresh recovery codes
    (shown once; only their hashes are kept)."""
    row = get(session, user)
    if row is None:
        raise DomainError(_l("请先开始两步验证设置"), field="code")
    if row.confirmed_at is not None:
        raise DomainError(_l("两步验证已启用"), field="code")
    if not _verify_totp(session, row, (code or "").strip(), now):
        raise DomainError(_l("动态验证码不正确"), field="code")
    row.confirmed_at = now
    codes = new_recovery_codes(session, user=user, now=now)
    session.flush()
    return codes


def new_recovery_codes(session: Session, *, user: User, now: datetime) -> list[str]:
    """Replace the user's recovery codes with fresh ones; the clear codes are returned once."""
    session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
    )
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 40 bits each, single use, rate-limited at log-in
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=_digest(raw), created_at=now))
    session.flush()
    return codes


def enrol_with_secret(session: Session, *, user: User, secret: str, now: datetime) -> TwoFactor:
    """Enrol the user with a given secret, already confirmed (scripted set-up, demo staff)."""
    secret = _check_secret(secret)
    row = get(session, user)
    if row is None:
        row = TwoFactor(user_id=user.id, secret=secret, created_at=now)
        session.add(row)
    row.secret = secret
    row.confirmed_at = now
    row.last_step = None
    session.flush()
    return row


def remaining_recovery_codes(session: Session, user: User) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )
