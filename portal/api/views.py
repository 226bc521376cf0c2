from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from portal.accounts import service as accounts
from portal.accounts import two_factor
from portal.api import api_user, bp, json_body
from portal.api.openapi import build_document
from portal.communities import service as communities
from portal.errors import json_error
from portal.extensions import db, limiter
from portal.security import public
from portal.timeutil import now_utc


def _token_failed() -> bool:
    return bool(g.get("token_failed"))


def _body_username() -> str:
    data = request.get_json(silent=True)
    name = data.get("username") if isinstance(data, dict) else None
    return "api-user:" + (str(name).strip().lower()[:64] if name else "")


def _limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@bp.route("/auth/token", methods=["POST"])
@public
@limiter.limit(_limit, deduct_when=lambda r: _token_failed())
@limiter.limit(_limit, key_func=_body_username, deduct_when=lambda r: _token_failed())
def auth_token() -> ResponseReturnValue:
    data = json_body()
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        return json_error(422, "invalid", "需要 username 和 password 字符串")
    user = accounts.authenticate(db.session, username=username, password=password)
    if user is None:
        g.token_failed = True
        db.session.rollback()
        return json_error(401, "invalid_credentials", "用户名或密码不正确")
    needs = two_factor.required_for(user, current_app.config["TWO_FACTOR_ROLES"])
    enrolled = two_factor.is_enrolled(db.session, user)
    if needs or enrolled:
        code = data.get("totp")
        if (
            not enrolled
            or not isinstance(code, str)
            or not two_factor.verify(db.session, user=user, code=code, now=now_utc())
        ):
            g.token_failed = True
            db.session.rollback()
            message = "需要动态验证码（totp）" if enrolled else "请先在网页上启用两步验证"
            return json_error(401, "totp_required", message)
    ttl = timedelta(hours=current_app.config["API_TOKEN_TTL_HOURS"])
    issued = accounts.issue_token(db.session, user=user, now=now_utc(), ttl=ttl)
    db.session.commit()
    return jsonify({"token": issued.token, "expires_at": issued.expires_at.isoformat()}), 201


@bp.route("/me")
def me() -> ResponseReturnValue:
    user = api_user()
    units = communities.units_of(db.session, user)
    return jsonify(
        {
            "username": user.username,
            "display_name": user.display_name,
            "roles": sorted(user.role_names()),
            "units": [
                {
                    "id": u.id,
                    "code": u.code,
                    "community": u.community.code,
                    "area_m2": str(u.area_m2),
                    "property_type": u.property_type,
                }
                for u in units
            ],
        }
    )


@bp.route("/openapi.json")
@public
def openapi() -> ResponseReturnValue:
    return jsonify(build_document())
