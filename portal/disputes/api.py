"""Dispute API: list own (or, for staff, a community's), create, one dispute with its timeline;
accepting or rejecting a proposal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue

from portal.accounts.models import User
from portal.api import api_user, bp, json_body
from portal.api.openapi import PATHS, SCHEMAS
from portal.communities import service as communities
from portal.disputes import base, decisions, intake, overview
from portal.disputes.models import Dispute, DisputeEvent, ProposalStatus
from portal.errors import DomainError
from portal.extensions import db
from portal.pagination import MAX_PER_PAGE, OPENAPI_PAGE_PARAMS, page_meta
from portal.timeutil import local_today, now_utc, zone

CREATE_FIELDS = ("target_type", "target_id", "reason", "statement", "requested_amount_fen")


def _instant(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _event_json(event: DisputeEvent, viewer: User) -> dict[str, Any]:
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
    }


def dispute_json(
    dispute: Dispute,
    viewer: User,
    *,
    for_owner: bool,
    detail: bool = True,
    label: str | None = None,
) -> dict[str, Any]:
    """The contract's dispute shape plus timings, the offered proposal and the timeline."""
    if label is None:
        label = intake.target_labels(db.session, [dispute]).get(dispute.id)
    body: dict[str, Any] = {
        "id": dispute.id,
        "reference": dispute.reference,
        "community": dispute.community.code,
        "unit": dispute.unit.code,
        "status": dispute.status,
        "target_type": dispute.target_type,
        "target_id": dispute.target_id,
        "target": label,
        "reason": dispute.reason,
        "statement": dispute.statement,
        "requested_outcome": dispute.requested_outcome,
        "requested_amount_fen": dispute.requested_amount_fen,
        "outcome": dispute.outcome,
        "credited_fen": dispute.credited_fen,
        "escalated_to": dispute.escalated_to,
        "created_at": _instant(dispute.created_at),
        "first_response_due_on": dispute.first_response_due_on.isoformat(),
        "proposal_due_on": dispute.proposal_due_on.isoformat(),
        "first_response_at": _instant(dispute.first_response_at),
        "closed_at": _instant(dispute.closed_at),
    }
    if detail:
        proposals = [
            p
            for p in dispute.proposals
            if not for_owner
            or p.status not in (ProposalStatus.AWAITING_APPROVAL, ProposalStatus.DECLINED)
        ]
        body["proposals"] = [
            {
                "id": p.id,
                "kind": p.kind,
                "amount_fen": p.amount_fen,
                "body": p.body,
                "status": p.status,
                "created_at": _instant(p.created_at),
            }
            for p in proposals
        ]
        body["events"] = [
            _event_json(e, viewer) for e in intake.visible_events(dispute, for_owner=for_owner)
        ]
    return body


def _visible(user: User, dispute_id: int) -> tuple[Dispute, bool]:
    owned = intake.get_owned_dispute(db.session, owner=user, dispute_id=dispute_id)
    if owned is not None:
        return owned, True
    scoped = intake.get_scoped_dispute(db.session, staff=user, dispute_id=dispute_id)
    if scoped is None:
        abort(404, description="异议不存在")
    return scoped, False


@bp.route("/disputes", methods=["GET"])
def dispute_list() -> ResponseReturnValue:
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
        page = overview.queue(
            db.session,
            filters=overview.QueueFilters(
                community_ids=[community.id], status=request.args.get("status", "open")
            ),
            today=local_today(zone(community.timezone)),
            page=page_no,
            per_page=per_page,
        )
        rows, for_owner = page.disputes, False
        meta = {"total": page.total, "page": page.page, "pages": page.pages, "per_page": per_page}
    else:
        mine = intake.owner_disputes_page(db.session, owner=user, page=page_no, per_page=per_page)
        rows, for_owner, meta = mine.items, True, page_meta(mine)
    labels = intake.target_labels(db.session, rows)
    return jsonify(
        {
            "disputes": [
                dispute_json(d, user, for_owner=for_owner, detail=False, label=labels.get(d.id))
                for d in rows
            ],
            **meta,
        }
    )


