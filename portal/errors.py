"""Domain errors, and the HTML and JSON error handlers."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A rule of the domain refused the request; `field` names the form field it concerns."""

    code = "invalid"
    status = 422

    def __init__(self, message: Any, *, field: str | None = None, code: str | None = None):
        # `message` may be a lazy translation: it renders in the reader's language.
        super().__init__(message)
        self._message = message
        self.field = field
        if code:
            self.code = code

    @property
    def message(self) -> str:
        return str(self._message)


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class PermissionDenied(DomainError):
    code = "forbidden"
    status = 403


def json_error(status: int, code: str, message: str, **extra: Any) -> ResponseReturnValue:
    """The contract's JSON error body: {"error": {"code", "message"}}."""
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    return jsonify({"error": body}), status


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/open311/", "/payments/notify/", "/healthz"))


def install(app: Flask) -> None:
    """JSON errors under /api, friendly pages elsewhere."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        # Keep what the exception says in headers: Allow on a 405 (RFC 9110 §15.5.6),
        # Retry-After on a 429.
        headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
        if wants_json():
            message = exc.description if status != 429 else _("请求过于频繁，请稍后再试")
            body, _status = json_error(status, HTTP_CODES.get(status, "error"), str(message))  # type: ignore[misc]
            return body, status, headers
        return render_template("errors/error.html", status=status, error=exc), status, headers

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> ResponseReturnValue:
        if wants_json():
            return json_error(exc.status, exc.code, exc.message, field=exc.field)
        return render_template("errors/error.html", status=exc.status, error=exc), exc.status
