"""Votes over JSON (DESIGN.md §3): list, cast a ballot, the result after closing."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue

from portal.api import api_user, bp, json_body
from portal.api.openapi import PATHS
from portal.communities import service as communities
from portal.communities.models import Community, Unit
from portal.errors import Conflict, PermissionDenied
from portal.extensions import db
from portal.governance import service
from portal.governance.models import Vote, VoteStatus
from portal.publication.service import format_instant
from portal.timeutil import now_utc


def _member(community: Community) -> bool:
    user = api_user()
    if any(u.community_id == community.id for u in communities.units_of(db.session, user)):
        return True
    return (
        communities.get_scoped_community(
            db.session, user=user, code=community.code, roles=("manager", "committee", "cs")
        )
        is not None
    )


def vote_json(vote: Vote, *, closed: bool) -> dict[str, Any]:
    return {
        "id": vote.id,
        "title": vote.title,
        "matter": vote.matter,
        "kind": vote.kind,
        "status": VoteStatus.CLOSED if closed else vote.status,
        "opens_at": format_instant(vote.opens_at) if vote.opens_at else None,
        "closes_at": format_instant(vote.closes_at),
        "options": [{"code": o.code, "label": o.label} for o in vote.options],
    }


def _vote(vote_id: int) -> Vote:
    vote = db.session.get(Vote, vote_id)
    if vote is None or vote.status == VoteStatus.DRAFT:
        abort(404, description="表决不存在")
    community = db.session.get(Community, vote.community_id)
    if community is None or not _member(community):
        abort(404, description="表决不存在")
    return vote


@bp.route("/votes")
def vote_list_api() -> ResponseReturnValue:
    code = (request.args.get("community") or "").strip()
    if not code:
        abort(400, description="需要参数 community（小区编码）")
    community = communities.get_community(db.session, code)
    if community is None or not _member(community):
        abort(404, description="小区不存在")
    now = now_utc()
    votes = service.list_votes(db.session, community=community)
    return jsonify(
        {
            "community": community.code,
            "votes": [vote_json(v, closed=service.is_closed(v, now)) for v in votes],
        }
    )


@bp.route("/votes/<int:vote_id>/ballots", methods=["POST"])
def ballot_create_api(vote_id: int) -> ResponseReturnValue:
    vote = _vote(vote_id)
    body = json_body()
    unit_code, option = body.get("unit"), body.get("option")
    if not isinstance(unit_code, str) or not isinstance(option, str):
        abort(422, description="需要 unit（房屋编码）和 option（选项编码）")
    now = now_utc()
    if service.is_closed(vote, now):
        raise Conflict("表决已截止或未开始，不能投票", code="vote_closed")
    community = db.session.get(Community, vote.community_id)
    unit: Unit | None = (
        communities.find_unit(db.session, community=community, code=unit_code)
        if community
        else None
    )
    if unit is None:
        raise PermissionDenied("您不是该房屋的业主，不能为其投票", code="not_eligible")
    ballot = service.cast_ballot(
        db.session, vote=vote, user=api_user(), unit_id=unit.id, option_code=option, now=now
    )
    receipt = ballot.receipt
    db.session.commit()
    return jsonify({"receipt": receipt, "unit": unit.code, "option": option}), 201


@bp.route("/votes/<int:vote_id>/result")
def vote_result_api(vote_id: int) -> ResponseReturnValue:
    vote = _vote(vote_id)
    result = service.published_result(db.session, vote=vote)
    if result is None:
        raise Conflict("表决截止后才公布结果", code="vote_open")
    return jsonify(result)


_VOTE_PARAM = {"name": "vote_id", "in": "path", "required": True, "schema": {"type": "integer"}}
PATHS["/votes"] = {
    "get": {
        "summary": "Owners' votes of a community (art. 278 ordinary or major)",
        "security": [{"bearer": []}],
        "parameters": [
            {"name": "community", "in": "query", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {
            "200": {
                "description": "{votes: [{id, title, kind, status, opens_at, closes_at, "
                "options: [{code, label}]}]}"
            },
            "404": {"description": "No such community, or not yours"},
        },
    }
}
PATHS["/votes/{vote_id}/ballots"] = {
    "post": {
        "summary": "Cast (or replace) the ballot of one of your units: {unit, option}",
        "security": [{"bearer": []}],
        "parameters": [_VOTE_PARAM],
        "responses": {
            "201": {"description": "{receipt}: keep it to verify the published tally"},
            "403": {"description": "Not an owner of an eligible unit (not_eligible)"},
            "409": {"description": "The vote is closed (vote_closed)"},
            "422": {"description": "Unknown option"},
        },
    }
}
PATHS["/votes/{vote_id}/result"] = {
    "get": {
        "summary": "The published tally after closing: valid, passed, both ratios, options",
        "security": [{"bearer": []}],
        "parameters": [_VOTE_PARAM],
        "responses": {
            "200": {
                "description": "{valid, passed, area_participation, "
                "headcount_participation, options: [{code, units, area_m2}]}"
            },
            "409": {"description": "Not closed yet"},
        },
    }
}
