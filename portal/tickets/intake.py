"""Taking repair requests in: from an owner, staff or Open311, numbered per community and
month, with photos."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import service as audit
from portal.communities.models import Building, Community, Ownership, Unit
from portal.errors import DomainError, PermissionDenied
from portal.tickets.base import DISPATCH_ROLES, owned_unit_ids, record_event, staff_roles_in
from portal.tickets.models import (
    Channel,
    EventKind,
    LocationType,
    Ticket,
    TicketKind,
    TicketPhoto,
    TicketSettings,
    TicketStatus,
    Urgency,
    VisitSlot,
)
from portal.tickets.setup import due_times, find_category, get_settings
from portal.timeutil import to_local, zone

MAX_PHOTOS = 6
PHOTO_MAX_BYTES = 10 * 1024 * 1024
MAX_DESCRIPTION = 4000  # the Open311 limit, and plenty for a repair request


@dataclass(frozen=True)
class PhotoUpload:
    data: bytes
    filename: str


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
    kind: str = TicketKind.REPAIR,
    about_staff_id: int | None = None,
) -> Ticket:
    """File a repair request, by an owner for their unit, or by staff (a call, a patrol round).

    Everything is checked before anything is written; a refused photo refuses the request.
    """
    description = _clean_description(description)
    category = find_category(session, community=community, code=category_code, kind=kind)
    if category is None and kind == TicketKind.COMPLAINT:
        raise DomainError(_l("请选择投诉类别"), field="category", code="bad_category")
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
        kind=kind,
        about_staff_id=about_staff_id,
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
    record_event(
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
        record_event(
            session,
            ticket,
            kind=EventKind.PHOTO_ADDED,
            actor=actor,
            now=now,
            data={"count": len(added), "stage": stage},
        )
    return added
