"""The audit viewer's queries: who did what, where, filtered and scoped to a staff member.

It sits in privacy (the last domain), not in audit, because it names users and communities,
which audit (the first domain) may not import. Managers see their communities' entries;
admins see all, including entries with no community (log-ins, settings).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.communities.models import Community
from portal.pagination import Page, paginate

CSV_HEADER = [
    "序号",
    "时间",
    "操作人",
    "操作",
    "对象",
    "对象编号",
    "小区",
    "来源地址",
    "详情",
    "哈希",
]


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""  # a username, exact
    action: str = ""  # an action or its prefix ("payments." or "collections.export")
    start: date | None = None  # local dates, inclusive
    end: date | None = None
    community_id: int | None = None


def scope_of(staff: User) -> frozenset[int] | None:
    """The community ids whose entries this staff member may read; None (all) for an admin.
    Computed once, up front: a streamed export must not touch the user object later."""
    return None if staff.is_admin else frozenset(staff.community_ids("manager"))


def visible_communities(session: Session, *, scope: frozenset[int] | None) -> list[Community]:
    """The communities offered in the filter."""
    query = select(Community).order_by(Community.code)
    if scope is not None:
        query = query.where(Community.id.in_(scope or {-1}))
    return list(session.scalars(query))


def _query(
    session: Session, *, scope: frozenset[int] | None, flt: AuditFilter, tz: ZoneInfo
) -> Select[Any]:
    query = select(AuditEntry)
    if scope is not None:
        query = query.where(AuditEntry.community_id.in_(scope or {-1}))
    if flt.community_id is not None:
        query = query.where(AuditEntry.community_id == flt.community_id)
    if flt.actor:
        actor_id = session.scalar(select(User.id).where(User.username == flt.actor))
        query = query.where(AuditEntry.actor_id == (actor_id if actor_id is not None else -1))
    if flt.action:
        query = query.where(AuditEntry.action.startswith(flt.action, autoescape=True))
    if flt.start:
        query = query.where(AuditEntry.at >= _utc_midnight(flt.start, tz))
    if flt.end:
        query = query.where(AuditEntry.at < _utc_midnight(flt.end + timedelta(days=1), tz))
    return query.order_by(AuditEntry.seq.desc())


def _utc_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    actor: str
    community: str

    @property
    def ip(self) -> str:
        return str((self.entry.details or {}).get("ip") or "")


def _names(session: Session, entries: list[AuditEntry]) -> tuple[dict[int, str], dict[int, str]]:
    user_ids = {e.actor_id for e in entries if e.actor_id is not None}
    community_ids = {e.community_id for e in entries if e.community_id is not None}
    users = dict(session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all())
    codes = dict(
        session.execute(
            select(Community.id, Community.code).where(Community.id.in_(community_ids))
        ).all()
    )
    return users, codes


def _rows(session: Session, entries: list[AuditEntry]) -> list[AuditRow]:
    users, codes = _names(session, entries)
    return [
        AuditRow(
            entry=e,
            actor=users.get(e.actor_id, "") if e.actor_id is not None else "",
            community=codes.get(e.community_id, "") if e.community_id is not None else "",
        )
        for e in entries
    ]


def audit_page(
    session: Session,
    *,
    scope: frozenset[int] | None,
    flt: AuditFilter,
    tz: ZoneInfo,
    page: int,
    per_page: int = 50,
) -> Page[AuditRow]:
    """One page of the entries this staff member may read, newest first."""
    found = paginate(
        session, _query(session, scope=scope, flt=flt, tz=tz), page=page, per_page=per_page
    )
    return Page(
        items=_rows(session, found.items),
        total=found.total,
        page=found.page,
        per_page=found.per_page,
    )


def iter_csv_rows(
    session: Session,
    *,
    scope: frozenset[int] | None,
    flt: AuditFilter,
    tz: ZoneInfo,
    batch: int = 500,
) -> Iterator[list[Any]]:
    """Every matching entry as a CSV row, fetched in batches by seq (no cap, flat memory)."""
    base = _query(session, scope=scope, flt=flt, tz=tz)
    below: int | None = None
    while True:
        query = base if below is None else base.where(AuditEntry.seq < below)
        entries = list(session.scalars(query.limit(batch)))
        if not entries:
            return
        for row in _rows(session, entries):
            e = row.entry
            details = {k: v for k, v in (e.details or {}).items() if k != "ip"}
            yield [
                e.seq,
                e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                row.actor,
                e.action,
                e.target_type,
                e.target_id if e.target_id is not None else "",
                row.community,
                row.ip,
                ", ".join(f"{k}={v}" for k, v in sorted(details.items())),
                e.hash,
            ]
        below = entries[-1].seq
