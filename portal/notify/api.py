"""GET /api/v1/me/messages — the owner's in-portal inbox; POST …/<id>/read marks one read."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue

from portal.api import api_user, bp
from portal.api.openapi import PATHS, SCHEMAS
from portal.extensions import db
from portal.notify import inbox
from portal.notify.models import Message
from portal.timeutil import now_utc


def _instant(value: Any) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "reason": message.reason,
        "subject": message.subject,
        "text": message.text,
        "created_at": _instant(message.sent_at or message.created_at),
        "read": message.read_at is not None,
    }


@bp.route("/me/messages")
def my_messages() -> ResponseReturnValue:
    user = api_user()
    page = inbox.inbox(db.session, user, page=request.args.get("page", 1, type=int))
    return jsonify(
        {
            "messages": [message_json(m) for m in page.items],
            "unread": inbox.unread_count(db.session, user),
            "page": page.page,
            "pages": page.pages,
        }
    )


@bp.route("/me/messages/<int:message_id>/read", methods=["POST"])
def my_message_read(message_id: int) -> ResponseReturnValue:
    user = api_user()
    message = inbox.mark_read(db.session, user=user, message_id=message_id, now=now_utc())
    if message is None:
        abort(404, description="消息不存在")
    db.session.commit()
    return jsonify(message_json(message))


PATHS["/me/messages"] = {
    "get": {
        "summary": "The owner's in-portal inbox (站内信), newest first, 20 a page",
        "parameters": [
            {"name": "page", "in": "query", "required": False, "schema": {"type": "integer"}}
        ],
        "responses": {
            "200": {
                "description": "Messages",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/MessageList"}}
                },
            },
            "401": {"description": "No or expired token"},
        },
    }
}
PATHS["/me/messages/{message_id}/read"] = {
    "post": {
        "summary": "Mark one of the owner's messages read",
        "parameters": [
            {"name": "message_id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "responses": {
            "200": {
                "description": "The message",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Message"}}
                },
            },
            "401": {"description": "No or expired token"},
            "404": {"description": "Not one of your messages"},
        },
    }
}
SCHEMAS["Message"] = {
    "type": "object",
    "required": ["id", "reason", "text", "created_at", "read"],
    "properties": {
        "id": {"type": "integer"},
        "reason": {
            "type": "string",
            "description": "bill_issued, due_soon, overdue_l1, autodebit_succeeded, "
            "autodebit_failed, notice_published, ticket_updated, dispute_answered, "
            "survey_invite, vote_invite, collections_tier, written_notice, receipt, account",
        },
        "subject": {"type": "string"},
        "text": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "read": {"type": "boolean"},
    },
}
SCHEMAS["MessageList"] = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
        "unread": {"type": "integer"},
        "page": {"type": "integer"},
        "pages": {"type": "integer"},
    },
}
