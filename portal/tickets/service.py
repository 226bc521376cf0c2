"""Repair requests: intake, the workflow with its event log, SLA clocks, ratings, follow-ups.

Every transition is a compare-and-set on the status (two staff pressing a button at once get one
transition and one clear conflict), and appends a timeline event with who and when.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal.accounts.models import RoleAssignment, User
from portal.audit import service as audit
from portal.communities.models import Building, Community, Ownership, Unit
from portal.errors import Conflict, DomainError, NotFound, PermissionDenied
from portal.tickets import messages
from portal.tickets.models import (
    DONE_STATUSES,
    OPEN_STATUSES,
    Channel,
    EventKind,
    FollowupKind,
    FollowupStatus,
    LocationType,
    RatingChannel,
    SlaTarget,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketFollowup,
    TicketPhoto,
    TicketRating,
    TicketSettings,
    TicketStatus,
    Urgency,
    VisitSlot,
)
from portal.tickets.sla import DEFAULT_TARGETS, WorkingHours, add_working_minutes
from portal.timeutil import to_local, zone

MAX_PHOTOS = 6
PHOTO_MAX_BYTES = 10 * 1024 * 1024
MAX_DESCRIPTION = 4000  # the Open311 limit, and plenty for a repair request
REOPEN_DAYS = 7
AUTO_CLOSE_DAYS = 7
RECHECK_DAYS = 14
RECHECK_LOOKBACK_DAYS = 30  # a job started late does not pester owners about ancient repairs
RECHECK_EXPIRE_DAYS = 30
LOW_RATING = 2
TICKET_STAFF_ROLES = ("cs", "engineer", "manager")
DISPATCH_ROLES = ("cs", "manager")

# (code, Chinese name, translated label): the defaults every community starts with.
DEFAULT_CATEGORIES: list[tuple[str, str, Any]] = [
    ("plumbing_electric", "水电", _l("水电")),
    ("doors_windows", "门窗", _l("门窗")),
    ("elevator", "电梯", _l("电梯")),
    ("cleaning", "公共区域卫生", _l("公共区域卫生")),
    ("security", "安保", _l("安保")),
    ("greening", "绿化", _l("绿化")),
    ("noise", "噪音", _l("噪音")),
    ("parking", "停车", _l("停车")),
    ("other", "其他", _l("其他")),
]
_DEFAULT_NAMES = {code: (zh, label) for code, zh, label in DEFAULT_CATEGORIES}


@dataclass(frozen=True)
class PhotoUpload:
    data: bytes
    filename: str


# ---------------------------------------------------------------- categories, settings, SLA


def category_name(category: TicketCategory) -> str:
    """The display name: a default category in the reader's language, else the community's own."""
    default = _DEFAULT_NAMES.get(category.code)
    if default is not None and default[0] == category.name:
        return str(default[1])
    return category.name


def ensure_categories(session: Session, community: Community) -> None:
    """Give a community the default categories the first time it needs them."""
    if session.scalar(
        select(TicketCategory.id).where(TicketCategory.community_id == community.id).limit(1)
    ):
        return
    for position, (code, name, _label) in enumerate(DEFAULT_CATEGORIES):
        session.add(
            TicketCategory(community_id=community.id, code=code, name=name, position=position)
        )
    session.flush()


def list_categories(
    session: Session, community: Community, *, active_only: bool = True
) -> list[TicketCategory]:
    """The community's categories in display order (defaults created on first use)."""
    ensure_categories(session, community)
    query = select(TicketCategory).where(TicketCategory.community_id == community.id)
    if active_only:
        query = query.where(TicketCategory.active.is_(True))
    return list(session.scalars(query.order_by(TicketCategory.position, TicketCategory.id)))


def find_category(session: Session, *, community: Community, code: str) -> TicketCategory | None:
    """An active category of this community by code (or by its name, as people type it)."""
    ensure_categories(session, community)
    code = (code or "").strip()
    return session.scalar(
        select(TicketCategory).where(
            TicketCategory.community_id == community.id,
            TicketCategory.active.is_(True),
            or_(TicketCategory.code == code, TicketCategory.name == code),
        )
    )


def save_category(
    session: Session,
    *,
    community: Community,
    actor: User,
    now: datetime,
    name: str,
    code: str | None = None,
    category_id: int | None = None,
    position: int = 0,
    active: bool = True,
    description: str = "",
) -> TicketCategory:
    """Add a category or rename / reorder / retire one (codes never change: clients keep them)."""
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise DomainError(_l("类别名称不能为空且不超过 50 个字"), field="name")
    ensure_categories(session, community)
    clash = select(TicketCategory.id).where(
        TicketCategory.community_id == community.id, TicketCategory.name == name
    )
    if category_id is not None:
        category = session.get(TicketCategory, category_id)
        if category is None or category.community_id != community.id:
            raise NotFound(_l("类别不存在"))
        before = {"name": category.name, "active": category.active, "position": category.position}
        clash = clash.where(TicketCategory.id != category.id)
    else:
        code = (code or "").strip().lower()
        if not code or len(code) > 32 or not code.replace("_", "").replace("-", "").isalnum():
            raise DomainError(_l("类别编码只能包含字母、数字、- 和 _"), field="code")
        if session.scalar(
            select(TicketCategory.id).where(
                TicketCategory.community_id == community.id, TicketCategory.code == code
            )
        ):
            raise DomainError(_l("类别编码 %(code)s 已存在", code=code), field="code")
        category = TicketCategory(community_id=community.id, code=code, name=name)
        before = {}
    if session.scalar(clash):
        raise DomainError(_l("已有同名类别"), field="name")
    session.add(category)
    category.name = name
    category.position = position
    category.active = active
    category.description = (description or "").strip()[:255]
    session.flush()
    if not active and not list_categories(session, community):
        raise DomainError(_l("至少保留一个可用类别"), field="active")
    audit.record(
        session,
        actor_id=actor.id,
        action="ticket_category.save",
        target_type="ticket_category",
        target_id=category.id,
        community_id=community.id,
        now=now,
        details={"before": before, "name": name, "active": active, "position": position},
    )
    return category


def get_settings(session: Session, community_id: int) -> TicketSettings:
    """The community's ticket settings row (created with defaults when missing)."""
    settings = session.get(TicketSettings, community_id)
    if settings is None:
        settings = TicketSettings(
            community_id=community_id,
            business_hours=False,
            work_start_min=510,
            work_end_min=1080,
            work_days="1234567",
            last_number=0,
        )
        session.add(settings)
        session.flush()
    return settings


