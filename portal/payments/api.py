"""Create payment intents over the JSON API."""

from __future__ import annotations

from flask import abort, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from portal.api import api_user, bp, json_body
from portal.api.openapi import PATHS, SCHEMAS, _error
from portal.errors import json_error
from portal.extensions import db, limiter
from portal.payments import intents
from portal.payments.gateways.base import scene_for
from portal.payments.views import gateways, intent_json, payer_key, payment_limit
from portal.timeutil import now_utc


@bp.route("/payments", methods=["POST"])
@limiter.limit(payment_limit, key_func=payer_key)
def create_payment() -> ResponseReturnValue:
    user = api_user()
    data = json_body()
    bill_ids, channel, key = data.get("bill_ids"), data.get("channel"), data.get("idempotency_key")
    if not isinstance(bill_ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in bill_ids
    ):
        return json_error(422, "invalid", "bill_ids 必须是整数数组", field="bill_ids")
    if not isinstance(key, str):
        return json_error(422, "invalid", "需要 idempotency_key 字符串", field="idempotency_key")
    available = gateways()
    if not isinstance(channel, str) or channel not in available:
        names = ", ".join(available) or "（无可用渠道）"
        return json_error(422, "invalid", f"channel 须为 {names}", field="channel")
    intent = intents.create_intent(
        db.session,
        user=user,
        bill_ids=bill_ids,
        channel=channel,
        idempotency_key=key,
        gateway=available[channel],
        now=now_utc(),
        notify_url=url_for("payments.notify", channel=channel, _external=True),
        return_url=url_for("payments.intent_return", _external=True),
        scene=scene_for(request.user_agent.string),
        client_ip=request.remote_addr or "",
        openid=user.wechat_openid,
    )
    db.session.commit()
    body = intent_json(intent)
    if intent.pay_url and intent.pay_url.startswith("/"):  # the sandbox page is ours
        body["pay_url"] = request.host_url.rstrip("/") + intent.pay_url
    return jsonify(body), 201


@bp.route("/payments/<int:intent_id>")
def payment_detail(intent_id: int) -> ResponseReturnValue:
    intent = intents.get_owned_intent(db.session, user=api_user(), intent_id=intent_id)
    if intent is None:
        abort(404, description="支付单不存在")
    return jsonify(intent_json(intent))


SCHEMAS["PaymentIntent"] = {
    "type": "object",
    "required": ["id", "out_trade_no", "amount_fen", "status", "pay_url"],
    "properties": {
        "id": {"type": "integer"},
        "out_trade_no": {"type": "string"},
        "amount_fen": {"type": "integer"},
        "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
        "pay_url": {"type": ["string", "null"]},
        "qr_code": {"type": ["string", "null"]},
        "jsapi": {
            "type": ["object", "null"],
            "description": "WeChat JSAPI: parameters for WeixinJSBridge getBrandWCPayRequest",
        },
    },
}
PATHS["/payments"] = {
    "post": {
        "summary": "Create a payment intent for some of my bills (idempotent by key)",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["bill_ids", "channel", "idempotency_key"],
                        "properties": {
                            "bill_ids": {
                                "type": "array",
                                "items": {"type": "integer"},
                                "minItems": 1,
                            },
                            "channel": {"type": "string", "enum": ["sandbox", "wechat", "alipay"]},
                            "idempotency_key": {"type": "string", "maxLength": 64},
                        },
                    }
                }
            },
        },
        "responses": {
            "201": {
                "description": "Intent",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/PaymentIntent"}}
                },
            },
            "404": _error("A bill is not mine"),
            "409": _error("Key reused for other bills"),
            "422": _error("Invalid input"),
        },
    }
}
PATHS["/payments/{intent_id}"] = {
    "get": {
        "summary": "One of my payment intents",
        "parameters": [
            {"name": "intent_id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "responses": {"200": {"description": "Intent"}, "404": _error("Not mine")},
    }
}
