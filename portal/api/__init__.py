"""JSON API v1: bearer tokens, JSON errors, the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, g, request
from flask.typing import ResponseReturnValue

from portal.accounts import service as accounts
from portal.accounts.models import User
from portal.errors import json_error
from portal.extensions import db
from portal.security import is_public_endpoint
from portal.timeutil import now_utc

bp = Blueprint("api", __name__, url_prefix="/api/v1")

F = TypeVar("F", bound=Callable[..., Any])


def bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return accounts.user_for_token(db.session, token=token.strip(), now=now_utc())


@bp.before_request
def authenticate() -> ResponseReturnValue | None:
    """Deny by default: every API endpoint needs a live token unless marked @public."""
    g.api_user = bearer_user()
    if g.api_user is None and not is_public_endpoint(request.endpoint):
        return json_error(401, "unauthorized", "需要有效的访问令牌（Authorization: Bearer …）")
    return None


def api_user() -> User:
    user: User | None = g.get("api_user")
    if user is None:
        abort(401)
    return user


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 JSON error."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description="请求体必须是 JSON 对象")
    return data


def require_role(user: User, *roles: str) -> None:
    if not user.has_role(*roles):
        abort(403, description="没有权限")


from portal.api import views  # noqa: E402,F401  (routes register on bp)
from portal.domains import modules as _modules  # noqa: E402

_modules("api")  # each domain's api.py adds its routes to bp and its paths to the document
