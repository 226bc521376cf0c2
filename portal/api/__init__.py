"""JSON API v1: bearer tokens, JSON errors, the OpenAPI document."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, g, request
from flask.typing import ResponseReturnValue

from portal.accounts import service as accounts
from portal.accounts.models import User
from portal.api.contract import (
    body_problem,
    body_schema,
    document_path,
    invalid_query_status,
    query_problem,
)
from portal.api.contract import complete as _complete
from portal.api.openapi import PATHS, RATE_LIMITED, SCHEMAS
from portal.errors import json_error
from portal.extensions import db
from portal.security import MAX_ID, hostile_value, is_public_endpoint
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
    if request.url_rule is not None:
        path = document_path(request.url_rule.rule, bp.url_prefix or "")
        operation = PATHS.get(path, {}).get(request.method.lower())
        found = query_problem(operation, request.args) if operation else None
        if found is not None:
            status = invalid_query_status(operation, found[0])
            return json_error(status, "bad_request" if status == 400 else "invalid", found[1])
        if operation and request.is_json:
            problem = body_problem(body_schema(operation, SCHEMAS), request.get_json(silent=True))
            if problem:
                return json_error(422, "invalid", problem)
    return None


def api_user() -> User:
    user: User | None = g.get("api_user")
    if user is None:
        abort(401)
    return user


MAX_JSON_DEPTH = 32


def _hostile(value: Any, depth: int = 0) -> bool:
    """Nesting deeper than any request needs, integers no column holds, NUL or lone
    surrogates in strings: refused in one place instead of crashing a view."""
    if depth > MAX_JSON_DEPTH:
        return True
    if isinstance(value, dict):
        return any(_hostile(k, depth + 1) or _hostile(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_hostile(v, depth + 1) for v in value)
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > MAX_ID
    if isinstance(value, float):
        return not math.isfinite(value)  # NaN and Infinity, which json.loads accepts
    if isinstance(value, str):
        return hostile_value(value)
    return False


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 JSON error."""
    data = request.get_json(silent=True)  # too deep a nesting parses as None (SafeJSONProvider)
    if not isinstance(data, dict) or _hostile(data):
        abort(400, description="请求体必须是 JSON 对象，且不含超出范围的数值或非法字符")
    return data


def require_role(user: User, *roles: str) -> None:
    if not user.has_role(*roles):
        abort(403, description="没有权限")


from portal.api import views  # noqa: E402,F401  (routes register on bp)
from portal.domains import modules as _modules  # noqa: E402

_modules("api")  # each domain's api.py adds its routes to bp and its paths to the document
# The contract check reads the document, so complete it now, not when it is first served.
_complete(PATHS, SCHEMAS, limited=RATE_LIMITED)
