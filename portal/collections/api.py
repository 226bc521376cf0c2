"""Collections API (DESIGN.md §3): cases, contacts, escalation, plans; the owner accepts a plan.
Collectors and managers of the community only; anyone else 403."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.accounts.models import User
from portal.api import api_user, bp, json_body
from portal.api.openapi import PATHS, SCHEMAS
from portal.collections import aging, cases, plans
from portal.collections.models import (
    CollectionCase,
    CollectionContact,
    CollectionTask,
    TaskStatus,
)
from portal.communities import service as communities
from portal.errors import DomainError
from portal.extensions import db
from portal.feedback.profile import SatisfactionProfile, satisfaction_profile
from portal.timeutil import check_date, now_utc, parse_instant


def _instant(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def case_json(
    case: CollectionCase,
    *,
    day: date,
    detail: bool = False,
    profile: SatisfactionProfile | None = None,
) -> dict[str, Any]:
    """The contract's case shape (plus contacts, tasks and plan in detail); a list passes the
    profiles it read for all its cases at once."""
    if profile is None:
        profile = satisfaction_profile(db.session, unit_id=case.unit_id, now=now_utc())
    days = (day - case.oldest_due_date).days if case.oldest_due_date else None
    body: dict[str, Any] = {
        "id": case.id,
        "community": case.community.code,
        "unit": case.unit.code,
        "status": case.status,
        "tier": case.tier,
        "overdue_fen": case.overdue_fen,
        "held_fen": case.held_fen,
        "oldest_due_date": case.oldest_due_date.isoformat() if case.oldest_due_date else None,
        "days_overdue": days if case.status != "closed" else None,
        "bucket": aging.bucket_of(days) if case.status != "closed" else None,
        "reason": case.reason,
        "reason_note": case.reason_note or None,
        "suggested_reason": case.suggested_reason,
        "evidence": list(case.evidence or []),
        "next_action": cases.next_action(db.session, case=case, day=day),
        "near_limitation": bool(case.near_limitation),
        "pause_reason": case.pause_reason,
        "promised_on": case.promised_on.isoformat() if case.promised_on else None,
        # The feedback domain's satisfaction profile: score, inputs, evidence, trend.
        "satisfaction": profile.as_json(),
        "opened_on": case.opened_on.isoformat(),
        "closed_on": case.closed_on.isoformat() if case.closed_on else None,
        "close_outcome": case.close_outcome or None,
    }
    if detail:
        contacts = db.session.scalars(
            select(CollectionContact)
            .where(CollectionContact.case_id == case.id)
            .order_by(CollectionContact.at.desc())
        ).all()
        body["contacts"] = [contact_json(c) for c in contacts]
        tasks = db.session.scalars(
            select(CollectionTask)
            .where(CollectionTask.case_id == case.id)
            .order_by(CollectionTask.id.desc())
        ).all()
        body["tasks"] = [
            {
                "id": t.id,
                "kind": t.kind,
                "tier": t.tier,
                "status": t.status,
                "title": t.title,
                "problems": t.problems,
                "due_on": t.due_on.isoformat() if t.due_on else None,
                "needs_approval": t.status == TaskStatus.PROPOSED,
            }
            for t in tasks
        ]
        plan = cases.current_plan(db.session, case_id=case.id)
        body["plan"] = plans.plan_json(plan) if plan else None
    return body


def contact_json(c: CollectionContact) -> dict[str, Any]:
    return {
        "id": c.id,
        "channel": c.channel,
        "tier": c.tier,
        "at": _instant(c.at),
        "staff": c.staff.display_name if c.staff else None,
        "second_staff": c.second_staff.display_name if c.second_staff else None,
        "outcome": c.outcome,
        "promised_on": c.promised_on.isoformat() if c.promised_on else None,
        "refusal_reason": c.refusal_reason or None,
        "proof": c.mail_number or (f"file:{c.proof_file_id}" if c.proof_file_id else None),
        "notice_delivered": c.notice_delivered,
        "flagged": c.flagged,
        "flag_reason": c.flag_reason,
        "note": c.note,
    }


def _require_worker(user: User) -> None:
    if not user.has_role(*cases.READ_ROLES):
        abort(403, description="只有催缴人员和管理处负责人可以查看催缴案件")


def _scoped(user: User, case_id: int) -> CollectionCase:
    _require_worker(user)
    case = cases.get_scoped_case(db.session, staff=user, case_id=case_id)
    if case is None:
        abort(404, description="案件不存在")
    return case


@bp.route("/collections/cases", methods=["GET"])
def collection_cases() -> ResponseReturnValue:
    user = api_user()
    _require_worker(user)
    code = request.args.get("community", "")
    community = communities.get_scoped_community(
        db.session, user=user, code=code, roles=tuple(str(r) for r in cases.READ_ROLES)
    )
    if community is None:
        abort(403, description="不是该小区的催缴人员或负责人")
    status = request.args.get("status", "open")
    if status not in ("open", "closed", "all", "paused", "active"):
        abort(422, description="status 只能是 open、closed 或 all")
    dissatisfied = request.args.get("dissatisfied", "0").lower()
    dissatisfied = {"true": "1", "false": "0"}.get(dissatisfied, dissatisfied)
    if dissatisfied not in ("0", "1"):
        abort(422, description="dissatisfied 只能是 1 或 0")
    day = cases.today_of(community, now_utc())
    page = cases.list_cases(
        db.session,
        filters=cases.CaseFilters(
            community_ids={community.id},
            status="active" if status == "open" else status,
            tier=request.args.get("tier") or None,
            reason=request.args.get("reason") or None,
            dissatisfied=dissatisfied == "1",
        ),
        day=day,
        page=request.args.get("page", 1, type=int),
        per_page=min(200, max(1, request.args.get("per_page", 100, type=int))),
        now=now_utc(),
    )
    return jsonify(
        {
            "cases": [
                case_json(c, day=day, profile=page.profiles.get(c.unit_id)) for c in page.cases
            ],
            "page": page.page,
            "pages": page.pages,
            "total": page.total,
        }
    )


@bp.route("/collections/cases/<int:case_id>", methods=["GET"])
def collection_case(case_id: int) -> ResponseReturnValue:
    case = _scoped(api_user(), case_id)
    return jsonify(case_json(case, day=cases.today_of(case.community, now_utc()), detail=True))


@bp.route("/collections/cases/<int:case_id>/contacts", methods=["POST"])
def collection_contact(case_id: int) -> ResponseReturnValue:
    user = api_user()
    case = _scoped(user, case_id)
    data = json_body()
    now = now_utc()
    try:
        for name in ("channel", "outcome"):
            if not isinstance(data.get(name), str):
                raise DomainError(f"缺少字段 {name}", field=name, code="required")
        at = now
        if data.get("at"):
            try:
                at = parse_instant(str(data["at"]))
            except ValueError as exc:
                raise DomainError("at 须为带时区的 ISO-8601 时间", field="at") from exc
            check_date(at, field="at")
        promised = None
        if data.get("promised_on"):
            try:
                promised = date.fromisoformat(str(data["promised_on"]))
            except ValueError as exc:
                raise DomainError("promised_on 须为 YYYY-MM-DD", field="promised_on") from exc
            check_date(promised, field="promised_on")
        proof = data.get("proof") or ""
        if not isinstance(proof, str):
            raise DomainError("proof 须为字符串（挂号信单号）", field="proof")
        second = data.get("second_staff_id")
        if second is not None and (isinstance(second, bool) or not isinstance(second, int)):
            raise DomainError("second_staff_id 须为整数", field="second_staff_id")
        contact = cases.log_contact(
            db.session,
            case=case,
            actor=user,
            channel=data["channel"],
            outcome=data["outcome"],
            at=at,
            now=now,
            planned=bool(data.get("planned", False)),
            promised_on=promised,
            refusal_reason=str(data.get("refusal_reason") or ""),
            note=str(data.get("note") or ""),
            mail_number=proof,
            second_staff_id=second,
        )
    except DomainError as exc:
        db.session.rollback()
        if exc.field == "mail_number":
            exc.field = "proof"
        raise
    db.session.commit()
    return jsonify(contact_json(contact)), 201


@bp.route("/collections/cases/<int:case_id>/escalate", methods=["POST"])
def collection_escalate(case_id: int) -> ResponseReturnValue:
    user = api_user()
    case = _scoped(user, case_id)
    data = json_body()
    try:
        cases.escalate_case(
            db.session,
            case=case,
            actor=user,
            tier=str(data.get("tier") or ""),
            now=now_utc(),
            note=str(data.get("note") or ""),
        )
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    db.session.refresh(case)
    return jsonify(case_json(case, day=cases.today_of(case.community, now_utc()), detail=True))


@bp.route("/collections/cases/<int:case_id>/plan", methods=["POST"])
def collection_plan(case_id: int) -> ResponseReturnValue:
    user = api_user()
    case = _scoped(user, case_id)
    data = json_body()
    try:
        plan = plans.propose_plan(
            db.session,
            case=case,
            actor=user,
            instalments=data.get("instalments") or [],
            down_payment_fen=data.get("down_payment_fen", 0),
            total_fen=data.get("total_fen"),
            note=str(data.get("note") or ""),
            now=now_utc(),
        )
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    db.session.refresh(plan)
    return jsonify(plans.plan_json(plan)), 201


@bp.route("/me/plans", methods=["GET"])
def my_plans() -> ResponseReturnValue:
    user = api_user()
    return jsonify(
        {"plans": [plans.plan_json(p) for p in plans.owner_plans(db.session, owner=user)]}
    )


@bp.route("/me/plans/<int:plan_id>/accept", methods=["POST"])
def my_plan_accept(plan_id: int) -> ResponseReturnValue:
    user = api_user()
    plan = plans.get_owned_plan(db.session, owner=user, plan_id=plan_id)
    if plan is None:
        abort(404, description="分期计划不存在")
    try:
        plans.accept_plan(db.session, plan=plan, owner=user, now=now_utc())
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    db.session.refresh(plan)
    return jsonify(plans.plan_json(plan))


# ---------------------------------------------------------------- OpenAPI

_ERR = {"$ref": "#/components/schemas/Error"}


def _err(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": _ERR}}}


def _ok(text: str, schema: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_CASE_ID = [{"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}]

PATHS["/collections/cases"] = {
    "get": {
        "summary": "Arrears cases of a community (collector or manager of it)",
        "parameters": [
            {"name": "community", "in": "query", "required": True, "schema": {"type": "string"}},
            {
                "name": "status",
                "in": "query",
                "schema": {"type": "string", "enum": ["open", "closed", "all"]},
            },
            {"name": "tier", "in": "query", "schema": {"type": "string"}},
            {"name": "reason", "in": "query", "schema": {"type": "string"}},
            {
                "name": "dissatisfied",
                "in": "query",
                "description": "1: only owners in arrears and dissatisfied (satisfaction score "
                "< 60 or an open complaint)",
                "schema": {"type": "string", "enum": ["0", "1", "true", "false"]},
            },
        ],
        "responses": {"200": _ok("Cases", "CaseList"), "403": _err("Not collections staff")},
    }
}
STAFF_ONLY = "Not collections staff"
PATHS["/collections/cases/{case_id}"] = {
    "get": {
        "summary": "One case with contacts, tasks and plan",
        "parameters": _CASE_ID,
        "responses": {
            "200": _ok("Case", "Case"),
            "403": _err(STAFF_ONLY),
            "404": _err("No such case in your scope"),
        },
    }
}
PATHS["/collections/cases/{case_id}/contacts"] = {
    "post": {
        "summary": "Log a contact attempt (contact rules apply: quiet hours, caps)",
        "parameters": _CASE_ID,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["channel", "outcome"],
                        "properties": {
                            "channel": {
                                "type": "string",
                                "enum": ["sms", "wechat", "phone", "letter", "posted", "visit"],
                            },
                            "outcome": {"type": "string"},
                            "at": {"type": "string", "format": "date-time"},
                            "proof": {"type": "string"},
                            "promised_on": {"type": "string", "format": "date"},
                            "note": {"type": "string"},
                            "planned": {"type": "boolean"},
                            "second_staff_id": {"type": "integer"},
                            "refusal_reason": {"type": "string"},
                        },
                    }
                }
            },
        },
        "responses": {
            "201": {"description": "Logged"},
            "403": _err(STAFF_ONLY),
            "422": _err("Refused"),
        },
    }
}
PATHS["/collections/cases/{case_id}/escalate"] = {
    "post": {
        "summary": "Move the case one tier up (a person's decision)",
        "parameters": _CASE_ID,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["tier"],
                        "properties": {
                            "tier": {"type": "string", "enum": ["L2", "L3", "L4"]},
                            "note": {"type": "string", "description": "why, for the log"},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": _ok("Escalated", "Case"),
            "403": _err(STAFF_ONLY),
            "409": _err(
                "tier_skipped, needs_approval, dispute_open, service_recovery_pending or paused"
            ),
        },
    }
}
PATHS["/collections/cases/{case_id}/plan"] = {
    "post": {
        "summary": "Propose a payment plan (instalments add up, dates ascending)",
        "parameters": _CASE_ID,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["instalments"],
                        "properties": {
                            "instalments": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "due_on": {"type": "string", "format": "date"},
                                        "amount_fen": {"type": "integer"},
                                    },
                                },
                            },
                            "down_payment_fen": {"type": "integer"},
                            "total_fen": {"type": "integer"},
                        },
                    }
                }
            },
        },
        "responses": {
            "201": _ok("Proposed", "Plan"),
            "403": _err(STAFF_ONLY),
            "422": _err("Does not add up"),
        },
    }
}
PATHS["/me/plans"] = {
    "get": {
        "summary": "The owner's payment plans (proposed ones wait for acceptance)",
        "responses": {"200": {"description": "Plans"}},
    }
}
PATHS["/me/plans/{plan_id}/accept"] = {
    "post": {
        "summary": "The owner accepts a proposed payment plan",
        "parameters": [
            {"name": "plan_id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "responses": {"200": _ok("Accepted", "Plan"), "404": _err("Not your plan")},
    }
}
SCHEMAS["Plan"] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string"},
        "total_fen": {"type": "integer"},
        "down_payment_fen": {"type": "integer"},
        "instalments": {"type": "array", "items": {"type": "object"}},
    },
}
SCHEMAS["Case"] = {
    "type": "object",
    "required": [
        "id",
        "unit",
        "status",
        "tier",
        "overdue_fen",
        "held_fen",
        "oldest_due_date",
        "days_overdue",
        "bucket",
        "reason",
        "suggested_reason",
        "evidence",
        "next_action",
        "near_limitation",
        "satisfaction",
    ],
    "properties": {
        "id": {"type": "integer"},
        "unit": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "paused", "closed"]},
        "tier": {"type": "string", "enum": ["none", "L1", "L2", "L3", "L4"]},
        "overdue_fen": {"type": "integer"},
        "held_fen": {"type": "integer"},
        "oldest_due_date": {"type": "string", "format": "date", "nullable": True},
        "days_overdue": {"type": "integer", "nullable": True},
        "bucket": {"type": "string", "nullable": True},
        "reason": {"type": "string", "nullable": True},
        "suggested_reason": {"type": "string", "nullable": True},
        "evidence": {"type": "array", "items": {"type": "object"}},
        "next_action": {"type": "object"},
        "near_limitation": {"type": "boolean"},
        "satisfaction": {"type": "object", "nullable": True},
    },
}
SCHEMAS["CaseList"] = {
    "type": "object",
    "properties": {"cases": {"type": "array", "items": {"$ref": "#/components/schemas/Case"}}},
}
