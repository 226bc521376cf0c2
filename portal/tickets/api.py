"""Ticket API: list own / create, one ticket with its timeline, rating; responsiveness figures."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import abort, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal import pagecache
from portal.accounts.models import User
from portal.api import api_user, bp, json_body
from portal.api.openapi import PATHS, SCHEMAS
from portal.communities import service as communities
from portal.communities.models import Building, Unit
from portal.errors import DomainError
from portal.extensions import db
from portal.pagination import MAX_PER_PAGE, OPENAPI_PAGE_PARAMS, page_meta
from portal.security import public
from portal.tickets import aftercare, base, intake, queries, setup, stats
from portal.tickets.models import Channel, LocationType, Ticket, TicketEvent
from portal.timeutil import check_date, now_utc


def _instant(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def event_json(event: TicketEvent, viewer: User) -> dict[str, Any]:
    actor = None
    if event.actor_id is not None:
        actor = (
            "you"
            if event.actor_id == viewer.id
            else (event.actor.display_name if event.actor else None)
        )
    return {
        "id": event.id,
        "at": _instant(event.at),
        "kind": event.kind,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "actor": actor,
        "body": event.body,
        "internal": event.internal,
        "data": event.data or {},
    }


def ticket_json(
    ticket: Ticket, viewer: User, *, for_owner: bool, events: bool = True
) -> dict[str, Any]:
    """The contract's ticket shape plus location, due times, assignee, rating and photos."""
    body: dict[str, Any] = {
        "id": ticket.id,
        "number": ticket.number,
        "community": ticket.community.code,
        "category": ticket.category.code,
        "category_name": setup.category_name(ticket.category),
        "status": ticket.status,
        "urgency": ticket.urgency,
        "channel": ticket.channel,
        "description": ticket.description,
        "location": {
            "type": ticket.location_type,
            "unit": ticket.unit.code if ticket.unit else None,
            "building": ticket.building.code if ticket.building else None,
            "floor": ticket.floor,
            "area": ticket.area or None,
        },
        "preferred_on": ticket.preferred_on.isoformat() if ticket.preferred_on else None,
        "preferred_slot": ticket.preferred_slot,
        "created_at": _instant(ticket.created_at),
        "updated_at": _instant(ticket.updated_at),
        "first_response_due_at": _instant(ticket.first_response_due_at),
        "resolution_due_at": _instant(ticket.resolution_due_at),
        "acknowledged_at": _instant(ticket.acknowledged_at),
        "resolved_at": _instant(ticket.resolved_at),
        "closed_at": _instant(ticket.closed_at),
        "reopen_count": ticket.reopen_count,
        "assignee": ticket.assignee.display_name if ticket.assignee else None,
        "rating": {
            "score": ticket.rating.score,
            "comment": ticket.rating.comment,
            "created_at": _instant(ticket.rating.created_at),
        }
        if ticket.rating
        else None,
        "photos": [
            {
                "id": p.id,
                "stage": p.stage,
                "url": url_for("tickets.ticket_photo", ticket_id=ticket.id, photo_id=p.id),
            }
            for p in ticket.photos
        ],
    }
    if events:
        body["events"] = [
            event_json(e, viewer) for e in queries.visible_events(ticket, for_owner=for_owner)
        ]
    return body


def _visible_ticket(user: User, ticket_id: int) -> tuple[Ticket, bool]:
    """(ticket, seen as its owner) or a 404: owners see theirs, staff their communities'."""
    owned = base.get_owned_ticket(db.session, user=user, ticket_id=ticket_id)
    if (
        owned is None
        and base.get_scoped_ticket(db.session, staff=user, ticket_id=ticket_id) is None
    ):
        abort(404, description="工单不存在")
    ticket = queries.load_detail(db.session, ticket_id)
    if ticket is None:
        abort(404, description="工单不存在")
    return ticket, owned is not None


