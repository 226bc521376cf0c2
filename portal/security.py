"""Deny by default: every endpoint needs a log-in unless marked @public; role checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, redirect, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.routing import IntegerConverter

F = TypeVar("F", bound=Callable[..., Any])


def public(view: F) -> F:
    """Mark a view as reachable without logging in."""
    view._public = True  # type: ignore[attr-defined]
    return view


def is_public_endpoint(endpoint: str | None) -> bool:
    if endpoint is None or endpoint == "static":
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, "_public", False))


def roles_required(*roles: str) -> Callable[[F], F]:
    """Allow users holding any of `roles` in some community (admins always); else 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


requires = roles_required  # the name the foundation issue uses


def safe_next(target: str | None) -> str | None:
    """`next` only when it stays on this site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


# The largest id any column holds (signed 64-bit): a bigger number in a URL or a query
# crashes the database driver (OverflowError) instead of finding nothing.
MAX_ID = 2**63 - 1
# The highest page number whose row offset, (page - 1) * per_page with at most 500 a page,
# still fits the database's 64-bit OFFSET; a larger ?page= would crash the driver.
MAX_PAGE = MAX_ID // 500


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that refuses (404) numbers no column can hold."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class SafeJSONProvider(DefaultJSONProvider):
    """JSON bodies nested thousands deep raise RecursionError, which no caller expects: make
    it the ValueError of any malformed body (so get_json(silent=True) gives None)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


def install_converters(app: Flask) -> None:
    """Bound every `<int:>` URL argument and parse JSON safely; called before any blueprint
    is registered."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.json = SafeJSONProvider(app)


def hostile_value(value: str) -> bool:
    """A path, query or form value no view should see: NUL (PostgreSQL refuses it in text),
    a lone surrogate, an integer no column can hold. Checked once for every request rather
    than in each view."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    text = value.strip()
    if text[:1] in "+-":
        text = text[1:]
    return text.isascii() and text.isdigit() and len(text) > 18 and int(text) > MAX_ID


def _page_too_far(values: list[str]) -> bool:
    return any(v.strip().isascii() and v.strip().isdigit() and int(v) > MAX_PAGE for v in values)


def install(app: Flask) -> None:
    """Require a log-in for every non-public HTML endpoint (the API checks its own tokens)."""

    @app.before_request
    def refuse_hostile_values() -> ResponseReturnValue | None:
        path_values = [v for v in (request.view_args or {}).values() if isinstance(v, str)]
        values = [*path_values, *request.args.values(), *request.args.keys()]
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += [*request.form.values(), *request.form.keys()]
        if any(hostile_value(v) for v in values) or _page_too_far(request.args.getlist("page")):
            abort(400, description="请求参数无效")
        return None

    @app.before_request
    def require_login() -> ResponseReturnValue | None:
        if request.blueprint in ("api", "open311") or is_public_endpoint(request.endpoint):
            return None
        if current_user.is_authenticated:
            return None
        if request.method == "GET":
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        abort(401)
        return None  # unreachable; keeps type checkers calm

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
            "form-action 'self'",
        )
        return response
