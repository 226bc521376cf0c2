"""GET /api/v1/notices?community=CODE — the published notices of a community."""

from __future__ import annotations

from typing import Any

from flask import abort, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from portal.api import bp
from portal.api.openapi import PATHS, SCHEMAS
from portal.communities import service as communities
from portal.extensions import db
from portal.notices import service
from portal.notices.models import Notice
from portal.pagination import MAX_PER_PAGE, OPENAPI_PAGE_PARAMS, page_meta
from portal.security import public
from portal.timeutil import now_utc


def _instant(value: Any) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def notice_json(notice: Notice, code: str, receipt: Any = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": notice.id,
        "community": code,
        "category": notice.category,
        "title": notice.title,
        "body_markdown": notice.body_markdown,
        "body_html": notice.body_html,
        "important": notice.important,
        "pinned": notice.pinned,
        "published_at": _instant(notice.published_at),
        "expires_at": _instant(notice.expires_at),
        "url": url_for("notices.notice_detail", code=code, notice_id=notice.id, _external=True),
        "attachments": [
            {
                "name": a.label,
                "content_type": a.file.content_type,
                "url": url_for(
                    "notices.notice_file",
                    code=code,
                    notice_id=notice.id,
                    attachment_id=a.id,
                    _external=True,
                ),
            }
            for a in notice.attachments
        ],
        "outage": None,
    }
    if notice.category == "outage":
        data["outage"] = {
            "type": notice.outage_type,
            "starts_at": _instant(notice.outage_starts_at),
            "ends_at": _instant(notice.outage_ends_at),
            "buildings": [b.code for b in notice.buildings],
        }
    if notice.category == "fee_change" and notice.fee_item_code:
        data["fee_change"] = {
            "property_type": notice.fee_property_type,
            "item": notice.fee_item_code,
            "rate": str(notice.fee_rate),
        }
    if receipt is not None or g.get("notice_member"):
        data["read"] = receipt is not None
        data["acknowledged"] = bool(receipt and receipt.acknowledged_at)
    return data


@bp.route("/notices")
@public
def notice_list() -> ResponseReturnValue:
    code = (request.args.get("community") or "").strip()
    if not code:
        abort(400, description="需要参数 community（小区编码）")
    user = g.get("api_user")
    community = communities.visible_community(db.session, code=code, user=user)
    if community is None:
        abort(404, description="小区不存在")
    now = now_utc()
    if service.release_due(db.session, now=now, community_id=community.id):
        db.session.commit()
    page_no = request.args.get("page", 1, type=int)
    per_page = request.args.get("per_page", 100, type=int)
    if page_no is None or per_page is None or page_no < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        abort(422, description=f"page ≥ 1 and per_page between 1 and {MAX_PER_PAGE}")
    page = service.visible_notices_page(
        db.session,
        community_id=community.id,
        now=now,
        include_expired=request.args.get("include_expired") in ("1", "true"),
        page=page_no,
        per_page=per_page,
    )
    notices = page.items
    receipts: dict[int, Any] = {}
    if user is not None and service.is_member(db.session, user=user, community_id=community.id):
        g.notice_member = True
        receipts = service.receipts(db.session, user=user, notice_ids=[n.id for n in notices])
    return jsonify(
        {
            "community": community.code,
            "notices": [notice_json(n, community.code, receipts.get(n.id)) for n in notices],
            **page_meta(page),
        }
    )


PATHS["/notices"] = {
    "get": {
        "summary": "Published notices of a community, pinned first, newest first",
        "security": [{}, {"bearer": []}],
        "parameters": [
            {"name": "community", "in": "query", "required": True, "schema": {"type": "string"}},
            {
                "name": "include_expired",
                "in": "query",
                "required": False,
                "schema": {"type": "boolean"},
            },
            *OPENAPI_PAGE_PARAMS,
        ],
        "responses": {
            "200": {
                "description": "Notices",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/NoticeList"}}
                },
            },
            "400": {"description": "Missing community"},
            "404": {"description": "No such community, or owners-only and not yours"},
        },
    }
}
SCHEMAS["NoticeList"] = {
    "type": "object",
    "required": ["community", "notices"],
    "properties": {
        "community": {"type": "string"},
        "notices": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "category", "title", "body_html", "published_at"],
                "properties": {
                    "id": {"type": "integer"},
                    "category": {
                        "type": "string",
                        "enum": ["fee_change", "outage", "financial", "event", "general"],
                    },
                    "title": {"type": "string"},
                    "body_markdown": {"type": "string"},
                    "body_html": {"type": "string", "description": "sanitised HTML"},
                    "important": {"type": "boolean"},
                    "pinned": {"type": "boolean"},
                    "published_at": {"type": "string", "format": "date-time"},
                    "expires_at": {"type": ["string", "null"], "format": "date-time"},
                    "outage": {"type": ["object", "null"]},
                    "attachments": {"type": "array", "items": {"type": "object"}},
                    "read": {"type": "boolean", "description": "only for a member's token"},
                    "acknowledged": {"type": "boolean"},
                },
            },
        },
    },
}