@bp.route("/disputes", methods=["POST"])
def dispute_create() -> ResponseReturnValue:
    user = api_user()
    data = json_body()
    try:
        for name in ("target_type", "reason", "statement"):
            if not isinstance(data.get(name), str) or not data[name].strip():
                raise DomainError(f"缺少字段 {name}", field=name, code="required")
        outcome = data.get("requested_outcome")
        if outcome is not None and not isinstance(outcome, str):
            raise DomainError("requested_outcome 必须是字符串", field="requested_outcome")
        unit_id = data.get("unit_id")
        if unit_id is not None and (isinstance(unit_id, bool) or not isinstance(unit_id, int)):
            raise DomainError("unit_id 必须是整数", field="unit_id")
        dispute = intake.open_dispute(
            db.session,
            owner=user,
            target_type=data["target_type"],
            target_id=data.get("target_id"),
            reason=data["reason"],
            statement=data["statement"],
            requested_outcome=outcome,
            requested_amount_fen=data.get("requested_amount_fen"),
            unit_id=unit_id,
            now=now_utc(),
        )
    except DomainError as exc:
        db.session.rollback()
        if exc.field == "requested_amount":
            exc.field = "requested_amount_fen"
        raise
    db.session.commit()
    return jsonify(dispute_json(dispute, user, for_owner=True)), 201


@bp.route("/disputes/<int:dispute_id>", methods=["GET"])
def dispute_detail(dispute_id: int) -> ResponseReturnValue:
    user = api_user()
    dispute, as_owner = _visible(user, dispute_id)
    return jsonify(dispute_json(dispute, user, for_owner=as_owner))


def _owner_decision(dispute_id: int, accept: bool) -> ResponseReturnValue:
    user = api_user()
    dispute = intake.get_owned_dispute(db.session, owner=user, dispute_id=dispute_id)
    if dispute is None:
        abort(404, description="异议不存在")
    data = json_body()
    try:
        if accept:
            decisions.accept_proposal(
                db.session,
                dispute=dispute,
                owner=user,
                proposal_id=data.get("proposal_id"),
                now=now_utc(),
            )
        else:
            reason = data.get("reason")
            decisions.reject_proposal(
                db.session,
                dispute=dispute,
                owner=user,
                proposal_id=data.get("proposal_id"),
                reason=reason if isinstance(reason, str) else "",
                now=now_utc(),
            )
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    db.session.refresh(dispute)
    return jsonify(dispute_json(dispute, user, for_owner=True))


@bp.route("/disputes/<int:dispute_id>/accept", methods=["POST"])
def dispute_accept(dispute_id: int) -> ResponseReturnValue:
    return _owner_decision(dispute_id, accept=True)


@bp.route("/disputes/<int:dispute_id>/reject", methods=["POST"])
def dispute_reject(dispute_id: int) -> ResponseReturnValue:
    return _owner_decision(dispute_id, accept=False)


# ---------------------------------------------------------------- OpenAPI

