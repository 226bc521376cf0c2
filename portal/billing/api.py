"""Bills and fee standards over the JSON API."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue

from portal.api import api_user, bp
from portal.api.openapi import PATHS, SCHEMAS, _error
from portal.billing import queries, standards
from portal.billing.models import Bill, FeeStandard
from portal.communities import service as communities
from portal.extensions import db
from portal.security import public
from portal.timeutil import local_today, zone


def bill_json(bill: Bill) -> dict[str, Any]:
    return {
        "id": bill.id,
        "unit": bill.unit.code,
        "community_id": bill.community_id,
        "period": bill.period_label,
        "issued_on": bill.issued_on.isoformat(),
        "due_date": bill.due_date.isoformat(),
        "amount_fen": bill.amount_fen,
        "paid_fen": bill.paid_fen,
        "waived_fen": bill.waived_fen,
        "outstanding_fen": bill.outstanding_fen,
        "status": str(bill.status),
        "lines": [
            {
                "id": line.id,
                "item": line.item_name,
                "kind": line.kind,
                "quantity": str(line.quantity),
                "rate": str(line.rate),
                "months": line.months,
                "amount_fen": line.amount_fen,
                "outstanding_fen": line.outstanding_fen,
                "explanation": line.explanation,
            }
            for line in bill.lines
        ],
    }


def standard_json(standard: FeeStandard, today: Any) -> dict[str, Any]:
    return {
        "id": standard.id,
        "property_type": standard.property_type,
        "item_code": standard.item_code,
        "item": standard.item_name,
        "basis": standard.basis,
        "rate": str(standard.rate),
        "unit_label": standard.unit_label,
        "effective_from": standard.effective_from.isoformat(),
        "version": standard.version,
        "approval_ref": standard.approval_ref,
        "supersedes_id": standard.supersedes_id,
        "notice_id": standard.notice_id,
    }


@bp.route("/me/bills")
def my_bills() -> ResponseReturnValue:
    user = api_user()
    status = request.args.get("status", "all")
    if status not in ("all", "unpaid", "paid"):
        abort(422, description="status must be unpaid, paid or all")
    bills = queries.bills_for_units(
        db.session, unit_ids=queries.owned_unit_ids(db.session, user), status=status
    )
    return jsonify({"bills": [bill_json(b) for b in bills]})


@bp.route("/bills/<int:bill_id>")
def bill_detail(bill_id: int) -> ResponseReturnValue:
    bill = queries.get_owned_bill(db.session, owner=api_user(), bill_id=bill_id)
    if bill is None:
        abort(404, description="账单不存在")
    return jsonify(bill_json(bill))


@bp.route("/communities/<code>/fee-standards")
@public
def fee_standards(code: str) -> ResponseReturnValue:
    from flask import g

    community = communities.visible_community(db.session, code=code, user=g.get("api_user"))
    if community is None:
        abort(404, description="小区不存在")
    today = local_today(zone(community.timezone))
    current = standards.current_standards(db.session, community_id=community.id, on=today)
    current_ids = {s.id for s in current}
    history = standards.standard_history(db.session, community_id=community.id)
    return jsonify(
        {
            "community": community.code,
            "as_of": today.isoformat(),
            "current": [standard_json(s, today) for s in current],
            "past": [
                standard_json(s, today)
                for s in history
                if s.id not in current_ids and s.effective_from <= today
            ],
            "upcoming": [standard_json(s, today) for s in history if s.effective_from > today],
        }
    )


_BILL = {"$ref": "#/components/schemas/Bill"}
SCHEMAS["Bill"] = {
    "type": "object",
    "required": [
        "id",
        "unit",
        "period",
        "issued_on",
        "due_date",
        "amount_fen",
        "paid_fen",
        "outstanding_fen",
        "status",
        "lines",
    ],
    "properties": {
        "id": {"type": "integer"},
        "unit": {"type": "string"},
        "period": {"type": "string", "example": "2026-11"},
        "issued_on": {"type": "string", "format": "date"},
        "due_date": {"type": "string", "format": "date"},
        "amount_fen": {"type": "integer"},
        "paid_fen": {"type": "integer"},
        "outstanding_fen": {"type": "integer"},
        "status": {"type": "string", "enum": ["unpaid", "partial", "paid", "waived"]},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "item", "quantity", "rate", "amount_fen"],
                "properties": {
                    "id": {"type": "integer"},
                    "item": {"type": "string"},
                    "quantity": {"type": "string"},
                    "rate": {"type": "string"},
                    "amount_fen": {"type": "integer"},
                },
            },
        },
    },
}
PATHS["/me/bills"] = {
    "get": {
        "summary": "My bills, unpaid first",
        "parameters": [
            {
                "name": "status",
                "in": "query",
                "schema": {"type": "string", "enum": ["unpaid", "paid", "all"]},
            }
        ],
        "responses": {
            "200": {
                "description": "Bills",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"bills": {"type": "array", "items": _BILL}},
                        }
                    }
                },
            },
            "401": _error("No token"),
        },
    }
}
PATHS["/bills/{bill_id}"] = {
    "get": {
        "summary": "One of my bills with its lines",
        "parameters": [
            {"name": "bill_id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "responses": {
            "200": {"description": "Bill", "content": {"application/json": {"schema": _BILL}}},
            "404": _error("Not one of my bills"),
        },
    }
}
PATHS["/communities/{code}/fee-standards"] = {
    "get": {
        "summary": "Fee standards in force, past and upcoming versions",
        "security": [],
        "parameters": [
            {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {"200": {"description": "Standards"}, "404": _error("Unknown community")},
    }
}
