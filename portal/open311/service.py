"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2): the spec's shapes (keys: tickets/keys.py).

Communities are the jurisdictions (jurisdiction_id = community code), ticket categories are the
services (service_code = category code), and tickets are the service requests
(service_request_id = the ticket number). The public feed is anonymised: no names, no phone
numbers, and for in-home requests neither the unit nor the owner's own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.accounts.models import User
from portal.communities import service as communities
from portal.communities.models import Community, Unit
from portal.errors import DomainError
from portal.tickets import base as tickets_base
from portal.tickets import intake as tickets_intake
from portal.tickets import setup as tickets_setup
from portal.tickets.models import (
    DONE_STATUSES,
    OPEN_STATUSES,
    Channel,
    LocationType,
    Ticket,
    TicketCategory,
    TicketKind,
    TicketStatus,
)
from portal.tickets.stats import json_number
from portal.timeutil import date_window, in_date_window, to_local, zone

DEFAULT_SPAN = timedelta(days=90)
MAX_SPAN = timedelta(days=90)
MAX_RESULTS = 1000


class Open311Error(Exception):
    """An error in the spec's shape: [{"code", "description"}] with that HTTP status."""

    def __init__(self, status: int, description: Any, code: int | None = None):
        super().__init__(str(description))
        self.status = status
        self.code = code or status
        self.description = str(description)


# ---------------------------------------------------------------- jurisdictions and services


def jurisdiction(session: Session, *, jurisdiction_id: str | None, user: User | None) -> Community:
    """The community a request is about (404/400 in the spec's terms when missing or unknown)."""
    code = (jurisdiction_id or "").strip()
    if not code:
        candidates = _default_communities(session, user)
        if len(candidates) == 1:
            return candidates[0]
        raise Open311Error(400, _l("jurisdiction_id was not provided：请提供小区编码"))
    community = communities.visible_community(session, code=code.upper(), user=user)
    if community is None:
        raise Open311Error(404, _l("jurisdiction_id provided was not found：小区不存在或未公开"))
    return community


def _default_communities(session: Session, user: User | None) -> list[Community]:
    if user is not None:
        return list(
            {u.community_id: u.community for u in communities.units_of(session, user)}.values()
        )
    return communities.list_communities(session)


def service_list(session: Session, community: Community) -> list[dict[str, Any]]:
    """GET services: one service per active category."""
    return [
        {
            "service_code": category.code,
            "service_name": tickets_setup.category_name(category),
            "description": category.description or tickets_setup.category_name(category),
            "metadata": False,
            "type": "realtime",
            "keywords": ", ".join(
                dict.fromkeys([category.name, tickets_setup.category_name(category)])
            ),
            "group": "repair",
        }
        for category in tickets_setup.list_categories(session, community)
    ]


def service_definition(session: Session, community: Community, service_code: str) -> dict[str, Any]:
    """GET service definition: no extra attributes are needed for any category."""
    if tickets_setup.find_category(session, community=community, code=service_code) is None:
        raise Open311Error(404, _l("service_code provided was not found：类别不存在"))
    return {"service_code": service_code, "attributes": []}


# ---------------------------------------------------------------- requests


def _w3(instant: datetime | None, community: Community) -> str | None:
    if instant is None:
        return None
    return to_local(instant, zone(community.timezone)).isoformat(timespec="seconds")


def _status(ticket: Ticket) -> tuple[str, str | None]:
    if ticket.status in DONE_STATUSES:
        return "closed", str(tickets_base.status_label(ticket.status))
    if ticket.status == TicketStatus.CANCELLED:
        return "closed", str(_l("已取消"))
    return "open", str(tickets_base.status_label(ticket.status))


def _address(ticket: Ticket) -> str:
    community = ticket.community
    if ticket.location_type == LocationType.IN_HOME:
        # Anonymised: never the unit, nor even the building, of a home repair.
        return f"{_l('住户室内')}, {community.name}"
    parts = []
    if ticket.area:
        parts.append(ticket.area)
    if ticket.floor is not None:
        parts.append(str(_l("%(n)s 层", n=ticket.floor)))
    if ticket.building is not None:
        parts.append(ticket.building.name)
    parts.append(community.name)
    if community.address:
        parts.append(community.address)
    if community.city:
        parts.append(community.city)
    return ", ".join(parts)


def service_notice(ticket: Ticket) -> str:
    """What happens next, from the ticket's SLA."""
    tz = zone(ticket.community.timezone)
    due = to_local(ticket.resolution_due_at, tz).strftime("%Y-%m-%d %H:%M")
    return str(_l("物业服务中心将按服务承诺处理，预计 %(due)s 前解决", due=due))


def request_dict(ticket: Ticket, *, viewer: User | None = None) -> dict[str, Any]:
    """A service request in GeoReport v2 field names, anonymised unless the viewer reported it."""
    status, notes = _status(ticket)
    own = viewer is not None and ticket.reporter_id == viewer.id
    public_text = ticket.location_type == LocationType.COMMON_AREA or own
    updated = ticket.closed_at or ticket.updated_at
    return {
        "service_request_id": ticket.number,
        "status": status,
        "status_notes": notes,
        "service_name": tickets_setup.category_name(ticket.category),
        "service_code": ticket.category.code,
        "description": ticket.description if public_text else None,
        "agency_responsible": str(_l("%(name)s物业服务中心", name=ticket.community.name)),
        "service_notice": service_notice(ticket),
        "requested_datetime": _w3(ticket.created_at, ticket.community),
        "updated_datetime": _w3(updated, ticket.community),
        "expected_datetime": _w3(ticket.resolution_due_at, ticket.community),
        "address": _address(ticket),
        "address_id": ticket.unit.code if own and ticket.unit is not None else None,
        "zipcode": None,
        "lat": json_number(ticket.lat),
        "long": json_number(ticket.long),
        "media_url": None,
    }