def update_settings(
    session: Session,
    *,
    community: Community,
    actor: User,
    now: datetime,
    business_hours: bool,
    work_start_min: int,
    work_end_min: int,
    work_days: str,
) -> TicketSettings:
    """Change working hours used by SLA clocks (applies to tickets received from now on)."""
    days = "".join(sorted({d for d in work_days if d in "1234567"}))
    if not (0 <= work_start_min < work_end_min <= 1440):
        raise DomainError(_l("下班时间必须晚于上班时间"), field="work_end")
    if work_end_min - work_start_min < 120:
        raise DomainError(_l("每天工作时间至少 2 小时"), field="work_end")
    if business_hours and not days:
        raise DomainError(_l("请至少选择一个工作日"), field="work_days")
    settings = get_settings(session, community.id)
    before = [settings.business_hours, settings.work_start_min, settings.work_end_min]
    settings.business_hours = business_hours
    settings.work_start_min = work_start_min
    settings.work_end_min = work_end_min
    settings.work_days = days or "1234567"
    session.flush()
    audit.record(
        session,
        actor_id=actor.id,
        action="ticket_settings.update",
        target_type="community",
        target_id=community.id,
        community_id=community.id,
        now=now,
        details={"before": before, "after": [business_hours, work_start_min, work_end_min, days]},
    )
    return settings


def sla_targets(session: Session, community_id: int) -> dict[tuple[int | None, str], SlaTarget]:
    """The community's own targets keyed by (category id or None, urgency)."""
    rows = session.scalars(select(SlaTarget).where(SlaTarget.community_id == community_id))
    return {(row.category_id, row.urgency): row for row in rows}


def sla_minutes(
    session: Session, *, community_id: int, category_id: int, urgency: str
) -> tuple[int, int]:
    """(first response, resolution) minutes: category target, else community default, else ours."""
    targets = sla_targets(session, community_id)
    for key in ((category_id, urgency), (None, urgency)):
        target = targets.get(key)
        if target is not None:
            return target.first_response_minutes, target.resolution_minutes
    return DEFAULT_TARGETS[urgency]


def set_sla_target(
    session: Session,
    *,
    community: Community,
    actor: User,
    now: datetime,
    category_id: int | None,
    urgency: str,
    first_response_minutes: int | None,
    resolution_minutes: int | None,
) -> SlaTarget | None:
    """Set (or with empty minutes, remove) a target; applies to tickets received from now on."""
    if urgency not in set(Urgency):
        raise DomainError(_l("紧急程度无效"), field="urgency")
    if category_id is not None:
        category = session.get(TicketCategory, category_id)
        if category is None or category.community_id != community.id:
            raise DomainError(_l("类别不属于本小区"), field="category")
    existing = session.scalar(
        select(SlaTarget).where(
            SlaTarget.community_id == community.id,
            SlaTarget.urgency == urgency,
            SlaTarget.category_id.is_(None)
            if category_id is None
            else SlaTarget.category_id == category_id,
        )
    )
    if first_response_minutes is None and resolution_minutes is None:
        if existing is not None:
            session.delete(existing)
            session.flush()
        result = None
    else:
        if not first_response_minutes or first_response_minutes <= 0:
            raise DomainError(_l("首次响应时限必须大于 0"), field="first_response")
        if not resolution_minutes or resolution_minutes < first_response_minutes:
            raise DomainError(_l("解决时限不能短于首次响应时限"), field="resolution")
        if resolution_minutes > 60 * 24 * 90:
            raise DomainError(_l("解决时限不能超过 90 天"), field="resolution")
        result = existing or SlaTarget(
            community_id=community.id, category_id=category_id, urgency=urgency
        )
        result.first_response_minutes = first_response_minutes
        result.resolution_minutes = resolution_minutes
        session.add(result)
        session.flush()
    audit.record(
        session,
        actor_id=actor.id,
        action="ticket_sla.set",
        target_type="community",
        target_id=community.id,
        community_id=community.id,
        now=now,
        details={
            "category_id": category_id,
            "urgency": urgency,
            "minutes": [first_response_minutes, resolution_minutes],
        },
    )
    return result


def working_hours_for(settings: TicketSettings, urgency: str) -> WorkingHours | None:
    """Working hours that apply to a ticket's clock; urgent work runs round the clock."""
    if not settings.business_hours or urgency == Urgency.URGENT:
        return None
    return WorkingHours(settings.work_start_min, settings.work_end_min, settings.work_days)


def due_times(
    session: Session, *, community: Community, category_id: int, urgency: str, start: datetime
) -> tuple[datetime, datetime]:
    """When the first response and the resolution fall due for a ticket received at `start`."""
    first, resolve = sla_minutes(
        session, community_id=community.id, category_id=category_id, urgency=urgency
    )
    hours = working_hours_for(get_settings(session, community.id), urgency)
    tz = zone(community.timezone)
    return add_working_minutes(start, first, tz, hours), add_working_minutes(
        start, resolve, tz, hours
    )


# ---------------------------------------------------------------- who may see and do what


def staff_roles_in(user: User, community_id: int) -> set[str]:
    """The ticket roles a user holds in a community (admins act as managers everywhere)."""
    if user.is_admin:
        return {"manager", "cs", "engineer"}
    return {
        r.role
        for r in user.roles
        if r.community_id == community_id and r.role in TICKET_STAFF_ROLES
    }


def staff_community_ids(user: User, *roles: str) -> set[int] | None:
    """Communities where the user works tickets (None = all, for admins)."""
    if user.is_admin:
        return None
    return user.community_ids(*(roles or TICKET_STAFF_ROLES))


def owned_unit_ids(session: Session, user: User) -> list[int]:
    return list(
        session.scalars(
            select(Ownership.unit_id).where(
                Ownership.user_id == user.id, Ownership.ended_on.is_(None)
            )
        )
    )


def _owner_filter(session: Session, user: User) -> Any:
    units = owned_unit_ids(session, user)
    return or_(Ticket.reporter_id == user.id, Ticket.unit_id.in_(units or [-1]))


def get_owned_ticket(session: Session, *, user: User, ticket_id: int) -> Ticket | None:
    """A ticket the user reported, or one of a unit they own now; None (→ 404) otherwise."""
    return session.scalar(
        select(Ticket).where(Ticket.id == ticket_id, _owner_filter(session, user))
    )


