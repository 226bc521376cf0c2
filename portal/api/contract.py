"""The OpenAPI document as the API's contract, checked in one place.

`query_problem` refuses (422) a request whose query string breaks what the document declares for
its operation (wrong type, out of range, not in the enum, a single-valued parameter given
twice, a required one missing), so every endpoint answers 422 for what its schema rules out
instead of quietly falling back to a default. `complete` adds to every operation the
statuses that the app-wide hooks can answer (400 from the hostile-input and contract checks,
401 from the token check, 404 from the bounded id converter, 429 from the rate limiter), so
the document lists every status a client can get, and writes down the bounds those hooks
enforce (integers within a signed 64-bit column, required text not blank).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from werkzeug.datastructures import MultiDict

from portal.security import MAX_ID, MAX_PAGE

RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
INTEGER = re.compile(r"-?[0-9]+")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MALFORMED = (
    "Malformed request: a parameter or the body breaks this document, or holds NUL, "
    "a lone surrogate or an out-of-range integer"
)
METHODS = ("get", "post", "put", "patch", "delete")


def document_path(rule: str, prefix: str) -> str:
    """`/api/v1/bills/<int:bill_id>` → `/bills/{bill_id}`."""
    return RULE_ARG.sub(r"{\1}", rule).removeprefix(prefix)


def _is_date(raw: str) -> bool:
    if not ISO_DATE.fullmatch(raw):
        return False
    try:
        date.fromisoformat(raw)
    except ValueError:
        return False
    return True


def _value_problem(name: str, raw: str, schema: dict[str, Any]) -> str | None:
    kind = schema.get("type", "string")
    if "enum" in schema and raw not in [str(v) for v in schema["enum"]]:
        allowed = "、".join(str(v) for v in schema["enum"])
        return f"参数 {name} 须为以下之一：{allowed}"
    if kind == "integer":
        if not INTEGER.fullmatch(raw):
            return f"参数 {name} 须为整数"
        value = int(raw)
        if "minimum" in schema and value < schema["minimum"]:
            return f"参数 {name} 不能小于 {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"参数 {name} 不能大于 {schema['maximum']}"
    elif kind == "boolean":
        if raw not in ("true", "false"):
            return f"参数 {name} 须为 true 或 false"
    elif kind == "string":
        if len(raw) < schema.get("minLength", 0):
            return f"参数 {name} 不能为空" if schema.get("minLength") == 1 else f"参数 {name} 过短"
        if "maxLength" in schema and len(raw) > schema["maxLength"]:
            return f"参数 {name} 过长"
        if "pattern" in schema and not re.search(schema["pattern"], raw):
            return f"参数 {name} 格式不正确"
        if schema.get("format") == "date" and not _is_date(raw):
            return f"参数 {name} 须为日期 YYYY-MM-DD"
    return None


def query_problem(operation: dict[str, Any], args: MultiDict[str, str]) -> tuple[str, str] | None:
    """(parameter, why) when the query string breaks the operation's declared parameters."""
    declared = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}
    for name, param in declared.items():
        values = args.getlist(name)
        if not values:
            if param.get("required"):
                return name, f"缺少参数 {name}"
            continue
        if len(values) > 1 and param.get("schema", {}).get("type") != "array":
            return name, f"参数 {name} 只能给一次"
        problem = _value_problem(name, values[0], param.get("schema", {}))
        if problem:
            return name, problem
    return None


def invalid_query_status(operation: dict[str, Any], name: str) -> int:
    """422, the API's answer to an invalid value; 400 for an operation that documents its
    own 400 for a bad parameter (paging stays 422 everywhere, as `page_meta` lists do)."""
    own = operation.get("responses", {}).get("400", {}).get("description") != MALFORMED
    return 400 if own and name not in PAGING else 422


def body_schema(operation: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any] | None:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not body or "schema" not in body:
        return None
    ref = body["schema"].get("$ref", "")
    return schemas[ref.rsplit("/", 1)[-1]] if ref else body["schema"]


def body_problem(schema: dict[str, Any] | None, data: Any) -> str | None:
    """Unknown top-level fields of a JSON body are refused: a client that misspells one, or
    tries to set one the document does not offer (mass assignment), is told so."""
    if schema is None or not isinstance(data, dict) or schema.get("additionalProperties", True):
        return None
    unknown = sorted(set(data) - set(schema.get("properties", {})))
    return f"未知字段：{', '.join(unknown)[:200]}" if unknown else None


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


PAGING = ("page", "per_page")


def _tighten_parameter(param: dict[str, Any]) -> None:
    schema = param.setdefault("schema", {"type": "string"})
    if schema.get("type") == "integer":
        # Larger integers are refused app-wide (portal.security): 400 in a query, 404 in a path.
        schema.setdefault("minimum", 1 if param["name"] in PAGING else -MAX_ID)
        schema.setdefault("maximum", MAX_PAGE if param["name"] == "page" else MAX_ID)
    if schema.get("type") == "string" and param.get("required") and "enum" not in schema:
        schema.setdefault("minLength", 1)  # the views treat an empty value as a missing one


def _tighten_body(schema: dict[str, Any]) -> None:
    """Required strings of a JSON body must hold a non-blank character (the views strip and
    refuse empty text); integers are bounded like parameters."""
    if schema.get("type") != "object":
        return
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") == "integer":
            prop.setdefault("minimum", -MAX_ID)
            prop.setdefault("maximum", MAX_ID)
        elif prop.get("type") == "string" and name in required and "enum" not in prop:
            if "format" not in prop:
                prop.setdefault("minLength", 1)
                prop.setdefault("pattern", r"\S")
        elif prop.get("type") == "array" and prop.get("items", {}).get("type") == "integer":
            prop["items"].setdefault("minimum", -MAX_ID)
            prop["items"].setdefault("maximum", MAX_ID)
        elif prop.get("type") == "object":
            _tighten_body(prop)


def complete(
    paths: dict[str, dict[str, Any]], schemas: dict[str, Any], *, limited: set[str]
) -> None:
    """Add the statuses the app-wide hooks answer to every operation, and the bounds they
    enforce to its parameters and body (in place; idempotent)."""
    for path, item in paths.items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for param in operation.get("parameters", []):
                _tighten_parameter(param)
            body = body_schema(operation, schemas)
            if body is not None and body.get("type") == "object":
                body.setdefault("additionalProperties", False)
                _tighten_body(body)
                responses = operation.setdefault("responses", {})
                responses.setdefault("422", _error("A field is missing, unknown or invalid"))
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", _error(MALFORMED))
            if operation.get("security") != []:
                responses.setdefault("401", _error("No, expired or revoked token"))
            if any(p.get("in") == "query" for p in operation.get("parameters", [])):
                responses.setdefault("422", _error("A query parameter breaks this document"))
            if "{" in path:
                responses.setdefault("404", _error("No such object, or not yours"))
            if f"{method.upper()} {path}" in limited:
                responses.setdefault("429", _error("Too many requests; see Retry-After"))
