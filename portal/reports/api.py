"""The public statistics API: collection rates (billing, k-anonymous) and dispute figures.

It lives in reports, above every domain it reads, so the KPIs of tickets, feedback and
collections can join it without any domain asking upwards.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import abort, g, jsonify
from flask.typing import ResponseReturnValue

from portal import pagecache
from portal.api import bp
from portal.api.openapi import PATHS, SCHEMAS
from portal.communities import service as communities
from portal.communities.models import Community
from portal.disputes import overview as disputes_overview
from portal.extensions import db
from portal.reports import dashboard, kpis
from portal.security import public
from portal.tickets.stats import json_number
from portal.timeutil import local_today, now_utc, zone
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
    body["kpis"] = public_kpis(community)
    return jsonify(body)


def _rate(value: Decimal | None) -> Any:
    return None if value is None else json_number(value)


def public_kpis(community: Community) -> dict[str, Any]:
    """The KPIs as owners may see them: community aggregates by month, each with its
    definition; per building only for buildings of at least 5 units (k-anonymity), and no
    arrears below community level."""
    board = dashboard.cached(db.session, communities=[community], now=now_utc(), public=True)
    months = [
        {
            "month": r.month,
            "in_progress": r.in_progress,
            "collection_rate": _rate(r.collection_rate),
            "arrears_recovery_rate": _rate(r.arrears_recovery_rate),
            "complaint_rate": _rate(r.complaint_rate),
            "satisfaction": _rate(r.satisfaction),
            "satisfaction_responses": r.responses,
            "sla_compliance": _rate(r.sla_compliance),
            "online_payment_share": _rate(r.online_payment_share),
            "dispute_median_days": _rate(r.dispute_median_days),
        }
        for r in board.months
    ]
    buildings = [
        {
            "building": b.building,
            "units": b.units,
            "collection_rate": _rate(b.collection_rate) if b.units >= kpis.K else None,
            "satisfaction": _rate(b.satisfaction) if b.units >= kpis.K else None,
            "complaint_rate": _rate(b.complaint_rate) if b.units >= kpis.K else None,
        }
        for b in board.buildings
    ]
    return {
        "definitions": [d.as_json() for d in kpis.DEFINITIONS],
        "by_month": months,
        "arrears_by_aging": [
            {"bucket": name, "units": cell["units"], "amount_fen": cell["amount_fen"]}
            for name, cell in board.aging.items()
        ],
        "digital_reach": _rate(board.reach_rate),
        "by_building": buildings,
    }


_CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
_404 = {
    "description": "No such community, or owners-only and not yours",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

PATHS.update(
    {
        "/communities/{code}/stats": {
            "get": {
                "summary": "Collection rate by month and by building, and the KPIs with their "
                "definitions (k-anonymous, k = 5)",
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
                            "in_progress": {
                                "type": "boolean",
                                "description": "a bill of the month is not yet due: the rate "
                                "is still climbing",
                            },
                        },
                    },
                },
                "kpis": {"$ref": "#/components/schemas/Kpis"},
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

_RATE = {"type": ["number", "null"], "description": "fraction 0-1; null when no denominator"}
SCHEMAS.update(
    {
        "KpiDefinition": {
            "type": "object",
            "required": ["key", "name", "formula", "period", "exclusions", "unit"],
            "properties": {
                "key": {"type": "string"},
                "name": {"type": "string"},
                "formula": {"type": "string"},
                "period": {"type": "string"},
                "exclusions": {"type": "string"},
                "unit": {"type": "string", "enum": ["rate", "score", "days", "fen", "count"]},
                "target": {"type": ["number", "null"]},
                "target_op": {"type": ["string", "null"], "enum": ["<", ">", None]},
            },
        },
        "Kpis": {
            "type": "object",
            "description": "Community aggregates only; per building only with at least 5 units",
            "required": ["definitions", "by_month", "arrears_by_aging", "by_building"],
            "properties": {
                "definitions": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/KpiDefinition"},
                },
                "by_month": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["month", "in_progress", "collection_rate"],
                        "properties": {
                            "month": {"type": "string", "example": "2026-11"},
                            "in_progress": {"type": "boolean"},
                            "collection_rate": _RATE,
                            "arrears_recovery_rate": _RATE,
                            "complaint_rate": _RATE,
                            "satisfaction": {
                                "type": ["number", "null"],
                                "description": "0-100; null below 5 responses",
                            },
                            "satisfaction_responses": {"type": "integer"},
                            "sla_compliance": _RATE,
                            "online_payment_share": _RATE,
                            "dispute_median_days": {"type": ["number", "null"]},
                        },
                    },
                },
                "arrears_by_aging": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["bucket", "units", "amount_fen"],
                        "properties": {
                            "bucket": {"type": "string", "example": "31-60"},
                            "units": {"type": "integer"},
                            "amount_fen": {"type": "integer"},
                        },
                    },
                },
                "digital_reach": _RATE,
                "by_building": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["building", "units"],
                        "properties": {
                            "building": {"type": "string"},
                            "units": {"type": "integer"},
                            "collection_rate": _RATE,
                            "satisfaction": {"type": ["number", "null"]},
                            "complaint_rate": _RATE,
                        },
                    },
                },
            },
        },
    }
)