def get_scoped_ticket(session: Session, *, staff: User, ticket_id: int) -> Ticket | None:
    """A ticket of a community where the user works tickets; None (→ 404) otherwise."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not staff_roles_in(staff, ticket.community_id):
        return None
    return ticket


def is_owner_of(session: Session, ticket: Ticket, user: User) -> bool:
    return ticket.reporter_id == user.id or (
        ticket.unit_id is not None and ticket.unit_id in owned_unit_ids(session, user)
    )


def _require_owner(session: Session, ticket: Ticket, user: User) -> None:
    if not is_owner_of(session, ticket, user):
        raise NotFound(_l("工单不存在"))


def _require_staff(ticket: Ticket, actor: User, *, dispatch: bool = False) -> set[str]:
    roles = staff_roles_in(actor, ticket.community_id)
    if not roles:
        raise NotFound(_l("工单不存在"))
    if roles & set(DISPATCH_ROLES):
        return roles
    if dispatch:
        raise PermissionDenied(_l("只有客服或管理处负责人可以执行此操作"), code="forbidden")
    if ticket.assignee_id != actor.id:
        raise PermissionDenied(_l("该工单未派给您，不能操作"), code="not_assignee")
    return roles


def engineers_of(session: Session, community_id: int) -> list[User]:
    """Users who can be assigned tickets in a community (engineers, and managers)."""
    return list(
        session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(
                RoleAssignment.community_id == community_id,
                RoleAssignment.role.in_(("engineer", "manager")),
                User.active.is_(True),
            )
            .order_by(User.display_name, User.id)
        ).unique()
    )


# ---------------------------------------------------------------- intake


def _clean_description(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise DomainError(_l("请描述需要维修的问题"), field="description", code="required")
    if len(text) > MAX_DESCRIPTION:
        raise DomainError(
            _l("描述不能超过 %(n)s 字", n=MAX_DESCRIPTION), field="description", code="too_long"
        )
    return text


def _period(community: Community, instant: datetime) -> str:
    return to_local(instant, zone(community.timezone)).strftime("%Y-%m")


def _next_number(session: Session, community: Community) -> str:
    get_settings(session, community.id)
    # The UPDATE takes the row lock, so concurrent intakes of one community get distinct numbers.
    session.execute(
        update(TicketSettings)
        .where(TicketSettings.community_id == community.id)
        .values(last_number=TicketSettings.last_number + 1)
        .execution_options(synchronize_session=False)
    )
    number = session.scalar(
        select(TicketSettings.last_number).where(TicketSettings.community_id == community.id)
    )
    return f"{community.code}-{number:05d}"


def _event(
    session: Session,
    ticket: Ticket,
    *,
    kind: str,
    actor: User | None,
    now: datetime,
    body: str = "",
    internal: bool = False,
    from_status: str | None = None,
    to_status: str | None = None,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        actor_id=actor.id if actor else None,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        body=body,
        internal=internal,
        data=data or {},
    )
    session.add(event)
    session.flush()
    messages.queue_ticket_update(session, ticket=ticket, event=event, now=now)
    return event


def create_ticket(
    session: Session,
    *,
    community: Community,
    actor: User,
    now: datetime,
    category_code: str,
    description: str,
    unit: Unit | None = None,
    location_type: str = LocationType.IN_HOME,
    building_id: int | None = None,
    floor: int | None = None,
    area: str = "",
    urgency: str = Urgency.NORMAL,
    preferred_on: date | None = None,
    preferred_slot: str = VisitSlot.ANY,
    contact_phone: str = "",
    channel: str = Channel.WEB,
    on_behalf: bool = False,
    photos: Sequence[PhotoUpload] = (),
    lat: Decimal | None = None,
    long: Decimal | None = None,
) -> Ticket:
    """File a repair request, by an owner for their unit, or by staff (a call, a patrol round).

    Everything is checked before anything is written; a refused photo refuses the request.
    """
    description = _clean_description(description)
    category = find_category(session, community=community, code=category_code)
    if category is None:
        raise DomainError(_l("请选择本小区的报修类别"), field="category", code="bad_category")
    if urgency not in set(Urgency):
        raise DomainError(_l("紧急程度无效"), field="urgency")
    if location_type not in set(LocationType):
        raise DomainError(_l("请选择报修位置"), field="location_type")
    if preferred_slot not in set(VisitSlot):
        raise DomainError(_l("上门时段无效"), field="preferred_slot")
    if channel not in set(Channel):
        raise DomainError(_l("来源渠道无效"), field="channel")
    if unit is not None and unit.community_id != community.id:
        raise DomainError(_l("房屋不属于本小区"), field="unit")
    staff = on_behalf or channel in (Channel.PHONE, Channel.PATROL)
    reporter: User | None
    if staff:
        if not staff_roles_in(actor, community.id) & set(DISPATCH_ROLES):
            raise PermissionDenied(_l("只有客服或管理处负责人可以代业主报修"))
        reporter = _current_owner(session, unit) if unit is not None else None
    else:
        if unit is None:
            raise DomainError(_l("请选择您的房屋"), field="unit")
        if unit.id not in owned_unit_ids(session, actor):
            raise DomainError(_l("只能为自己的房屋报修"), field="unit")
        reporter = actor
    if location_type == LocationType.IN_HOME:
        if unit is None:
            raise DomainError(_l("室内报修需要指明房屋"), field="unit")
        building_id, floor, area = unit.building_id, unit.floor, ""
    else:
        area = (area or "").strip()
        if building_id is not None:
            building = session.get(Building, building_id)
            if building is None or building.community_id != community.id:
                raise DomainError(_l("楼栋不属于本小区"), field="building")
        if building_id is None and not area and lat is None:
            raise DomainError(
                _l("公共区域报修请填写楼栋或具体位置"), field="area", code="location_required"
            )
        if len(area) > 100:
            raise DomainError(_l("位置描述不能超过 100 字"), field="area")
        if floor is not None and not -10 <= floor <= 200:
            raise DomainError(_l("楼层超出范围"), field="floor")
    if preferred_on is not None and preferred_on < to_local(now, zone(community.timezone)).date():
        raise DomainError(_l("期望上门日期不能早于今天"), field="preferred_on")
    if len(photos) > MAX_PHOTOS:
        raise DomainError(_l("最多上传 %(n)s 张照片", n=MAX_PHOTOS), field="photos")
    first_due, resolve_due = due_times(
        session, community=community, category_id=category.id, urgency=urgency, start=now
    )
    ticket = Ticket(
        community_id=community.id,
        number=_next_number(session, community),
        category_id=category.id,
        urgency=urgency,
        status=TicketStatus.SUBMITTED,
        channel=channel,
        unit_id=unit.id if unit else None,
        reporter_id=reporter.id if reporter else None,
        created_by_id=actor.id,
        location_type=location_type,
        building_id=building_id,
        floor=floor,
        area=area,
        lat=lat,
        long=long,
        description=description,
        preferred_on=preferred_on,
        preferred_slot=preferred_slot,
        contact_phone=(contact_phone or "").strip()[:32],
        period=_period(community, now),
        created_at=now,
        updated_at=now,
        first_response_due_at=first_due,
        resolution_due_at=resolve_due,
        reopen_count=0,
    )
    session.add(ticket)
    session.flush()
    _event(
        session,
        ticket,
        kind=EventKind.SUBMITTED,
        actor=actor,
        now=now,
        to_status=TicketStatus.SUBMITTED,
        data={"channel": channel},
    )
    add_photos(session, ticket=ticket, actor=actor, now=now, photos=photos, stage="report")
    if staff:
        audit.record(
            session,
            actor_id=actor.id,
            action="ticket.create_on_behalf",
            target_type="ticket",
            target_id=ticket.id,
            community_id=community.id,
            now=now,
            details={"number": ticket.number, "channel": channel},
        )
    return ticket


def _current_owner(session: Session, unit: Unit) -> User | None:
    return session.scalar(
        select(User)
        .join(Ownership, Ownership.user_id == User.id)
        .where(Ownership.unit_id == unit.id, Ownership.ended_on.is_(None))
        .order_by(Ownership.started_on, Ownership.id)
        .limit(1)
    )


def add_photos(
    session: Session,
    *,
    ticket: Ticket,
    actor: User,
    now: datetime,
    photos: Sequence[PhotoUpload],
    stage: str,
) -> list[TicketPhoto]:
    """Store photos (content-checked, size-limited, metadata stripped) and link them."""
    from portal.uploads import service as uploads

    if not photos:
        return []
    existing = session.scalar(
        select(func.count(TicketPhoto.id)).where(
            TicketPhoto.ticket_id == ticket.id, TicketPhoto.stage == stage
        )
    )
    if (existing or 0) + len(photos) > MAX_PHOTOS:
        raise DomainError(_l("最多上传 %(n)s 张照片", n=MAX_PHOTOS), field="photos")
    added = []
    for photo in photos:
        try:
            stored = uploads.store_upload(
                session,
                data=photo.data,
                filename=photo.filename,
                allowed=frozenset({"image"}),
                uploaded_by_id=actor.id,
                now=now,
                max_bytes=PHOTO_MAX_BYTES,
            )
        except DomainError as exc:
            raise DomainError(
                _l("照片 %(name)s：%(reason)s", name=photo.filename[:60], reason=exc.message),
                field="photos",
                code=exc.code,
            ) from exc
        row = TicketPhoto(
            ticket_id=ticket.id,
            stored_file_id=stored.id,
            stage=stage,
            uploaded_by_id=actor.id,
            created_at=now,
        )
        session.add(row)
        added.append(row)
    session.flush()
    if stage != "report":
        _event(
            session,
            ticket,
            kind=EventKind.PHOTO_ADDED,
            actor=actor,
            now=now,
            data={"count": len(added), "stage": stage},
        )
    return added


# ---------------------------------------------------------------- the workflow


def _cas(
    session: Session,
    ticket: Ticket,
    *,
    allowed_from: Iterable[str],
    to: str,
    now: datetime,
    values: dict[str, Any] | None = None,
) -> str:
    """Move the ticket from its current status to `to` only if nobody moved it meanwhile."""
    old = ticket.status
    if old not in set(allowed_from):
        raise Conflict(
            _l("工单当前状态（%(status)s）不能执行此操作", status=status_label(old)),
            code="bad_status",
        )
    changes = {"status": to, "updated_at": now, **(values or {})}
    moved = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == old)
        .values(**changes)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict(_l("工单刚被其他人处理过，请刷新后重试"), code="stale")
    for key, value in changes.items():
        set_committed_value(ticket, key, value)  # the row already holds them
    return old


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


def _first_response_values(ticket: Ticket, now: datetime) -> dict[str, Any]:
    if ticket.acknowledged_at is not None:
        return {}
    return {
        "acknowledged_at": now,
        "first_response_s": _seconds(ticket.created_at, now),
        "first_response_met": now <= ticket.first_response_due_at,
    }


def acknowledge(
    session: Session, *, ticket: Ticket, actor: User, now: datetime, note: str = ""
) -> None:
    """First response: customer service has seen the request and is on it."""
    _require_staff(ticket, actor, dispatch=True)
    old = _cas(
        session,
        ticket,
        allowed_from=(TicketStatus.SUBMITTED,),
        to=TicketStatus.ACKNOWLEDGED,
        now=now,
        values=_first_response_values(ticket, now),
    )
    _event(
        session,
        ticket,
        kind=EventKind.ACKNOWLEDGED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.ACKNOWLEDGED,
        body=(note or "").strip()[:2000],
    )


def bulk_acknowledge(
    session: Session, *, ticket_ids: Sequence[int], actor: User, now: datetime
) -> int:
    """Acknowledge every listed ticket still waiting; the others are skipped, not errors."""
    done = 0
    for ticket_id in dict.fromkeys(ticket_ids):
        ticket = get_scoped_ticket(session, staff=actor, ticket_id=ticket_id)
        if ticket is None:
            raise NotFound(_l("工单不存在"))
        if ticket.status != TicketStatus.SUBMITTED:
            continue
        acknowledge(session, ticket=ticket, actor=actor, now=now)
        done += 1
    return done


def assign(
    session: Session, *, ticket: Ticket, actor: User, assignee: User, now: datetime, note: str = ""
) -> None:
    """Dispatch (or re-dispatch) the ticket to an engineer of its community."""
    _require_staff(ticket, actor, dispatch=True)
    if not staff_roles_in(assignee, ticket.community_id) & {"engineer", "manager"}:
        raise DomainError(_l("只能派给本小区的工程人员"), field="assignee")
    values = {"assignee_id": assignee.id, "assigned_at": now, **_first_response_values(ticket, now)}
    old = _cas(
        session,
        ticket,
        allowed_from=(
            TicketStatus.SUBMITTED,
            TicketStatus.ACKNOWLEDGED,
            TicketStatus.ASSIGNED,
            TicketStatus.IN_PROGRESS,
            TicketStatus.REOPENED,
        ),
        to=TicketStatus.ASSIGNED,
        now=now,
        values=values,
    )
    _event(
        session,
        ticket,
        kind=EventKind.ASSIGNED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.ASSIGNED,
        body=(note or "").strip()[:2000],
        data={"assignee_id": assignee.id, "assignee": assignee.display_name},
    )


def start_work(session: Session, *, ticket: Ticket, actor: User, now: datetime) -> None:
    """The engineer is on site / working on it."""
    _require_staff(ticket, actor)
    if ticket.assignee_id is None:
        raise Conflict(_l("请先派单"), code="bad_status")
    old = _cas(
        session,
        ticket,
        allowed_from=(TicketStatus.ASSIGNED, TicketStatus.REOPENED),
        to=TicketStatus.IN_PROGRESS,
        now=now,
        values={"started_at": now, **_first_response_values(ticket, now)},
    )
    _event(
        session,
        ticket,
        kind=EventKind.STARTED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.IN_PROGRESS,
    )


def resolve(
    session: Session,
    *,
    ticket: Ticket,
    actor: User,
    now: datetime,
    note: str,
    photos: Sequence[PhotoUpload] = (),
) -> None:
    """The work is done; the owner may now rate it, or reopen it within 7 days."""
    _require_staff(ticket, actor)
    note = (note or "").strip()
    if not note:
        raise DomainError(_l("请说明处理结果"), field="note", code="required")
    if len(note) > 2000:
        raise DomainError(_l("处理说明不能超过 2000 字"), field="note")
    values = {
        "resolved_at": now,
        "resolution_s": _seconds(ticket.created_at, now),
        "resolution_met": now <= ticket.resolution_due_at,
        **_first_response_values(ticket, now),
    }
    old = _cas(
        session,
        ticket,
        allowed_from=(
            TicketStatus.ACKNOWLEDGED,
            TicketStatus.ASSIGNED,
            TicketStatus.IN_PROGRESS,
            TicketStatus.REOPENED,
        ),
        to=TicketStatus.RESOLVED,
        now=now,
        values=values,
    )
    _event(
        session,
        ticket,
        kind=EventKind.RESOLVED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.RESOLVED,
        body=note,
    )
    add_photos(session, ticket=ticket, actor=actor, now=now, photos=photos, stage="resolution")


def close(
    session: Session, *, ticket: Ticket, actor: User | None, now: datetime, by_owner: bool = False
) -> None:
    """Close a resolved ticket: the owner confirms, staff close it, or the job does after 7 days."""
    if actor is not None:
        if by_owner:
            _require_owner(session, ticket, actor)
        else:
            _require_staff(ticket, actor, dispatch=True)
    old = _cas(
        session,
        ticket,
        allowed_from=(TicketStatus.RESOLVED,),
        to=TicketStatus.CLOSED,
        now=now,
        values={"closed_at": now},
    )
    _event(
        session,
        ticket,
        kind=EventKind.CLOSED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.CLOSED,
        data={"by": "owner" if by_owner else ("staff" if actor else "system")},
    )


def can_reopen(ticket: Ticket, now: datetime) -> bool:
    """The owner may reopen within 7 days of the (latest) resolution."""
    return (
        ticket.status in DONE_STATUSES
        and ticket.resolved_at is not None
        and now <= ticket.resolved_at + timedelta(days=REOPEN_DAYS)
    )


def reopen(
    session: Session,
    *,
    ticket: Ticket,
    actor: User,
    now: datetime,
    reason: str,
    by_owner: bool = True,
    via_recheck: bool = False,
) -> None:
    """Reopen a resolved ticket: the problem is back. Owners have 7 days (the recheck, longer)."""
    if by_owner:
        _require_owner(session, ticket, actor)
    else:
        _require_staff(ticket, actor, dispatch=True)
    reason = (reason or "").strip()
    if not reason and not via_recheck:
        raise DomainError(_l("请说明还有什么问题"), field="reason", code="required")
    if ticket.status not in DONE_STATUSES:
        raise Conflict(_l("只有已解决的工单才能重新打开"), code="bad_status")
    if by_owner and not via_recheck and not can_reopen(ticket, now):
        raise DomainError(
            _l("已超过 %(n)s 天，不能重新打开；请提交新的报修", n=REOPEN_DAYS),
            field="reason",
            code="reopen_window",
        )
    old = _cas(
        session,
        ticket,
        allowed_from=DONE_STATUSES,
        to=TicketStatus.REOPENED,
        now=now,
        values={
            "reopen_count": ticket.reopen_count + 1,
            "closed_at": None,
            # Not resolved any more; the original due time stands (a fix that did not hold
            # was not a fix in time). resolved_at is kept: it was resolved once.
            "resolution_s": None,
            "resolution_met": None,
        },
    )
    _event(
        session,
        ticket,
        kind=EventKind.REOPENED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.REOPENED,
        body=reason[:2000],
        data={"via": "recheck" if via_recheck else ("owner" if by_owner else "staff")},
    )


def cancel(
    session: Session, *, ticket: Ticket, actor: User, now: datetime, reason: str, by_owner: bool
) -> None:
    """Withdraw a request that is not yet resolved (the owner, or staff with a reason)."""
    if by_owner:
        _require_owner(session, ticket, actor)
    else:
        _require_staff(ticket, actor, dispatch=True)
    reason = (reason or "").strip()
    if not by_owner and not reason:
        raise DomainError(_l("请填写取消原因"), field="reason", code="required")
    old = _cas(
        session,
        ticket,
        allowed_from=OPEN_STATUSES,
        to=TicketStatus.CANCELLED,
        now=now,
        values={"cancelled_at": now},
    )
    _event(
        session,
        ticket,
        kind=EventKind.CANCELLED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.CANCELLED,
        body=reason[:2000],
    )
    if not by_owner:
        audit.record(
            session,
            actor_id=actor.id,
            action="ticket.cancel",
            target_type="ticket",
            target_id=ticket.id,
            community_id=ticket.community_id,
            now=now,
            details={"number": ticket.number, "reason": reason[:200]},
        )


def comment(
    session: Session,
    *,
    ticket: Ticket,
    actor: User,
    now: datetime,
    body: str,
    internal: bool = False,
    by_owner: bool = False,
) -> TicketEvent:
    """A comment on the timeline; staff may add internal notes the owner does not see."""
    body = (body or "").strip()
    if not body:
        raise DomainError(_l("内容不能为空"), field="body", code="required")
    if len(body) > 2000:
        raise DomainError(_l("内容不能超过 2000 字"), field="body")
    if by_owner:
        _require_owner(session, ticket, actor)
        internal = False
    else:
        _require_staff(ticket, actor)
    if ticket.status == TicketStatus.CANCELLED and by_owner:
        raise Conflict(_l("工单已取消"), code="bad_status")
    ticket.updated_at = now
    return _event(
        session,
        ticket,
        kind=EventKind.NOTE if internal else EventKind.COMMENT,
        actor=actor,
        now=now,
        body=body,
        internal=internal,
    )


# ---------------------------------------------------------------- ratings and follow-ups


def rate(
    session: Session,
    *,
    ticket: Ticket,
    actor: User,
    now: datetime,
    score: Any,
    comment_text: str = "",
    channel: str = RatingChannel.OWNER,
) -> TicketRating:
    """Rate a resolved ticket 1-5, once; ≤ 2 opens a service-recovery task for staff."""
    if channel == RatingChannel.PHONE:
        _require_staff(ticket, actor, dispatch=True)
    else:
        _require_owner(session, ticket, actor)
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise DomainError(_l("评分必须是 1 到 5 的整数"), field="score", code="out_of_range")
    if ticket.status not in DONE_STATUSES:
        raise Conflict(_l("工单解决后才能评价"), code="not_resolved")
    if session.scalar(select(TicketRating.id).where(TicketRating.ticket_id == ticket.id)):
        raise Conflict(_l("该工单已评价过"), code="already_rated")
    comment_text = (comment_text or "").strip()
    if len(comment_text) > 1000:
        raise DomainError(_l("评价内容不能超过 1000 字"), field="comment")
    rating = TicketRating(
        ticket_id=ticket.id,
        score=score,
        comment=comment_text,
        channel=channel,
        recorded_by_id=actor.id,
        created_at=now,
    )
    session.add(rating)
    ticket.rating_score = score
    session.flush()
    _event(
        session,
        ticket,
        kind=EventKind.RATED,
        actor=actor,
        now=now,
        body=comment_text,
        data={"score": score, "channel": channel},
    )
    if score <= LOW_RATING:
        session.add(
            TicketFollowup(
                ticket_id=ticket.id,
                kind=FollowupKind.SERVICE_RECOVERY,
                round=ticket.reopen_count,
                status=FollowupStatus.OPEN,
                created_at=now,
                due_on=(to_local(now, zone(ticket.community.timezone)) + timedelta(days=2)).date(),
                note="",
            )
        )
        session.flush()
    if channel == RatingChannel.PHONE:
        audit.record(
            session,
            actor_id=actor.id,
            action="ticket.rate_by_phone",
            target_type="ticket",
            target_id=ticket.id,
            community_id=ticket.community_id,
            now=now,
            details={"score": score},
        )
    return rating


def complete_followup(
    session: Session, *, followup: TicketFollowup, actor: User, now: datetime, note: str
) -> None:
    """Close a service-recovery task with what was done (called back, re-repaired, …)."""
    if followup.kind != FollowupKind.SERVICE_RECOVERY:
        raise DomainError(_l("此回访由业主回答"), field="note")
    _require_staff(followup.ticket, actor, dispatch=True)
    note = (note or "").strip()
    if not note:
        raise DomainError(_l("请记录回访结果"), field="note", code="required")
    moved = session.execute(
        update(TicketFollowup)
        .where(TicketFollowup.id == followup.id, TicketFollowup.status == FollowupStatus.OPEN)
        .values(status=FollowupStatus.DONE, done_at=now, note=note[:2000], handled_by_id=actor.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict(_l("该回访已处理"), code="stale")
    session.refresh(followup)
    _event(
        session,
        followup.ticket,
        kind=EventKind.NOTE,
        actor=actor,
        now=now,
        body=note[:2000],
        internal=True,
        data={"followup": followup.id},
    )


def answer_recheck(
    session: Session,
    *,
    followup: TicketFollowup,
    actor: User,
    now: datetime,
    fixed: bool,
    note: str = "",
) -> None:
    """The owner's answer to "is it still fixed?"; "no" reopens the ticket."""
    if followup.kind != FollowupKind.RECHECK:
        raise NotFound(_l("回访不存在"))
    ticket = followup.ticket
    _require_owner(session, ticket, actor)
    moved = session.execute(
        update(TicketFollowup)
        .where(TicketFollowup.id == followup.id, TicketFollowup.status == FollowupStatus.OPEN)
        .values(
            status=FollowupStatus.DONE,
            done_at=now,
            answer="fixed" if fixed else "not_fixed",
            note=(note or "").strip()[:2000],
            handled_by_id=actor.id,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict(_l("您已经回答过了"), code="stale")
    session.refresh(followup)
    _event(
        session,
        ticket,
        kind=EventKind.RECHECK_ANSWERED,
        actor=actor,
        now=now,
        body=(note or "").strip()[:2000],
        data={"fixed": fixed},
    )
    if not fixed and ticket.status in DONE_STATUSES:
        reopen(
            session,
            ticket=ticket,
            actor=actor,
            now=now,
            reason=(note or "").strip() or str(_l("回访：问题没有解决")),
            by_owner=True,
            via_recheck=True,
        )


@dataclass
class FollowupRun:
    closed: int = 0
    rechecks: int = 0
    expired: int = 0
    numbers: list[str] = field(default_factory=list)


def run_followups(session: Session, *, day: date, now: datetime) -> FollowupRun:
    """The daily job: auto-close after 7 quiet days, ask "still fixed?" at 14 days. Idempotent.

    Cut-offs are computed from the start of `day` (Asia/Shanghai midnight, as UTC), so re-running
    a date, or running it late, gives the same result.
    """
    from portal.timeutil import DEFAULT_TZ

    as_of = datetime.combine(day, time(0), DEFAULT_TZ).astimezone(UTC)
    result = FollowupRun()
    to_close = session.scalars(
        select(Ticket)
        .where(
            Ticket.status == TicketStatus.RESOLVED,
            Ticket.resolved_at <= as_of - timedelta(days=AUTO_CLOSE_DAYS),
        )
        .order_by(Ticket.id)
    ).all()
    for ticket in to_close:
        close(session, ticket=ticket, actor=None, now=now)
        result.closed += 1
    asked = (
        select(TicketFollowup.id)
        .where(
            TicketFollowup.ticket_id == Ticket.id,
            TicketFollowup.kind == FollowupKind.RECHECK,
            TicketFollowup.round == Ticket.reopen_count,
        )
        .correlate(Ticket)
    )
    due = session.scalars(
        select(Ticket)
        .options(joinedload(Ticket.community))
        .where(
            Ticket.status.in_(DONE_STATUSES),
            Ticket.resolved_at <= as_of - timedelta(days=RECHECK_DAYS),
            Ticket.resolved_at > as_of - timedelta(days=RECHECK_DAYS + RECHECK_LOOKBACK_DAYS),
            Ticket.reporter_id.is_not(None),
            ~exists(asked),
        )
        .order_by(Ticket.id)
    ).all()
    for ticket in due:
        session.add(
            TicketFollowup(
                ticket_id=ticket.id,
                kind=FollowupKind.RECHECK,
                round=ticket.reopen_count,
                status=FollowupStatus.OPEN,
                created_at=now,
                due_on=day + timedelta(days=RECHECK_EXPIRE_DAYS),
                note="",
            )
        )
        _event(session, ticket, kind=EventKind.RECHECK_ASKED, actor=None, now=now)
        result.rechecks += 1
        result.numbers.append(ticket.number)
    result.expired = (
        session.execute(
            update(TicketFollowup)
            .where(
                TicketFollowup.kind == FollowupKind.RECHECK,
                TicketFollowup.status == FollowupStatus.OPEN,
                TicketFollowup.due_on < day,
            )
            .values(status=FollowupStatus.EXPIRED)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    session.flush()
    return result


def pending_rechecks(session: Session, *, user: User) -> list[TicketFollowup]:
    """Open "is it still fixed?" questions on the user's tickets."""
    return list(
        session.scalars(
            select(TicketFollowup)
            .join(Ticket, Ticket.id == TicketFollowup.ticket_id)
            .options(joinedload(TicketFollowup.ticket))
            .where(
                TicketFollowup.kind == FollowupKind.RECHECK,
                TicketFollowup.status == FollowupStatus.OPEN,
                _owner_filter(session, user),
            )
            .order_by(TicketFollowup.id)
        )
    )


def get_owned_followup(session: Session, *, user: User, followup_id: int) -> TicketFollowup | None:
    followup = session.get(TicketFollowup, followup_id)
    if followup is None or not is_owner_of(session, followup.ticket, user):
        return None
    return followup


def get_scoped_followup(
    session: Session, *, staff: User, followup_id: int
) -> TicketFollowup | None:
    followup = session.get(TicketFollowup, followup_id)
    if followup is None or not staff_roles_in(staff, followup.ticket.community_id):
        return None
    return followup


def open_service_tasks(
    session: Session, *, staff: User, community_id: int | None = None
) -> list[TicketFollowup]:
    """Open service-recovery tasks (low ratings) in the staff member's communities."""
    query = (
        select(TicketFollowup)
        .join(Ticket, Ticket.id == TicketFollowup.ticket_id)
        .options(
            joinedload(TicketFollowup.ticket).joinedload(Ticket.unit),
            joinedload(TicketFollowup.ticket).joinedload(Ticket.category),
            joinedload(TicketFollowup.ticket).joinedload(Ticket.rating),
        )
        .where(
            TicketFollowup.kind == FollowupKind.SERVICE_RECOVERY,
            TicketFollowup.status == FollowupStatus.OPEN,
        )
        .order_by(TicketFollowup.due_on, TicketFollowup.id)
    )
    ids = staff_community_ids(staff)
    if ids is not None:
        query = query.where(Ticket.community_id.in_(ids or {-1}))
    if community_id is not None:
        query = query.where(Ticket.community_id == community_id)
    return list(session.scalars(query).unique())


# ---------------------------------------------------------------- lists


def owner_tickets(session: Session, *, user: User, limit: int = 100) -> list[Ticket]:
    """The owner's tickets, newest first."""
    return list(
        session.scalars(
            select(Ticket)
            .options(
                joinedload(Ticket.category), joinedload(Ticket.unit), joinedload(Ticket.rating)
            )
            .where(_owner_filter(session, user))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(limit)
        ).unique()
    )


def common_area_tickets(
    session: Session, *, community_id: int, open_only: bool = True, limit: int = 50
) -> list[Ticket]:
    """Common-area tickets of a community, for every owner to see (no reporter identity)."""
    query = (
        select(Ticket)
        .options(joinedload(Ticket.category), joinedload(Ticket.building))
        .where(
            Ticket.community_id == community_id,
            Ticket.location_type == LocationType.COMMON_AREA,
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    if open_only:
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    return list(session.scalars(query).unique())


def visible_events(ticket: Ticket, *, for_owner: bool) -> list[TicketEvent]:
    """The timeline; internal notes are left out for the owner."""
    return [e for e in ticket.events if not (for_owner and e.internal)]


@dataclass(frozen=True)
class BoardFilters:
    community_id: int | None = None
    status: str = ""  # a status, "open" (default) or "all"
    category_id: int | None = None
    building_id: int | None = None
    assignee_id: int | None = None  # 0 = unassigned
    overdue: bool = False
    search: str = ""


@dataclass(frozen=True)
class BoardPage:
    tickets: list[Ticket]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def overdue_clause(now: datetime) -> Any:
    """Open and past a due time: no first response in time, or not resolved in time."""
    return and_(
        Ticket.status.in_(OPEN_STATUSES),
        or_(
            and_(Ticket.acknowledged_at.is_(None), Ticket.first_response_due_at < now),
            Ticket.resolution_due_at < now,
        ),
    )


def board(
    session: Session,
    *,
    staff: User,
    filters: BoardFilters,
    now: datetime,
    page: int = 1,
    per_page: int = 50,
) -> BoardPage:
    """The staff board: scoped to the user's communities, filtered, most urgent first."""
    query = select(Ticket)
    ids = staff_community_ids(staff)
    if ids is not None:
        query = query.where(Ticket.community_id.in_(ids or {-1}))
    if filters.community_id is not None:
        query = query.where(Ticket.community_id == filters.community_id)
    if filters.status in ("", "open"):
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    elif filters.status != "all":
        query = query.where(Ticket.status == filters.status)
    if filters.category_id:
        query = query.where(Ticket.category_id == filters.category_id)
    if filters.building_id:
        query = query.where(Ticket.building_id == filters.building_id)
    if filters.assignee_id == 0:
        query = query.where(Ticket.assignee_id.is_(None))
    elif filters.assignee_id:
        query = query.where(Ticket.assignee_id == filters.assignee_id)
    if filters.overdue:
        query = query.where(overdue_clause(now))
    if filters.search:
        query = query.where(Ticket.number.contains(filters.search.strip().upper(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    rows = session.scalars(
        query.options(
            joinedload(Ticket.category),
            joinedload(Ticket.unit),
            joinedload(Ticket.building),
            joinedload(Ticket.assignee),
        )
        .order_by(
            (Ticket.urgency == Urgency.URGENT).desc(),
            Ticket.resolution_due_at,
            Ticket.id,
        )
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).unique()
    return BoardPage(tickets=list(rows), total=total, page=page, per_page=per_page)


def engineer_queue(session: Session, *, engineer: User) -> list[Ticket]:
    """The engineer's own open tickets, most urgent first (the phone view)."""
    return list(
        session.scalars(
            select(Ticket)
            .options(
                joinedload(Ticket.category),
                joinedload(Ticket.unit),
                joinedload(Ticket.building),
                joinedload(Ticket.reporter),
            )
            .where(Ticket.assignee_id == engineer.id, Ticket.status.in_(OPEN_STATUSES))
            .order_by((Ticket.urgency == Urgency.URGENT).desc(), Ticket.resolution_due_at)
        ).unique()
    )


def load_detail(session: Session, ticket_id: int) -> Ticket | None:
    """A ticket with its timeline, photos and rating loaded."""
    return session.scalar(
        select(Ticket)
        .options(
            selectinload(Ticket.events).joinedload(TicketEvent.actor),
            selectinload(Ticket.photos),
            joinedload(Ticket.rating),
            joinedload(Ticket.category),
            joinedload(Ticket.unit),
            joinedload(Ticket.building),
            joinedload(Ticket.assignee),
            joinedload(Ticket.community),
        )
        .where(Ticket.id == ticket_id)
    )


def get_photo(session: Session, *, ticket: Ticket, photo_id: int) -> TicketPhoto | None:
    return session.scalar(
        select(TicketPhoto).where(TicketPhoto.id == photo_id, TicketPhoto.ticket_id == ticket.id)
    )


# ---------------------------------------------------------------- signals for collections


def unit_service_signals(
    session: Session, *, unit_id: int, since: datetime, now: datetime | None = None
) -> dict[str, Any]:
    """What collections reads beside an arrears case: the unit's service experience.

    {"low_ratings", "open_tickets", "overdue_tickets", "mean_rating" (Decimal or None),
     "ratings", "open_service_tasks", "reopened"} — ratings and reopenings since `since`;
    open and overdue tickets as of `now`.
    """
    from portal.timeutil import now_utc

    now = now or now_utc()
    ratings = session.execute(
        select(
            func.count(TicketRating.id),
            func.sum(TicketRating.score),
            func.count(TicketRating.id).filter(TicketRating.score <= LOW_RATING),
        )
        .join(Ticket, Ticket.id == TicketRating.ticket_id)
        .where(Ticket.unit_id == unit_id, TicketRating.created_at >= since)
    ).one()
    tickets = session.execute(
        select(
            func.count(Ticket.id).filter(Ticket.status.in_(OPEN_STATUSES)),
            func.count(Ticket.id).filter(overdue_clause(now)),
            func.count(Ticket.id).filter(Ticket.reopen_count > 0, Ticket.created_at >= since),
        ).where(Ticket.unit_id == unit_id)
    ).one()
    tasks = session.scalar(
        select(func.count(TicketFollowup.id))
        .join(Ticket, Ticket.id == TicketFollowup.ticket_id)
        .where(
            Ticket.unit_id == unit_id,
            TicketFollowup.kind == FollowupKind.SERVICE_RECOVERY,
            TicketFollowup.status == FollowupStatus.OPEN,
        )
    )
    count, total, low = ratings
    mean = (Decimal(total) / Decimal(count)).quantize(Decimal("0.01")) if count else None
    return {
        "low_ratings": low or 0,
        "open_tickets": tickets[0] or 0,
        "overdue_tickets": tickets[1] or 0,
        "mean_rating": mean,
        "ratings": count or 0,
        "reopened": tickets[2] or 0,
        "open_service_tasks": tasks or 0,
    }


def unit_low_ratings(session: Session, *, unit_id: int, since: datetime) -> list[dict[str, Any]]:
    """The unit's low ratings (≤ 2) since a date, with the ticket they concern (for a case page)."""
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.number,
            Ticket.category_id,
            TicketRating.score,
            TicketRating.comment,
            TicketRating.created_at,
            TicketCategory.name,
        )
        .join(TicketRating, TicketRating.ticket_id == Ticket.id)
        .join(TicketCategory, TicketCategory.id == Ticket.category_id)
        .where(
            Ticket.unit_id == unit_id,
            TicketRating.score <= LOW_RATING,
            TicketRating.created_at >= since,
        )
        .order_by(TicketRating.created_at.desc())
    ).all()
    return [
        {
            "ticket_id": r[0],
            "number": r[1],
            "score": r[3],
            "comment": r[4],
            "rated_at": r[5],
            "category": r[6],
        }
        for r in rows
    ]


# ---------------------------------------------------------------- labels


STATUS_LABELS: dict[str, Any] = {
    TicketStatus.SUBMITTED: _l("已提交"),
    TicketStatus.ACKNOWLEDGED: _l("已受理"),
    TicketStatus.ASSIGNED: _l("已派单"),
    TicketStatus.IN_PROGRESS: _l("处理中"),
    TicketStatus.RESOLVED: _l("已解决"),
    TicketStatus.CLOSED: _l("已关闭"),
    TicketStatus.REOPENED: _l("已重新打开"),
    TicketStatus.CANCELLED: _l("已取消"),
}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))
