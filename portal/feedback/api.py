"""Survey API (DESIGN.md §3): the open surveys an owner may answer, and answering one."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue

from portal.accounts.models import User
from portal.api import api_user, bp, json_body
from portal.api.openapi import PATHS, SCHEMAS
from portal.communities import service as communities
from portal.communities.models import Unit
from portal.errors import DomainError, NotFound
from portal.extensions import db
from portal.feedback import surveys
from portal.timeutil import now_utc


def _instant(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


@bp.route("/surveys", methods=["GET"])
def survey_list() -> ResponseReturnValue:
    user = api_user()
    code = (request.args.get("community") or "").strip().upper()
    rows = surveys.owner_surveys(db.session, owner=user, now=now_utc())
    if code:
        rows = [o for o in rows if o.survey.community.code == code]
    seen: dict[int, dict[str, Any]] = {}
    for o in rows:
        entry = seen.setdefault(
            o.survey.id,
            {
                "id": o.survey.id,
                "title": o.survey.title,
                "community": o.survey.community.code,
                "kind": o.survey.kind,
                "closes_at": _instant(o.survey.closes_at),
                "questions": [
                    {
                        "code": q.code,
                        "text": q.text,
                        "kind": q.kind,
                        "dimension": q.dimension or None,
                        "options": q.options or None,
                        "required": q.required,
                    }
                    for q in o.survey.questions
                ],
                "units": [],
            },
        )
        entry["units"].append({"unit": o.unit.code, "answered": o.answered})
    return jsonify({"surveys": list(seen.values())})


def _unit_for(user: User, value: Any) -> Unit:
    for unit in communities.units_of(db.session, user):
        if value in (unit.id, unit.code) or (isinstance(value, str) and value.upper() == unit.code):
            return unit
    raise NotFound("unit 必须是您名下的房号", code="not_found")


@bp.route("/surveys/<int:survey_id>/responses", methods=["POST"])
def survey_respond(survey_id: int) -> ResponseReturnValue:
    user = api_user()
    data = json_body()
    if surveys.load_survey(db.session, survey_id) is None:
        abort(404)
    try:
        answers = data.get("answers")
        if not isinstance(answers, dict):
            raise DomainError("answers 必须是对象 {题目代码: 答案}", field="answers")
        comment = data.get("comment") or ""
        if not isinstance(comment, str):
            raise DomainError("comment 必须是字符串", field="comment")
        unit = _unit_for(user, data.get("unit"))
        response = surveys.submit_response(
            db.session,
            survey_id=survey_id,
            owner=user,
            unit_id=unit.id,
            answers=answers,
            comment=comment,
            now=now_utc(),
        )
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    return jsonify(
        {
            "id": response.id,
            "survey": survey_id,
            "unit": unit.code,
            "created_at": _instant(response.created_at),
        }
    ), 201


_ERROR = {"$ref": "#/components/schemas/Error"}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


PATHS["/surveys"] = {
    "get": {
        "summary": "Open surveys the owner may answer (per unit, with whether it answered)",
        "parameters": [{"name": "community", "in": "query", "schema": {"type": "string"}}],
        "responses": {
            "200": {
                "description": "Surveys",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/SurveyList"}}
                },
            },
            "401": _err("No or expired token"),
        },
    }
}
PATHS["/surveys/{survey_id}/responses"] = {
    "post": {
        "summary": "Answer a survey for one of your units, once",
        "parameters": [
            {"name": "survey_id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/SurveyResponseCreate"}
                }
            },
        },
        "responses": {
            "201": {"description": "Recorded"},
            "400": _err("Body is not a JSON object"),
            "401": _err("No or expired token"),
            "403": _err("The survey does not include your building"),
            "404": _err("No such survey, or not your unit"),
            "409": _err("This unit already answered, or the survey is closed"),
            "422": _err("A score out of 1-5, a missing answer, an unknown question"),
        },
    }
}
SCHEMAS["SurveyList"] = {
    "type": "object",
    "properties": {
        "surveys": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "title": {"type": "string"},
                    "closes_at": {"type": "string", "format": "date-time"},
                    "questions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"code": {"type": "string"}, "text": {"type": "string"}},
                        },
                    },
                },
            },
        }
    },
}
SCHEMAS["SurveyResponseCreate"] = {
    "type": "object",
    "required": ["unit", "answers"],
    "properties": {
        "unit": {"type": "string", "description": "Your unit's code"},
        "answers": {
            "type": "object",
            "additionalProperties": {},
            "description": "question code → 1-5 (rating), an option (choice) or text",
        },
        "comment": {"type": "string"},
    },
}
