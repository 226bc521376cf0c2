"""The public statistics API: collection rates (billing, k-anonymous) and dispute figures.

It lives in reports, above every domain it reads, so the KPIs of tickets, feedback and
collections can join it without any domain asking upwards.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, g, jsonify
from flask.typing import ResponseReturnValue

from portal import pagecache
from portal.api import bp
from portal.api.openapi import PATHS, SCHEMAS
from portal.communities import service as communities
from portal.disputes import overview as disputes_overview
from portal.extensions import db
from portal.security import public
from portal.timeutil import local_today, zone
from portal.transparency import queries


@bp.route("/communities/<code>/stats")
@public
def community_stats(code: str) -> ResponseReturnValue:
    community = communities.visible_community(db.session, code=code, user=g.get("api_user"))
    if community is None:
        abort(404, description="小区不存在")
    today = local_today(zone(community.timezone))
    return pagecache.cached_response(
        db.session,
        community_id=community.id,
        parts=("api-stats", today),
        render=lambda: _stats_body(community, today),
        html=False,
    )


def _stats_body(community: Any, today: date) -> ResponseReturnValue:
    stats = queries.collection_stats(db.session, community_id=community.id)
    body: dict[str, Any] = {k: v for k, v in stats.items() if k not in ("community",)}
    body["community"] = community.code
    body["collection_rate_by_month"] = [
        {**row, "rate": queries.rate_number(row["rate"])}
        for row in stats["collection_rate_by_month"]
    ]
    body["by_building"] = [
        {**row, "rate": queries.rate_number(row["rate"])} for row in stats["by_building"]
    ]
    body["k_anonymity"] = queries.K_ANONYMITY
    body["as_of"] = date.isoformat(today)
    body["disputes"] = disputes_overview.dispute_stats(db.session, community_id=community.id)
    return jsonify(body)


_CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
_404 = {
    "description": "No such community, or owners-only and not yours",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

PATHS.update(
    {
        "/communities/{code}/stats": {
            "get": {
                "summary": "Collection rate by month and by building (k-anonymous, k = 5)",
                "security": [{}, {"bearer": []}],
                "parameters": [_CODE],
                "responses": {
                    "200": {
                        "description": "Statistics",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Stats"}}
                        },
                    },
                    "404": _404,
                },
            }
        },
    }
)

SCHEMAS.update(
    {
        "Stats": {
            "type": "object",
            "required": ["community", "collection_rate_by_month", "by_building"],
            "properties": {
                "community": {"type": "string"},
                "collection_rate_by_month": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["month", "billed_fen", "collected_fen", "rate"],
                        "properties": {
                            "month": {"type": "string"},
                            "billed_fen": {"type": "integer"},
                            "collected_fen": {"type": "integer"},
                            "rate": {"type": ["number", "null"]},
                        },
                    },
                },
                "by_building": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["building", "units", "rate"],
                        "properties": {
                            "building": {"type": "string"},
                            "units": {"type": "integer"},
                            "rate": {
                                "type": ["number", "null"],
                                "description": "null when fewer than 5 units",
                            },
                        },
                    },
                },
            },
        },
    }
)
