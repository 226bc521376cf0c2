"""Bills and fee standards over the JSON API."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue

from portal.api import api_user, bp
from portal.api.openapi import PATHS, SCHEMAS, _error
from portal.billing import dues, queries, standards
from portal.billing.models import Bill, FeeStandard
from portal.communities import service as communities
from portal.extensions import db
from portal.security import public
from portal.timeutil import local_today, now_utc, zone


def bill_json(bill: Bill, figures: dues.BillDues | None = None) -> dict[str, Any]:
    """A bill as the API shows it; held/payable/days_overdue come from billing.dues, the
    same figures the pages show (computed here when the caller has not)."""
    if figures is None:
        figures = dues.bill_dues(db.session, bills=[bill], now=now_utc())[bill.id]
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
        "held_fen": figures.held_fen,
        "payable_fen": figures.payable_fen,
        "days_overdue": figures.days_overdue,
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
                "held_fen": figures.line_held.get(line.id, 0),
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


MAX_PER_PAGE = 500


@bp.route("/me/bills")
def my_bills() -> ResponseReturnValue:
    user = api_user()
    status = request.args.get("status", "all")
    if status not in ("all", "unpaid", "paid"):
        abort(422, description="status must be unpaid, paid or all")
    page_no = request.args.get("page", 1, type=int)
    per_page = request.args.get("per_page", 100, type=int)
    if not page_no or page_no < 1 or not per_page or not 1 <= per_page <= MAX_PER_PAGE:
        abort(422, description=f"page ≥ 1 and per_page between 1 and {MAX_PER_PAGE}")
    page = queries.bills_page(
        db.session,
        unit_ids=queries.owned_unit_ids(db.session, user),
        status=status,
        page=page_no,
        per_page=per_page,
    )
    figures = dues.bill_dues(db.session, bills=page.bills, now=now_utc())
    return jsonify(
        {
            "bills": [bill_json(b, figures[b.id]) for b in page.bills],
            "total": page.total,
            "page": page.page,
            "pages": page.pages,
            "per_page": page.per_page,
            "payable_fen": sum(f.payable_fen for f in figures.values()),
        }
    )


@bp.route("/bills/<int:bill_id>")
def bill_detail(bill_id: int) -> ResponseReturnValue:
    bill = queries.get_owned_bill(db.session, owner=api_user(), bill_id=bill_id)
    if bill is None:
        abort(404, description="账单不存在")
    figures = dues.bill_dues(db.session, bills=[bill], now=now_utc())
    return jsonify(bill_json(bill, figures[bill.id]))


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
        "held_fen",
        "payable_fen",
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
        "held_fen": {"type": "integer", "description": "Amount under open dispute"},
        "payable_fen": {"type": "integer", "description": "outstanding_fen − held_fen"},
        "days_overdue": {"type": "integer", "description": "0 unless payable and past due"},
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
            },
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {
                "name": "per_page",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
            },
        ],
        "responses": {
            "200": {
                "description": "Bills",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "bills": {"type": "array", "items": _BILL},
                                "total": {"type": "integer"},
                                "page": {"type": "integer"},
                                "pages": {"type": "integer"},
                                "per_page": {"type": "integer"},
                                "payable_fen": {"type": "integer"},
                            },
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
