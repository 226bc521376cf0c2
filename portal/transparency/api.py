"""Public JSON API: communities, spending and the publication log (statistics: reports/api.py).

These endpoints need no token for a public community; an owners-only community answers only
a token of one of its members or staff (anyone else gets 404, as if it did not exist).
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from portal import pagecache
from portal.api import bp
from portal.api.openapi import PATHS, SCHEMAS
from portal.communities import service as communities
from portal.communities.models import Community
from portal.extensions import db
from portal.publication import service as publication
from portal.security import public
from portal.timeutil import local_today, zone
from portal.transparency import summary


def _visible(code: str) -> Community:
    community = communities.visible_community(db.session, code=code, user=g.get("api_user"))
    if community is None:
        abort(404, description="小区不存在")
    return community


def profile(community: Community) -> dict[str, Any]:
    """A community's public profile as served by the API."""
    counts = communities.community_counts(db.session, community)
    return {
        "code": community.code,
        "name": community.name,
        "city": community.city,
        "address": community.address,
        "fee_regime": community.fee_regime,
        "commission_rate": (
            None if community.commission_rate is None else str(community.commission_rate)
        ),
        "hotline": community.hotline,
        "is_public": community.is_public,
        "description": community.description,
        "timezone": community.timezone,
        "billing_cycle": community.billing_cycle,
        "notice_period_days": community.notice_period_days,
        "buildings": counts["buildings"],
        "units": counts["units"],
        "links": {
            "page": url_for("communities.community_public", code=community.code, _external=True),
            "spending": url_for("api.community_spending", code=community.code, _external=True),
            "publication_log": url_for(
                "api.community_publication_log", code=community.code, _external=True
            ),
            "stats": url_for("api.community_stats", code=community.code, _external=True),
        },
    }


@bp.route("/communities")
@public
def community_list() -> ResponseReturnValue:
    user = g.get("api_user")
    shown = communities.list_communities(db.session, public_only=True)
    if user is not None:
        codes = {c.code for c in shown}
        for community in communities.list_communities(db.session, public_only=False):
            if community.code not in codes and communities.visible_community(
                db.session, code=community.code, user=user
            ):
                shown.append(community)
        shown.sort(key=lambda c: c.code)
    return jsonify({"communities": [profile(c) for c in shown]})


@bp.route("/communities/<code>")
@public
def community_detail(code: str) -> ResponseReturnValue:
    return jsonify(profile(_visible(code)))


@bp.route("/communities/<code>/spending")
@public
def community_spending(code: str) -> ResponseReturnValue:
    community = _visible(code)
    raw = request.args.get("year")
    if raw is None or raw == "":
        year = local_today(zone(community.timezone)).year
    elif raw.isdigit() and 2000 <= int(raw) <= 2100:
        year = int(raw)
    else:
        abort(400, description="year 须为 2000–2100 之间的年份")
    return pagecache.cached_response(
        db.session,
        community_id=community.id,
        parts=("api-spending", year, local_today(zone(community.timezone))),
        render=lambda: jsonify(
            summary.spending_document(db.session, community=community, year=year)
        ),
        html=False,
    )


@bp.route("/communities/<code>/publication-log")
@public
def community_publication_log(code: str) -> ResponseReturnValue:
    community = _visible(code)
    return jsonify(
        {"community": community.code, "entries": publication.entries(db.session, community)}
    )


# --- OpenAPI ----------------------------------------------------------------------------

_CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
_404 = {
    "description": "No such community, or owners-only and not yours",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_OPTIONAL_AUTH: list[dict[str, Any]] = [{}, {"bearer": []}]

PATHS.update(
    {
        "/communities": {
            "get": {
                "summary": "Public communities (and, with a token, owners-only ones you belong to)",
                "security": _OPTIONAL_AUTH,
                "responses": {"200": _ok("CommunityList", "Communities")},
            }
        },
        "/communities/{code}": {
            "get": {
                "summary": "A community's public profile, fee regime and hotline",
                "security": _OPTIONAL_AUTH,
                "parameters": [_CODE],
                "responses": {"200": _ok("Community", "Profile"), "404": _404},
            }
        },
        "/communities/{code}/spending": {
            "get": {
                "summary": "Itemised published spending of a year, category totals and budgets",
                "security": _OPTIONAL_AUTH,
                "parameters": [
                    _CODE,
                    {
                        "name": "year",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 2000, "maximum": 2100},
                        "description": "Calendar year (default: the current one)",
                    },
                ],
                "responses": {
                    "200": _ok("Spending", "Spending"),
                    "400": _ok("Error", "Bad year"),
                    "404": _404,
                },
            }
        },
        "/communities/{code}/publication-log": {
            "get": {
                "summary": "The community's whole hash chain, for offline verification",
                "security": _OPTIONAL_AUTH,
                "parameters": [_CODE],
                "responses": {"200": _ok("PublicationLog", "The chain"), "404": _404},
            }
        },
    }
)

SCHEMAS.update(
    {
        "Community": {
            "type": "object",
            "required": ["code", "name", "fee_regime", "hotline", "is_public"],
            "properties": {
                "code": {"type": "string"},
                "name": {"type": "string"},
                "city": {"type": "string"},
                "address": {"type": "string"},
                "fee_regime": {"type": "string", "enum": ["lump_sum", "commission"]},
                "commission_rate": {"type": ["string", "null"], "description": "e.g. 0.1000"},
                "hotline": {"type": "string"},
                "is_public": {"type": "boolean"},
                "description": {"type": "string"},
                "notice_period_days": {"type": "integer"},
                "buildings": {"type": "integer"},
                "units": {"type": "integer"},
                "links": {"type": "object"},
            },
        },
        "CommunityList": {
            "type": "object",
            "required": ["communities"],
            "properties": {
                "communities": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/Community"},
                }
            },
        },
        "Spending": {
            "type": "object",
            "required": ["community", "year", "total_fen", "categories", "items"],
            "properties": {
                "community": {"type": "string"},
                "year": {"type": "integer"},
                "total_fen": {"type": "integer", "description": "latest versions only"},
                "budget_total_fen": {"type": ["integer", "null"]},
                "categories": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code", "name", "total_fen", "budget_fen"],
                        "properties": {
                            "code": {"type": "string"},
                            "name": {"type": "string"},
                            "total_fen": {"type": "integer"},
                            "budget_fen": {"type": ["integer", "null"]},
                            "children": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                },
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "id",
                            "date",
                            "category",
                            "amount_fen",
                            "vendor",
                            "description",
                            "seq",
                            "hash",
                            "superseded_by",
                        ],
                        "properties": {
                            "id": {"type": "integer"},
                            "date": {"type": "string", "format": "date"},
                            "category": {"type": "string"},
                            "category_name": {"type": "string"},
                            "top_category": {"type": "string"},
                            "amount_fen": {"type": "integer"},
                            "vendor": {"type": "string"},
                            "description": {"type": "string"},
                            "evidence": {"type": "array", "items": {"type": "string"}},
                            "supersedes": {"type": ["integer", "null"]},
                            "correction_reason": {"type": "string"},
                            "superseded_by": {"type": ["integer", "null"]},
                            "seq": {"type": ["integer", "null"]},
                            "hash": {"type": ["string", "null"]},
                        },
                    },
                },
            },
        },
        "PublicationLog": {
            "type": "object",
            "required": ["entries"],
            "properties": {
                "community": {"type": "string"},
                "entries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "seq",
                            "kind",
                            "record_id",
                            "published_at",
                            "payload",
                            "prev_hash",
                            "hash",
                        ],
                        "properties": {
                            "seq": {"type": "integer"},
                            "community": {"type": "string"},
                            "kind": {"type": "string"},
                            "record_id": {"type": "integer"},
                            "published_at": {"type": "string", "format": "date-time"},
                            "payload": {"type": "object"},
                            "prev_hash": {"type": "string"},
                            "hash": {"type": "string"},
                        },
                    },
                },
            },
        },
    }
)