_ERROR = {"$ref": "#/components/schemas/Error"}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_ID = {"name": "dispute_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_TARGET_TYPES = ["bill_line", "spending", "fee_standard", "service"]

PATHS["/disputes"] = {
    "get": {
        "summary": "My disputes (or, for staff and the committee, ?community=CODE: that "
        "community's, by status)",
        "parameters": [
            {"name": "community", "in": "query", "schema": {"type": "string"}},
            {
                "name": "status",
                "in": "query",
                "schema": {"type": "string", "default": "open"},
                "description": "open | closed | all | submitted | acknowledged | under_review "
                "| proposed | rejected | escalated",
            },
            *OPENAPI_PAGE_PARAMS,
        ],
        "responses": {
            "200": _ok("Disputes (without timeline)", "DisputeList"),
            "401": _err("No or expired token"),
            "404": _err("Not staff of that community"),
        },
    },
    "post": {
        "summary": "Dispute a bill line, a published spending item, a fee standard or the "
        "service (target_id: a ticket, or null)",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/DisputeCreate"}}
            },
        },
        "responses": {
            "201": _ok("Created", "Dispute"),
            "400": _err("Body is not a JSON object"),
            "401": _err("No or expired token"),
            "403": _err("Not an owner"),
            "404": _err("Target not found: another owner's bill, unknown or unpublished record"),
            "409": _err("An open dispute on this target already exists"),
            "422": _err("Invalid field (reason, statement, amount above the disputed amount…)"),
        },
    },
}
PATHS["/disputes/{dispute_id}"] = {
    "get": {
        "summary": "One dispute with its proposals and timeline (owners do not see internal "
        "notes or proposals awaiting approval)",
        "parameters": [_ID],
        "responses": {
            "200": _ok("Dispute", "Dispute"),
            "401": _err("No or expired token"),
            "404": _err("Not yours / not found"),
        },
    }
}
_DECISION = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["proposal_id"],
                "properties": {
                    "proposal_id": {"type": "integer"},
                    "reason": {"type": "string", "description": "required when rejecting"},
                },
            }
        }
    },
}
for _action, _summary in (
    ("accept", "Accept the offered proposal: credits are posted and the dispute closes"),
    ("reject", "Reject the offered proposal, saying why (the owner may then escalate)"),
):
    PATHS[f"/disputes/{{dispute_id}}/{_action}"] = {
        "post": {
            "summary": _summary,
            "parameters": [_ID],
            "requestBody": _DECISION,
            "responses": {
                "200": _ok("The dispute after the decision", "Dispute"),
                "401": _err("No or expired token"),
                "404": _err("Not yours, or no such proposal"),
                "409": _err("The proposal is no longer on offer"),
                "422": _err("Missing reason"),
            },
        }
    }

_FIELDS: dict[str, Any] = {
    "target_type": {"type": "string", "enum": _TARGET_TYPES},
    "target_id": {"type": ["integer", "null"]},
    "reason": {
        "type": "string",
        "description": "bill_line: wrong_area, wrong_rate, service_not_provided, "
        "duplicate_charge, late_fee, other; spending: amount_questioned, purpose_questioned, "
        "evidence_missing, other; fee_standard: rate_unreasonable, not_announced, basis_wrong, "
        "other; service: service_quality, repair_unresolved, staff_conduct, security_cleaning, "
        "other",
    },
    "statement": {"type": "string", "minLength": 5, "maxLength": 4000},
    "requested_amount_fen": {"type": ["integer", "null"], "minimum": 1},
}
SCHEMAS["DisputeCreate"] = {
    "type": "object",
    "required": ["target_type", "reason", "statement"],
    "properties": {
        **_FIELDS,
        "requested_outcome": {
            "type": "string",
            "enum": ["credit", "correction", "explanation"],
            "description": "default: credit when an amount is given, else explanation",
        },
        "unit_id": {"type": "integer", "description": "which of my units (records only)"},
    },
}
SCHEMAS["Dispute"] = {
    "type": "object",
    "required": [
        "id",
        "status",
        "target_type",
        "target_id",
        "reason",
        "statement",
        "requested_amount_fen",
    ],
    "properties": {
        "id": {"type": "integer"},
        "reference": {"type": "string"},
        "status": {
            "type": "string",
            "enum": [
                "submitted",
                "acknowledged",
                "under_review",
                "proposed",
                "rejected",
                "escalated",
                "closed",
            ],
        },
        **_FIELDS,
        "requested_outcome": {"type": "string"},
        "outcome": {
            "type": ["string", "null"],
            "enum": ["upheld", "partly_upheld", "explained", "not_upheld", "withdrawn", None],
        },
        "credited_fen": {"type": "integer"},
        "first_response_due_on": {"type": "string", "format": "date"},
        "proposal_due_on": {"type": "string", "format": "date"},
        "proposals": {"type": "array", "items": {"type": "object"}},
        "events": {"type": "array", "items": {"type": "object"}},
    },
}
SCHEMAS["DisputeList"] = {
    "type": "object",
    "required": ["disputes"],
    "properties": {
        "disputes": {"type": "array", "items": {"$ref": "#/components/schemas/Dispute"}}
    },
}