@bp.route("/tickets", methods=["GET"])
def ticket_list() -> ResponseReturnValue:
    user = api_user()
    code = request.args.get("community")
    page_no = request.args.get("page", 1, type=int)
    per_page = request.args.get("per_page", 100, type=int)
    if page_no is None or per_page is None or page_no < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        abort(422, description=f"page ≥ 1 and per_page between 1 and {MAX_PER_PAGE}")
    if code:
        community = communities.get_community(db.session, code)
        if community is None or not base.staff_roles_in(user, community.id):
            abort(404, description="小区不存在")
        page = queries.board(
            db.session,
            staff=user,
            filters=queries.BoardFilters(
                community_id=community.id, status=request.args.get("status", "all")
            ),
            now=now_utc(),
            page=page_no,
            per_page=per_page,
        )
        rows, for_owner = page.tickets, False
        meta = {"total": page.total, "page": page.page, "pages": page.pages, "per_page": per_page}
    else:
        mine = queries.owner_tickets_page(db.session, user=user, page=page_no, per_page=per_page)
        rows, for_owner, meta = mine.items, True, page_meta(mine)
    return jsonify(
        {
            "tickets": [ticket_json(t, user, for_owner=for_owner, events=False) for t in rows],
            **meta,
        }
    )


def _unit_for(user: User, value: Any) -> Unit:
    units = communities.units_of(db.session, user)
    for unit in units:
        if value in (unit.id, unit.code) or (isinstance(value, str) and value.upper() == unit.code):
            return unit
    raise DomainError("unit 必须是您名下的房号", field="unit", code="bad_unit")


def _location(value: Any, unit: Unit) -> dict[str, Any]:
    if value in (None, "", LocationType.IN_HOME) or (
        isinstance(value, dict) and value.get("type") == LocationType.IN_HOME
    ):
        return {"location_type": LocationType.IN_HOME}
    if isinstance(value, str):
        return {"location_type": LocationType.COMMON_AREA, "area": value}
    if not isinstance(value, dict) or value.get("type") not in (None, LocationType.COMMON_AREA):
        raise DomainError('location 须为 "in_home"、位置文字或对象', field="location")
    building_id = None
    if value.get("building"):
        building = db.session.scalar(
            select(Building).where(
                Building.community_id == unit.community_id,
                Building.code == str(value["building"]).upper(),
            )
        )
        if building is None:
            raise DomainError("本小区没有这个楼栋", field="location")
        building_id = building.id
    floor = value.get("floor")
    if floor is not None and (isinstance(floor, bool) or not isinstance(floor, int)):
        raise DomainError("floor 必须是整数", field="location")
    return {
        "location_type": LocationType.COMMON_AREA,
        "building_id": building_id,
        "floor": floor,
        "area": str(value.get("area") or ""),
    }


@bp.route("/tickets", methods=["POST"])
def ticket_create() -> ResponseReturnValue:
    user = api_user()
    data = json_body()
    try:
        for name in ("category", "description", "unit"):
            if data.get(name) in (None, ""):
                raise DomainError(f"缺少字段 {name}", field=name, code="required")
        for name in ("category", "description"):
            if not isinstance(data[name], str):
                raise DomainError(f"{name} 必须是字符串", field=name)
        unit = _unit_for(user, data["unit"])
        preferred_on = None
        if data.get("preferred_on"):
            try:
                preferred_on = date.fromisoformat(str(data["preferred_on"]))
            except ValueError as exc:
                raise DomainError("preferred_on 须为 YYYY-MM-DD", field="preferred_on") from exc
            check_date(preferred_on, field="preferred_on")
        ticket = intake.create_ticket(
            db.session,
            community=unit.community,
            actor=user,
            now=now_utc(),
            category_code=data["category"],
            description=data["description"],
            unit=unit,
            urgency=str(data.get("urgency") or "normal"),
            preferred_on=preferred_on,
            preferred_slot=str(data.get("preferred_slot") or "any"),
            contact_phone=str(data.get("contact_phone") or ""),
            channel=Channel.API,
            **_location(data.get("location"), unit),
        )
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    loaded = queries.load_detail(db.session, ticket.id)
    assert loaded is not None  # noqa: S101 - just committed
    return jsonify(ticket_json(loaded, user, for_owner=True)), 201


