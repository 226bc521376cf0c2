"""PIPL rights: an owner's copy of their data, erasure by pseudonymisation, and retention.

Bills, ledger postings, payments and receipts are accounting records the law requires to be
kept (Accounting Law art. 23; the Accounting Archives Measures keep them 30 years), and they
name units, not people. Erasure therefore pseudonymises the person: the account's name,
phone, e-mail, WeChat binding, password and second factor go, the rows that reference the
account stay and now point at "已注销用户".
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from portal.accounts import sessions
from portal.accounts.models import ApiToken, RecoveryCode, TwoFactor, User
from portal.audit import service as audit
from portal.communities.models import Ownership
from portal.db import Base
from portal.errors import DomainError, NotFound
from portal.privacy.models import ErasureRequest

ERASED_PREFIX = "erased-"
# Never part of an export: credentials and their hashes.
SECRET_COLUMNS = frozenset({"password_hash", "token_hash", "secret", "code_hash", "last_step"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(session: Session, table: Table, column: str, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = session.execute(select(table).where(table.c[column].in_(ids)).limit(100_000))
    return [
        {k: _jsonable(v) for k, v in row._mapping.items() if k not in SECRET_COLUMNS}
        for row in rows
    ]


def _referencing(target: str) -> Iterator[tuple[Table, str]]:
    """Every (table, column) with a foreign key to `target` ("users" or "units")."""
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == target and table.name != target:
                yield table, fk.parent.name


def export_data(session: Session, *, user: User) -> dict[str, Any]:
    """Everything stored about the user (PIPL art. 45): their account, every row that
    references them, and the records of the units they own or owned (bills, ledger...)."""
    account = _rows(session, User.__table__, "id", [user.id])  # type: ignore[arg-type]
    unit_ids = list(session.scalars(select(Ownership.unit_id).where(Ownership.user_id == user.id)))
    about_me: dict[str, list[dict[str, Any]]] = {}
    for table, column in _referencing("users"):
        rows = _rows(session, table, column, [user.id])
        if rows:
            about_me.setdefault(table.name, []).extend(rows)
    units: dict[str, list[dict[str, Any]]] = {
        "units": _rows(session, Base.metadata.tables["units"], "id", unit_ids)
    }
    for table, column in _referencing("units"):
        rows = _rows(session, table, column, unit_ids)
        if rows:
            units.setdefault(table.name, []).extend(rows)
    return {
        "account": account[0] if account else {},
        "records_about_me": about_me,
        "my_units": units,
    }


def request_erasure(session: Session, *, user: User, reason: str, now: datetime) -> ErasureRequest:
    """File the owner's erasure request for staff review; one open request at a time."""
    if user.username.startswith(ERASED_PREFIX):
        raise DomainError(_l("该账号已注销"))
    open_one = session.scalar(
        select(ErasureRequest.id).where(
            ErasureRequest.user_id == user.id, ErasureRequest.status == "pending"
        )
    )
    if open_one is not None:
        raise DomainError(_l("您已提交过注销申请，正在审核中"), code="duplicate")
    row = ErasureRequest(user_id=user.id, requested_at=now, reason=(reason or "").strip()[:2000])
    session.add(row)
    session.flush()
    return row


def pseudonymise(session: Session, *, user: User, now: datetime) -> None:
    """Erase the person, keep the records: personal fields cleared, log-in impossible."""
    user.username = f"{ERASED_PREFIX}{user.id}-{secrets.token_hex(4)}"
    user.display_name = "已注销用户"
    user.phone = None
    user.email = None
    user.wechat_openid = None
    user.password_hash = None
    user.active = False
    sessions.revoke_all(session, user_id=user.id, now=now)
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))
    session.flush()


def decide_erasure(
    session: Session, *, request_id: int, actor: User, approve: bool, note: str, now: datetime
) -> ErasureRequest:
    """Approve (pseudonymise now) or reject (with the reason shown to the owner) a request."""
    row = session.get(ErasureRequest, request_id)
    if row is None:
        raise NotFound(_l("申请不存在"))
    claimed = session.execute(
        update(ErasureRequest)
        .where(ErasureRequest.id == request_id, ErasureRequest.status == "pending")
        .values(
            status="done" if approve else "rejected",
            decided_by_id=actor.id,
            decided_at=now,
            note=(note or "").strip()[:2000],
        )
    ).rowcount
    if claimed != 1:
        raise DomainError(_l("该申请已处理"), code="conflict")
    if approve:
        pseudonymise(session, user=row.user, now=now)
    audit.record(
        session,
        actor_id=actor.id,
        action="privacy.erasure_approved" if approve else "privacy.erasure_rejected",
        target_type="user",
        target_id=row.user_id,
        community_id=None,
        now=now,
        details={"request_id": row.id},
    )
    session.refresh(row)
    return row


def pending_requests(
    session: Session, *, page: int = 1, per_page: int = 50
) -> list[ErasureRequest]:
    return list(
        session.scalars(
            select(ErasureRequest)
            .where(ErasureRequest.status == "pending")
            .order_by(ErasureRequest.requested_at, ErasureRequest.id)
            .offset((max(page, 1) - 1) * per_page)
            .limit(per_page)
        )
    )


def my_requests(session: Session, *, user: User) -> list[ErasureRequest]:
    return list(
        session.scalars(
            select(ErasureRequest)
            .where(ErasureRequest.user_id == user.id)
            .order_by(ErasureRequest.requested_at.desc())
            .limit(20)
        )
    )


def apply_retention(session: Session, *, today: date, retention_days: int, now: datetime) -> int:
    """Pseudonymise owners whose every ownership ended more than `retention_days` ago (the
    fee-claim limitation period, Civil Code art. 188, is 3 years); re-running changes nothing."""
    cutoff = today - timedelta(days=retention_days)
    still_owning = select(Ownership.user_id).where(Ownership.ended_on.is_(None))
    candidates = session.scalars(
        select(User)
        .join(Ownership, Ownership.user_id == User.id)
        .where(~User.username.startswith(ERASED_PREFIX), User.id.not_in(still_owning))
        .group_by(User.id)
        .having(func.max(Ownership.ended_on) < cutoff)
    ).all()
    for user in candidates:
        if user.is_staff:
            continue  # staff accounts are closed by an admin, not by ownership ending
        pseudonymise(session, user=user, now=now)
        audit.record(
            session,
            actor_id=None,
            action="privacy.retention_pseudonymised",
            target_type="user",
            target_id=user.id,
            community_id=None,
            now=now,
            details={"cutoff": cutoff.isoformat()},
        )
    return len([u for u in candidates if not u.is_staff])
