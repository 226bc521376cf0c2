"""A community's ticket set-up: repair categories, settings (working hours) and SLA
targets, and the due times they give a new ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import service as audit
from portal.communities.models import Community
from portal.errors import DomainError, NotFound
from portal.tickets.models import (
    SlaTarget,
    TicketCategory,
    TicketKind,
    TicketSettings,
    Urgency,
)
from portal.tickets.sla import DEFAULT_TARGETS, WorkingHours, add_working_minutes
from portal.timeutil import zone

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
# Complaint (投诉) categories: the kinds customer service hears about (portal/feedback files them).
COMPLAINT_CATEGORIES: list[tuple[str, str, Any]] = [
    ("c_attitude", "服务态度", _l("服务态度")),
    ("c_cleaning", "保洁服务", _l("保洁服务")),
    ("c_security", "安保服务", _l("安保服务")),
    ("c_greening", "绿化养护", _l("绿化养护")),
    ("c_noise", "噪音扰民", _l("噪音扰民")),
    ("c_parking", "停车管理", _l("停车管理")),
    ("c_billing", "收费问题", _l("收费问题")),
    ("c_repair", "维修质量", _l("维修质量")),
    ("c_other", "其他投诉", _l("其他投诉")),
]
# A complaint is answered faster than most repairs: first response in 1 h, answer in 24 h.
COMPLAINT_TARGETS: dict[str, tuple[int, int]] = {"urgent": (30, 480), "normal": (60, 1440)}
_DEFAULT_NAMES = {
    code: (zh, label) for code, zh, label in DEFAULT_CATEGORIES + COMPLAINT_CATEGORIES
}


# ---------------------------------------------------------------- categories, settings, SLA


def category_name(category: TicketCategory) -> str:
    """The display name: a default category in the reader's language, else the community's own."""
    default = _DEFAULT_NAMES.get(category.code)
    if default is not None and default[0] == category.name:
        return str(default[1])
    return category.name


def ensure_categories(
    session: Session, community: Community, *, kind: str = TicketKind.REPAIR
) -> bool:
    """Give a community the default categories of a kind the first time it needs them
    (True when it made them now)."""
    if session.scalar(
        select(TicketCategory.id)
        .where(TicketCategory.community_id == community.id, TicketCategory.kind == kind)
        .limit(1)
    ):
        return False
    defaults = COMPLAINT_CATEGORIES if kind == TicketKind.COMPLAINT else DEFAULT_CATEGORIES
    for position, (code, name, _label) in enumerate(defaults):
        category = TicketCategory(
            community_id=community.id, code=code, name=name, position=position, kind=kind
        )
        session.add(category)
        if kind == TicketKind.COMPLAINT:
            session.flush()
            for urgency, (first, answer) in COMPLAINT_TARGETS.items():
                session.add(
                    SlaTarget(
                        community_id=community.id,
                        category_id=category.id,
                        urgency=urgency,
                        first_response_minutes=first,
                        resolution_minutes=answer,
                    )
                )
    session.flush()
    return True


def list_categories(
    session: Session,
    community: Community,
    *,
    active_only: bool = True,
    kind: str = TicketKind.REPAIR,
) -> list[TicketCategory]:
    """The community's categories of a kind in display order (defaults created on first use)."""
    ensure_categories(session, community, kind=kind)
    query = select(TicketCategory).where(
        TicketCategory.community_id == community.id, TicketCategory.kind == kind
    )
    if active_only:
        query = query.where(TicketCategory.active.is_(True))
    return list(session.scalars(query.order_by(TicketCategory.position, TicketCategory.id)))


def find_category(
    session: Session, *, community: Community, code: str, kind: str = TicketKind.REPAIR
) -> TicketCategory | None:
    """An active category of this community and kind by code (or by its name, as typed)."""
    ensure_categories(session, community, kind=kind)
    code = (code or "").strip()
    return session.scalar(
        select(TicketCategory).where(
            TicketCategory.community_id == community.id,
            TicketCategory.kind == kind,
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