@bp.route("/tickets/<int:ticket_id>", methods=["GET"])
def ticket_detail(ticket_id: int) -> ResponseReturnValue:
    user = api_user()
    ticket, as_owner = _visible_ticket(user, ticket_id)
    return jsonify(ticket_json(ticket, user, for_owner=as_owner))


@bp.route("/tickets/<int:ticket_id>/rating", methods=["POST"])
def ticket_rating(ticket_id: int) -> ResponseReturnValue:
    user = api_user()
    ticket = base.get_owned_ticket(db.session, user=user, ticket_id=ticket_id)
    if ticket is None:
        abort(404, description="工单不存在")
    data = json_body()
    comment = data.get("comment") or ""
    try:
        if not isinstance(comment, str):
            raise DomainError("comment 必须是字符串", field="comment")
        rating = aftercare.rate(
            db.session,
            ticket=ticket,
            actor=user,
            now=now_utc(),
            score=data.get("score"),
            comment_text=comment,
        )
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    return jsonify(
        {
            "ticket_id": ticket.id,
            "score": rating.score,
            "comment": rating.comment,
            "created_at": _instant(rating.created_at),
        }
    ), 201


@bp.route("/communities/<code>/responsiveness")
@public
def community_responsiveness(code: str) -> ResponseReturnValue:
    community = communities.visible_community(db.session, code=code, user=g.get("api_user"))
    if community is None:
        abort(404, description="小区不存在")
    raw = request.args.get("months", "12").strip()
    months = int(raw) if raw.isdigit() else 0
    if not 1 <= months <= stats.MAX_MONTHS:
        abort(400, description=f"months 须在 1 到 {stats.MAX_MONTHS} 之间")
    now = now_utc()

    def render() -> ResponseReturnValue:
        report = stats.responsiveness(db.session, community=community, months=months, now=now)
        return jsonify(stats.responsiveness_json(report))

    return pagecache.cached_response(
        db.session,
        community_id=community.id,
        parts=("api-responsiveness", months, pagecache.five_minutes(now)),
        render=render,
        html=False,
    )


# ---------------------------------------------------------------- OpenAPI

_ERROR = {"$ref": "#/components/schemas/Error"}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_TICKET_ID = {"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_HOURS = {"type": ["number", "null"], "description": "hours; null when fewer than 5 tickets"}
_RATE = {"type": ["number", "null"], "description": "share 0-1; null when fewer than 5 tickets"}

PATHS["/tickets"] = {
    "get": {
        "summary": "My repair requests (or, for staff, ?community=CODE: that community's)",
        "parameters": [
            {"name": "community", "in": "query", "schema": {"type": "string"}},
            {"name": "status", "in": "query", "schema": {"type": "string"}},
            *OPENAPI_PAGE_PARAMS,
        ],
        "responses": {
            "200": _ok("Tickets (without events)", "TicketList"),
            "401": _err("No or expired token"),
            "404": _err("Not staff of that community"),
        },
    },
    "post": {
        "summary": "File a repair request for one of my units",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/TicketCreate"}}
            },
        },
        "responses": {
            "201": _ok("Created", "Ticket"),
            "400": _err("Body is not a JSON object"),
            "401": _err("No or expired token"),
            "422": _err("Invalid field (empty description, unknown category, not your unit…)"),
        },
    },
}
PATHS["/tickets/{ticket_id}"] = {
    "get": {
        "summary": "One ticket with its timeline (owners do not see internal notes)",
        "parameters": [_TICKET_ID],
        "responses": {
            "200": _ok("Ticket", "Ticket"),
            "401": _err("No or expired token"),
            "404": _err("Not yours / not found"),
        },
    }
}
PATHS["/tickets/{ticket_id}/rating"] = {
    "post": {
        "summary": "Rate a resolved ticket 1-5, once (≤ 2 triggers a service-recovery call)",
        "parameters": [_TICKET_ID],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["score"],
                        "properties": {
                            "score": {"type": "integer", "minimum": 1, "maximum": 5},
                            "comment": {"type": "string", "maxLength": 1000},
                        },
                    }
                }
            },
        },
        "responses": {
            "201": _ok("Rated", "Rating"),
            "401": _err("No or expired token"),
            "404": _err("Not yours / not found"),
            "409": _err("Not resolved yet, or already rated"),
            "422": _err("Score out of range"),
        },
    }
}
PATHS["/communities/{code}/responsiveness"] = {
    "get": {
        "summary": "Repair responsiveness per category over the last N months",
        "security": [],
        "parameters": [
            {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "months",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 60, "default": 12},
            },
        ],
        "responses": {
            "200": _ok("Figures", "Responsiveness"),
            "400": _err("months out of range"),
            "404": _err("Unknown or non-public community"),
        },
    }
}