def parse_w3(text: str | None, name: str) -> datetime | None:
    """A w3/ISO 8601 datetime with a zone (Z or ±HH:MM), or a 400 error."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a w3 datetime, e.g. 2010-01-01T00:00:00Z") from exc
    if value.tzinfo is None:
        raise Open311Error(400, f"{name} must include a time zone (Z or +08:00)")
    if not in_date_window(value):
        first, last = date_window()
        raise Open311Error(400, f"{name} must lie between {first} and {last}")
    return value.astimezone(UTC)


def _csv(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def search_requests(
    session: Session,
    *,
    community: Community,
    now: datetime,
    service_request_ids: str | None = None,
    service_codes: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    statuses: str | None = None,
    page: int = 1,
    page_size: int = MAX_RESULTS,
) -> list[Ticket]:
    """GET requests with the spec's filters, its 90-day default span and 1000-row cap."""
    query = (
        select(Ticket)
        .options(
            joinedload(Ticket.category),
            joinedload(Ticket.community),
            joinedload(Ticket.building),
            joinedload(Ticket.unit),
        )
        # Complaints (portal/feedback) are private to the owner and customer service.
        .where(Ticket.community_id == community.id, Ticket.kind == TicketKind.REPAIR)
    )
    ids = _csv(service_request_ids)
    if ids:  # "This overrides all other arguments."
        query = query.where(Ticket.number.in_(ids[:MAX_RESULTS]))
    else:
        start, end = parse_w3(start_date, "start_date"), parse_w3(end_date, "end_date")
        if start and end and end < start:
            raise Open311Error(400, "end_date is before start_date")
        if start and end and end - start > MAX_SPAN:
            raise Open311Error(400, "start_date and end_date may not span more than 90 days")
        if start is None and end is None:
            end = now
            start = now - DEFAULT_SPAN
        elif start is None:
            start = end - DEFAULT_SPAN  # type: ignore[operator]
        elif end is None:
            end = start + DEFAULT_SPAN
        query = query.where(Ticket.created_at >= start, Ticket.created_at <= end)
        codes = _csv(service_codes)
        if codes:
            query = query.join(TicketCategory, TicketCategory.id == Ticket.category_id).where(
                TicketCategory.code.in_(codes)
            )
        wanted = set(_csv(statuses))
        if wanted - {"open", "closed"}:
            raise Open311Error(400, "status must be open or closed")
        if wanted == {"open"}:
            query = query.where(Ticket.status.in_(OPEN_STATUSES))
        elif wanted == {"closed"}:
            query = query.where(Ticket.status.not_in(OPEN_STATUSES))
    page_size = max(1, min(MAX_RESULTS, page_size))
    page = max(1, page)
    return list(
        session.scalars(
            query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).unique()
    )


def find_request(
    session: Session, *, community: Community | None, request_id: str
) -> Ticket | None:
    """A request by its service_request_id (the ticket number)."""
    query = select(Ticket).where(
        Ticket.number == request_id.strip().upper(), Ticket.kind == TicketKind.REPAIR
    )
    if community is not None:
        query = query.where(Ticket.community_id == community.id)
    return session.scalar(query)


def _decimal(value: str | None, name: str, limit: int) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise Open311Error(400, f"{name} must be a number") from exc
    if not number.is_finite() or abs(number) > limit:
        raise Open311Error(400, f"{name} is out of range")
    return number.quantize(Decimal("0.000001"))


def create_request(
    session: Session,
    *,
    user: User,
    params: dict[str, str],
    now: datetime,
    photos: Sequence[tickets_intake.PhotoUpload] = (),
) -> Ticket:
    """POST requests: file a ticket for the key's owner from GeoReport v2 parameters.

    address_id naming one of the owner's units files an in-home request there; otherwise it is
    a common-area request at address_string (or lat/long).
    """
    community = jurisdiction(session, jurisdiction_id=params.get("jurisdiction_id"), user=user)
    own_units = [u for u in communities.units_of(session, user) if u.community_id == community.id]
    if not own_units:
        raise Open311Error(403, _l("api_key 所属业主在该小区没有房屋"))
    code = (params.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, _l("service_code was not provided：请提供类别编码"))
    if tickets_setup.find_category(session, community=community, code=code) is None:
        raise Open311Error(404, _l("service_code provided was not found：类别不存在"))
    lat = _decimal(params.get("lat"), "lat", 90)
    long = _decimal(params.get("long"), "long", 180)
    if (lat is None) != (long is None):
        raise Open311Error(400, "lat and long must be sent together")
    address_id = (params.get("address_id") or "").strip().upper()
    address = (params.get("address_string") or "").strip()
    if not address_id and not address and lat is None:
        raise Open311Error(400, "lat/long, address_string or address_id is required")
    unit: Unit = own_units[0]
    location = LocationType.COMMON_AREA
    if address_id:
        match = [u for u in own_units if u.code == address_id]
        if not match:
            raise Open311Error(400, _l("address_id 必须是您自己的房号"))
        unit, location = match[0], LocationType.IN_HOME
    try:
        return tickets_intake.create_ticket(
            session,
            community=community,
            actor=user,
            now=now,
            category_code=code,
            description=params.get("description") or "",
            unit=unit,
            location_type=location,
            area=address[:100],
            contact_phone=(params.get("phone") or "")[:32],
            channel=Channel.OPEN311,
            photos=photos,
            lat=lat,
            long=long,
        )
    except DomainError as exc:
        raise Open311Error(exc.status if exc.status in (403, 404) else 400, exc.message) from exc
