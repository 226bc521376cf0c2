"""Notices: drafting, scheduled publication, withdrawal, read receipts and acknowledgements.

Once published a notice's text is frozen (a correction is a new notice); staff may still pin
it or withdraw it. Fee-change and financial notices also go into the publication log, so the
date a fee change was announced cannot be moved afterwards without `verify` noticing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import Role, User
from portal.audit import service as audit
from portal.communities.models import (
    FEE_ITEMS,
    Building,
    Community,
    Ownership,
    PropertyType,
    Unit,
)
from portal.errors import DomainError
from portal.notices import markdown, messages
from portal.notices.models import (
    Notice,
    NoticeAttachment,
    NoticeCategory,
    NoticeRead,
    NoticeStatus,
    OutageType,
)
from portal.pagination import Page, paginate
from portal.publication import service as publication
from portal.uploads import service as uploads

MANAGE_ROLES = (Role.CS, Role.MANAGER)
ATTACHMENT_TYPES = frozenset({"image", "pdf"})
MAX_ATTACHMENTS = 10
LOGGED_CATEGORIES = (NoticeCategory.FEE_CHANGE, NoticeCategory.FINANCIAL)
KIND_NOTICE = "notice"
RATE_STEP = Decimal("0.0001")  # as fee standards store rates (Numeric(12, 4))

CATEGORY_LABELS: dict[str, Any] = {
    NoticeCategory.FEE_CHANGE: _l("收费标准调整"),
    NoticeCategory.OUTAGE: _l("停水停电及检修"),
    NoticeCategory.FINANCIAL: _l("财务公示"),
    NoticeCategory.EVENT: _l("社区活动"),
    NoticeCategory.GENERAL: _l("一般通知"),
}
OUTAGE_LABELS: dict[str, Any] = {
    OutageType.WATER: _l("停水"),
    OutageType.POWER: _l("停电"),
    OutageType.GAS: _l("停气"),
    OutageType.ELEVATOR: _l("电梯停运"),
    OutageType.OTHER: _l("其他检修"),
}
STATUS_LABELS: dict[str, Any] = {
    NoticeStatus.DRAFT: _l("草稿"),
    NoticeStatus.SCHEDULED: _l("定时发布"),
    NoticeStatus.PUBLISHED: _l("已发布"),
    NoticeStatus.WITHDRAWN: _l("已撤回"),
}


def can_manage(user: User, community_id: int) -> bool:
    return user.is_admin or community_id in user.community_ids(*MANAGE_ROLES)


def get_scoped_notice(session: Session, *, user: User, notice_id: int) -> Notice | None:
    """A notice of a community where the user manages notices; None (→ 404) otherwise."""
    notice = session.get(Notice, notice_id)
    if notice is None or not can_manage(user, notice.community_id):
        return None
    return notice


def _audit(session: Session, notice: Notice, action: str, actor: User, now: datetime) -> None:
    audit.record(
        session,
        actor_id=actor.id,
        action=action,
        target_type="notice",
        target_id=notice.id,
        community_id=notice.community_id,
        now=now,
        details={"category": notice.category, "title": notice.title},
    )


@dataclass
class NoticeInput:
    """What staff fill in (times are aware datetimes; the view converts local input)."""

    category: str
    title: str
    body: str
    important: bool = False
    pinned: bool = False
    publish_at: datetime | None = None
    expires_at: datetime | None = None
    outage_type: str | None = None
    outage_starts_at: datetime | None = None
    outage_ends_at: datetime | None = None
    building_ids: tuple[int, ...] = ()
    # fee-change notices: the item, property type and new rate announced
    fee_property_type: str | None = None
    fee_item_code: str | None = None
    fee_rate: Decimal | None = None


def plain_rate(rate: Decimal | None) -> str:
    """2.3500 → "2.35", 10.0000 → "10" (rates read without trailing zeros)."""
    if rate is None:
        return ""
    text = format(Decimal(rate).quantize(RATE_STEP), "f").rstrip("0").rstrip(".")
    return text or "0"


def _check_fee_change(data: NoticeInput) -> None:
    """A fee-change notice names the one item it changes and the new rate, so a fee
    standard can only cite the notice that announced exactly that change."""
    if data.fee_property_type not in set(PropertyType):
        raise DomainError(_l("请选择调整的物业类型"), field="fee_property_type")
    if data.fee_item_code not in FEE_ITEMS:
        raise DomainError(_l("请选择调整的收费项目"), field="fee_item_code")
    rate = data.fee_rate
    if (
        rate is None
        or not rate.is_finite()
        or rate < 0
        or rate > Decimal(10000)
        or rate != rate.quantize(RATE_STEP)
    ):
        raise DomainError(_l("请填写调整后的单价：非负数，最多四位小数"), field="fee_rate")


def _apply(session: Session, notice: Notice, data: NoticeInput, *, now: datetime) -> None:
    if data.category not in set(NoticeCategory):
        raise DomainError(_l("请选择公告类别"), field="category")
    title = (data.title or "").strip()
    if not title:
        raise DomainError(_l("请填写标题"), field="title")
    if len(title) > 120:
        raise DomainError(_l("标题不能超过 %(n)s 字", n=120), field="title")
    body = markdown.check(data.body)
    start = data.publish_at or now
    if data.expires_at is not None and data.expires_at <= start:
        raise DomainError(_l("下架时间必须晚于发布时间"), field="expires_at")
    if data.category == NoticeCategory.FEE_CHANGE:
        _check_fee_change(data)
    buildings: list[Building] = []
    if data.category == NoticeCategory.OUTAGE:
        if data.outage_type not in set(OutageType):
            raise DomainError(_l("请选择停水、停电等检修类型"), field="outage_type")
        if data.outage_starts_at is None or data.outage_ends_at is None:
            raise DomainError(_l("请填写检修开始和结束时间"), field="outage_starts_at")
        if data.outage_ends_at <= data.outage_starts_at:
            raise DomainError(_l("结束时间必须晚于开始时间"), field="outage_ends_at")
        if data.outage_ends_at - data.outage_starts_at > timedelta(days=31):
            raise DomainError(_l("检修时长超过 31 天，请核对"), field="outage_ends_at")
        ids = set(data.building_ids)
        if not ids:
            raise DomainError(_l("请选择受影响的楼栋"), field="building_ids")
        buildings = list(
            session.scalars(
                select(Building).where(
                    Building.id.in_(ids), Building.community_id == notice.community_id
                )
            )
        )
        if len(buildings) != len(ids):
            raise DomainError(_l("楼栋不属于本小区"), field="building_ids")
    notice.category = data.category
    notice.title = title
    notice.body_markdown = body
    notice.body_html = markdown.render(body)
    # Owners must confirm they have read a fee change (it affects what they will be billed).
    notice.important = bool(data.important) or data.category == NoticeCategory.FEE_CHANGE
    notice.pinned = bool(data.pinned)
    notice.publish_at = data.publish_at
    notice.expires_at = data.expires_at
    if data.category == NoticeCategory.OUTAGE:
        notice.outage_type = data.outage_type
        notice.outage_starts_at = data.outage_starts_at
        notice.outage_ends_at = data.outage_ends_at
        if notice.expires_at is None and data.outage_ends_at is not None:
            notice.expires_at = data.outage_ends_at + timedelta(days=1)
    else:
        notice.outage_type = notice.outage_starts_at = notice.outage_ends_at = None
    notice.buildings = buildings
    if data.category == NoticeCategory.FEE_CHANGE:
        notice.fee_property_type = data.fee_property_type
        notice.fee_item_code = data.fee_item_code
        notice.fee_rate = data.fee_rate
    else:
        notice.fee_property_type = notice.fee_item_code = notice.fee_rate = None
    notice.updated_at = now


def create_notice(
    session: Session, *, community: Community, data: NoticeInput, actor: User, now: datetime
) -> Notice:
    """Save a draft notice."""
    notice = Notice(
        community_id=community.id,
        status=NoticeStatus.DRAFT,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    _apply(session, notice, data, now=now)
    session.add(notice)
    session.flush()
    _audit(session, notice, "notice.create", actor, now)
    return notice


def _editable(notice: Notice) -> None:
    if notice.status not in (NoticeStatus.DRAFT, NoticeStatus.SCHEDULED):
        raise DomainError(
            _l("已发布的公告不能修改正文；如需更正，请发布更正公告"), code="published"
        )


def update_notice(
    session: Session, *, notice: Notice, data: NoticeInput, actor: User, now: datetime
) -> None:
    """Change a draft or a scheduled (not yet live) notice."""
    _editable(notice)
    _apply(session, notice, data, now=now)
    if notice.status == NoticeStatus.SCHEDULED and (
        notice.publish_at is None or notice.publish_at <= now
    ):
        notice.status = NoticeStatus.DRAFT  # the schedule no longer holds: publish again
    session.flush()
    _audit(session, notice, "notice.update", actor, now)


def delete_draft(session: Session, *, notice: Notice, actor: User, now: datetime) -> None:
    if notice.status != NoticeStatus.DRAFT:
        raise DomainError(_l("只能删除草稿；已发布的公告可以撤回"), code="published")
    _audit(session, notice, "notice.delete", actor, now)
    session.delete(notice)
    session.flush()


def notice_payload(notice: Notice) -> dict[str, Any]:
    """What the publication log keeps of a fee-change or financial notice."""
    payload: dict[str, Any] = {
        "category": notice.category,
        "title": notice.title,
        "body_sha256": hashlib.sha256(notice.body_markdown.encode()).hexdigest(),
        "published_at": publication.format_instant(notice.published_at)
        if notice.published_at
        else None,
    }
    if notice.fee_item_code:  # absent for notices logged before notices named their change
        payload["fee_change"] = {
            "property_type": notice.fee_property_type,
            "item_code": notice.fee_item_code,
            "rate": str(Decimal(notice.fee_rate or 0).quantize(RATE_STEP)),
        }
    return payload


def _current_payload(session: Session, record_id: int) -> dict[str, Any] | None:
    notice = session.get(Notice, record_id)
    if notice is None or notice.published_at is None:
        return None
    return notice_payload(notice)


publication.register_kind(KIND_NOTICE, _current_payload)


def _went_live(session: Session, notice: Notice, *, now: datetime) -> None:
    messages.queue_notice_published(session, notice=notice, now=now)
    if notice.category in LOGGED_CATEGORIES:
        community = session.get(Community, notice.community_id)
        assert community is not None  # noqa: S101 - FK guarantees it
        publication.append(
            session,
            community=community,
            kind=KIND_NOTICE,
            record_id=notice.id,
            payload=notice_payload(notice),
            now=now,
        )


def publish_notice(session: Session, *, notice: Notice, actor: User, now: datetime) -> Notice:
    """Publish now, or schedule for its publish_at when that is in the future."""
    if notice.status != NoticeStatus.DRAFT:
        raise DomainError(_l("只有草稿可以发布"), code="not_draft")
    if notice.expires_at is not None and notice.expires_at <= now:
        raise DomainError(_l("下架时间已过，请先修改"), field="expires_at")
    scheduled = notice.publish_at is not None and notice.publish_at > now
    values: dict[str, Any] = (
        {"status": NoticeStatus.SCHEDULED}
        if scheduled
        else {"status": NoticeStatus.PUBLISHED, "published_at": now, "publish_at": now}
    )
    claimed = session.execute(
        update(Notice)
        .where(Notice.id == notice.id, Notice.status == NoticeStatus.DRAFT)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if claimed != 1:
        raise DomainError(_l("只有草稿可以发布"), code="not_draft")
    session.refresh(notice)
    if not scheduled:
        _went_live(session, notice, now=now)
    _audit(session, notice, "notice.schedule" if scheduled else "notice.publish", actor, now)
    return notice


def unschedule_notice(session: Session, *, notice: Notice, actor: User, now: datetime) -> None:
    claimed = session.execute(
        update(Notice)
        .where(Notice.id == notice.id, Notice.status == NoticeStatus.SCHEDULED)
        .values(status=NoticeStatus.DRAFT, updated_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if claimed != 1:
        raise DomainError(_l("这条公告不在定时发布中"), code="not_scheduled")
    session.refresh(notice)
    _audit(session, notice, "notice.unschedule", actor, now)


def release_due(session: Session, *, now: datetime, community_id: int | None = None) -> int:
    """Make scheduled notices whose time has come live (their published_at is publish_at)."""
    query = select(Notice).where(Notice.status == NoticeStatus.SCHEDULED, Notice.publish_at <= now)
    if community_id is not None:
        query = query.where(Notice.community_id == community_id)
    released = 0
    for notice in session.scalars(query).all():
        claimed = session.execute(
            update(Notice)
            .where(Notice.id == notice.id, Notice.status == NoticeStatus.SCHEDULED)
            .values(status=NoticeStatus.PUBLISHED, published_at=notice.publish_at)
            .execution_options(synchronize_session="fetch")
        ).rowcount
        if claimed == 1:
            session.refresh(notice)
            _went_live(session, notice, now=now)
            released += 1
    session.flush()
    return released


# Domains above notices that rely on a notice staying up (billing: the fee standard that cites
# a fee-change notice) register a guard saying why it may not be withdrawn, or None.
WithdrawGuard = Callable[[Session, Notice], str | None]
WITHDRAW_GUARDS: list[WithdrawGuard] = []


def register_withdraw_guard(guard: WithdrawGuard) -> None:
    """Let a domain refuse the withdrawal of a notice it relies on."""
    if guard not in WITHDRAW_GUARDS:
        WITHDRAW_GUARDS.append(guard)


def withdraw_notice(session: Session, *, notice: Notice, actor: User, now: datetime) -> None:
    """Take a published or scheduled notice down (it stays in the staff list), unless a
    record that is in force relies on it."""
    for guard in WITHDRAW_GUARDS:
        reason = guard(session, notice)
        if reason:
            raise DomainError(reason, code="cited")
    claimed = session.execute(
        update(Notice)
        .where(
            Notice.id == notice.id,
            Notice.status.in_([NoticeStatus.PUBLISHED, NoticeStatus.SCHEDULED]),
        )
        .values(status=NoticeStatus.WITHDRAWN, withdrawn_at=now, updated_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if claimed != 1:
        raise DomainError(_l("只能撤回已发布或定时发布的公告"), code="not_published")
    session.refresh(notice)
    _audit(session, notice, "notice.withdraw", actor, now)


def set_pinned(
    session: Session, *, notice: Notice, pinned: bool, actor: User, now: datetime
) -> None:
    if notice.status == NoticeStatus.WITHDRAWN:
        raise DomainError(_l("已撤回的公告不能置顶"), code="withdrawn")
    notice.pinned = pinned
    notice.updated_at = now
    session.flush()
    _audit(session, notice, "notice.pin" if pinned else "notice.unpin", actor, now)


def add_attachment(
    session: Session, *, notice: Notice, data: bytes, filename: str, actor: User, now: datetime
) -> NoticeAttachment:
    _editable(notice)
    if len(notice.attachments) >= MAX_ATTACHMENTS:
        raise DomainError(_l("每条公告最多 %(n)s 个附件", n=MAX_ATTACHMENTS), field="file")
    stored = uploads.store_upload(
        session,
        data=data,
        filename=filename,
        allowed=ATTACHMENT_TYPES,
        uploaded_by_id=actor.id,
        now=now,
    )
    if any(a.file.sha256 == stored.sha256 for a in notice.attachments):
        raise DomainError(_l("这个文件已经上传过了"), field="file", code="duplicate")
    attachment = NoticeAttachment(
        notice=notice, stored_file_id=stored.id, label=stored.original_name
    )
    session.add(attachment)
    session.flush()
    session.refresh(notice)
    _audit(session, notice, "notice.attach", actor, now)
    return attachment


def remove_attachment(
    session: Session, *, notice: Notice, attachment_id: int, actor: User, now: datetime
) -> None:
    _editable(notice)
    attachment = session.get(NoticeAttachment, attachment_id)
    if attachment is None or attachment.notice_id != notice.id:
        raise DomainError(_l("附件不存在"), code="not_found")
    session.delete(attachment)
    session.flush()
    session.refresh(notice)
    _audit(session, notice, "notice.detach", actor, now)


# --- reading -----------------------------------------------------------------------------


def _live(now: datetime) -> Any:
    return and_(
        Notice.status == NoticeStatus.PUBLISHED,
        or_(Notice.expires_at.is_(None), Notice.expires_at > now),
    )


def _visible_query(
    community_id: int, now: datetime, include_expired: bool, category: str | None
) -> Any:
    query = select(Notice).where(Notice.community_id == community_id)
    if include_expired:
        query = query.where(Notice.status == NoticeStatus.PUBLISHED)
    else:
        query = query.where(_live(now))
    if category:
        query = query.where(Notice.category == category)
    return query.options(selectinload(Notice.buildings), selectinload(Notice.attachments)).order_by(
        Notice.pinned.desc(), Notice.published_at.desc(), Notice.id.desc()
    )


def visible_notices(
    session: Session,
    *,
    community_id: int,
    now: datetime,
    include_expired: bool = False,
    category: str | None = None,
    limit: int = 200,
) -> list[Notice]:
    """The newest published notices, pinned first (a preview or feed of `limit`; pages that
    list them all use visible_notices_page)."""
    query = _visible_query(community_id, now, include_expired, category)
    return list(session.scalars(query.limit(limit)))


def visible_notices_page(
    session: Session,
    *,
    community_id: int,
    now: datetime,
    include_expired: bool = False,
    category: str | None = None,
    page: int = 1,
    per_page: int = 30,
) -> Page[Notice]:
    """One page of the published notices, pinned first, newest first (none left out)."""
    query = _visible_query(community_id, now, include_expired, category)
    return paginate(session, query, page=page, per_page=per_page)


def get_visible_notice(session: Session, *, community_id: int, notice_id: int) -> Notice | None:
    """A published notice of this community (expired ones stay readable by link)."""
    notice = session.get(Notice, notice_id)
    if (
        notice is None
        or notice.community_id != community_id
        or notice.status != NoticeStatus.PUBLISHED
    ):
        return None
    return notice


def staff_notices(session: Session, *, community_id: int) -> list[Notice]:
    return list(
        session.scalars(
            select(Notice)
            .where(Notice.community_id == community_id)
            .order_by(Notice.updated_at.desc(), Notice.id.desc())
        )
    )


def published_fee_change_notices(
    session: Session, *, community_id: int, now: datetime | None = None
) -> list[Notice]:
    """Published (not withdrawn) fee-change notices, newest first — what a new fee standard
    version must reference. With `now`, scheduled notices that are due are released first."""
    if now is not None:
        release_due(session, now=now, community_id=community_id)
    return list(
        session.scalars(
            select(Notice)
            .where(
                Notice.community_id == community_id,
                Notice.category == NoticeCategory.FEE_CHANGE,
                Notice.status == NoticeStatus.PUBLISHED,
                Notice.published_at.is_not(None),
            )
            .order_by(Notice.published_at.desc())
        )
    )


def is_member(session: Session, *, user: User, community_id: int) -> bool:
    """Whether the user currently owns a unit in the community (read receipts are theirs)."""
    if not user.is_authenticated:
        return False
    return bool(
        session.scalar(
            select(Ownership.id)
            .join(Unit, Unit.id == Ownership.unit_id)
            .where(
                Ownership.user_id == user.id,
                Ownership.ended_on.is_(None),
                Unit.community_id == community_id,
            )
            .limit(1)
        )
    )


def mark_read(session: Session, *, notice: Notice, user: User, now: datetime) -> NoticeRead:
    """Record the first time the user opened the notice (idempotent, race-safe)."""
    existing = session.scalar(
        select(NoticeRead).where(NoticeRead.notice_id == notice.id, NoticeRead.user_id == user.id)
    )
    if existing is not None:
        return existing
    receipt = NoticeRead(notice_id=notice.id, user_id=user.id, read_at=now)
    try:
        with session.begin_nested():
            session.add(receipt)
    except IntegrityError:  # another tab recorded it a moment ago
        found = session.scalar(
            select(NoticeRead).where(
                NoticeRead.notice_id == notice.id, NoticeRead.user_id == user.id
            )
        )
        assert found is not None  # noqa: S101 - the unique constraint says it exists
        return found
    return receipt


def acknowledge(session: Session, *, notice: Notice, user: User, now: datetime) -> NoticeRead:
    """The owner confirms having read an important notice (the first time counts)."""
    if not notice.important:
        raise DomainError(_l("这条公告无需确认"), code="not_important")
    receipt = mark_read(session, notice=notice, user=user, now=now)
    session.execute(
        update(NoticeRead)
        .where(NoticeRead.id == receipt.id, NoticeRead.acknowledged_at.is_(None))
        .values(acknowledged_at=now)
        .execution_options(synchronize_session="fetch")
    )
    session.refresh(receipt)
    return receipt


def receipts(session: Session, *, user: User, notice_ids: list[int]) -> dict[int, NoticeRead]:
    if not notice_ids or not user.is_authenticated:
        return {}
    rows = session.scalars(
        select(NoticeRead).where(
            NoticeRead.user_id == user.id, NoticeRead.notice_id.in_(notice_ids)
        )
    )
    return {row.notice_id: row for row in rows}


def unread_count(session: Session, *, user: User, community_id: int, now: datetime) -> int:
    read = select(NoticeRead.notice_id).where(NoticeRead.user_id == user.id)
    return (
        session.scalar(
            select(func.count(Notice.id)).where(
                Notice.community_id == community_id, _live(now), Notice.id.not_in(read)
            )
        )
        or 0
    )


def _owner_ids(community_id: int) -> Any:
    return (
        select(Ownership.user_id)
        .join(Unit, Unit.id == Ownership.unit_id)
        .where(Unit.community_id == community_id, Ownership.ended_on.is_(None))
        .distinct()
    )


@dataclass(frozen=True)
class ReadStats:
    audience: int
    read: int
    acknowledged: int

    def rate(self, part: int) -> int | None:
        """Whole percent (None when nobody is in the audience)."""
        return None if not self.audience else part * 100 // self.audience


def read_stats(
    session: Session, *, community_id: int, notice_ids: list[int]
) -> dict[int, ReadStats]:
    """Per notice: current owners of the community, how many read it and acknowledged it."""
    owners = _owner_ids(community_id)
    audience = session.scalar(select(func.count()).select_from(owners.subquery())) or 0
    if not notice_ids:
        return {}
    rows = session.execute(
        select(
            NoticeRead.notice_id,
            func.count(NoticeRead.id),
            func.count(NoticeRead.acknowledged_at),
        )
        .where(NoticeRead.notice_id.in_(notice_ids), NoticeRead.user_id.in_(owners))
        .group_by(NoticeRead.notice_id)
    )
    found = {nid: ReadStats(audience, int(r), int(a)) for nid, r, a in rows}
    return {nid: found.get(nid, ReadStats(audience, 0, 0)) for nid in notice_ids}