_FIGURES = {
    "tickets": {"type": "integer"},
    "median_first_response_h": _HOURS,
    "p90_first_response_h": _HOURS,
    "median_resolution_h": _HOURS,
    "p90_resolution_h": _HOURS,
    "sla_compliance": _RATE,
    "reopen_rate": _RATE,
    "mean_rating": {"type": ["number", "null"], "description": "1-5; null when fewer than 5"},
    "samples": {"type": "object", "description": "tickets behind each figure"},
    "backlog": {"type": ["integer", "null"], "description": "open now"},
}
SCHEMAS["TicketCreate"] = {
    "type": "object",
    "required": ["category", "description", "unit"],
    "properties": {
        "category": {"type": "string", "description": "category code (or name)"},
        "description": {"type": "string", "maxLength": 4000},
        "unit": {"type": ["string", "integer"], "description": "one of my unit codes (or ids)"},
        "location": {
            "description": '"in_home" (default), a common-area description, or '
            '{"type": "common_area", "building", "floor", "area"}',
            "oneOf": [{"type": "string"}, {"type": "object"}],
        },
        "urgency": {"type": "string", "enum": ["normal", "urgent"]},
        "preferred_on": {"type": "string", "format": "date"},
        "preferred_slot": {"type": "string", "enum": ["any", "morning", "afternoon", "evening"]},
        "contact_phone": {"type": "string"},
    },
}
SCHEMAS["Ticket"] = {
    "type": "object",
    "required": ["id", "number", "category", "status", "description", "created_at", "events"],
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string"},
        "community": {"type": "string"},
        "category": {"type": "string"},
        "status": {
            "type": "string",
            "enum": [
                "submitted",
                "acknowledged",
                "assigned",
                "in_progress",
                "resolved",
                "closed",
                "reopened",
                "cancelled",
            ],
        },
        "description": {"type": "string"},
        "location": {"type": "object"},
        "created_at": {"type": "string", "format": "date-time"},
        "resolution_due_at": {"type": "string", "format": "date-time"},
        "rating": {"type": ["object", "null"]},
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "kind": {"type": "string"},
                    "from_status": {"type": ["string", "null"]},
                    "to_status": {"type": ["string", "null"]},
                    "actor": {"type": ["string", "null"]},
                    "body": {"type": "string"},
                },
            },
        },
    },
}
SCHEMAS["TicketList"] = {
    "type": "object",
    "properties": {
        "tickets": {
            "type": "array",
            "items": {"type": "object", "description": "a Ticket without its events"},
        }
    },
}
SCHEMAS["Rating"] = {
    "type": "object",
    "properties": {
        "ticket_id": {"type": "integer"},
        "score": {"type": "integer"},
        "comment": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
SCHEMAS["Responsiveness"] = {
    "type": "object",
    "required": ["community", "months", "categories"],
    "properties": {
        "community": {"type": "string"},
        "months": {"type": "integer"},
        "period": {
            "type": "object",
            "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
        },
        "categories": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["category", "tickets"],
                "properties": {"category": {"type": "string"}, **_FIGURES},
            },
        },
        "overall": {"type": "object", "properties": _FIGURES},
        "by_month": {"type": "array", "items": {"type": "object"}},
    },
}
