"""Every URL rule, fed hostile values in its path and common query parameters, as anonymous and
as an owner and a manager: never a 5xx (issue 13 §8)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories

HUGE = [str(2**63), str(2**64), "9" * 40]
HOSTILE_TEXT = [
    "-1",
    "0",
    "1e309",
    "１２３",  # full-width digits
    "' OR 1=1 --",
    "1; DROP TABLE users",
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "\u202e\u0000x",
    "\ud800",
    "名" * 300,
    "<script>alert(1)</script>",
    "9999-12-31",
    "2026-13-45",
]
QUERY_PARAMS = ("page", "year", "building", "bill_ids", "month", "months", "status", "q", "period",
                "from", "to", "start", "end", "community", "unit", "kind", "date")  # fmt: skip


def _path_values(converter: str) -> list[str]:
    if converter in ("IntegerConverter", "BoundedIntConverter"):
        return HUGE
    return HUGE + HOSTILE_TEXT


def _build(rule: Any, value: str) -> str | None:
    """The rule's path with every argument replaced by `value` (raw, percent-encoded)."""
    path = ""
    for is_dynamic, data in rule._trace:
        if not is_dynamic:
            path += data
        else:
            path += quote(value.encode("utf-8", "surrogatepass"), safe="%")
    return path.split("|", 1)[-1]


def _urls(app: Flask) -> list[str]:
    urls: list[str] = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        if not rule.arguments:
            urls.append(rule.rule)
            continue
        converters = {type(c).__name__ for c in rule._converters.values()}
        values = sorted({v for c in converters for v in _path_values(c)})
        urls.extend(p for p in (_build(rule, v) for v in values) if p)
    return urls


def _query_urls(app: Flask) -> list[str]:
    surrogate = quote("\ud800".encode("utf-8", "surrogatepass"))
    values = [*HUGE, "-1", "' OR 1=1 --", "%00", surrogate]
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()) and not rule.arguments and rule.endpoint != "static":
            for value in values:
                out.append(rule.rule + "?" + "&".join(f"{p}={value}" for p in QUERY_PARAMS))
    return out


def _walk(client: FlaskClient, urls: list[str]) -> list[tuple[str, Any]]:
    failures = []
    for url in urls:
        try:
            status = client.get(url).status_code
        except Exception as exc:  # TESTING propagates what would be a 500
            failures.append((url, repr(exc)[:200]))
            continue
        if status >= 500:
            failures.append((url, status))
    return failures


@pytest.mark.parametrize("actor", ["anonymous", "owner", "manager"])
def test_no_url_answers_5xx_to_hostile_values(
    app: Flask, client: FlaskClient, session: Session, login_as: Any, actor: str
) -> None:
    unit, _bills = factories.make_billed_unit(session, periods=("2026-09",))
    session.commit()
    if actor == "owner":
        login_as("owner", unit=unit)
    elif actor == "manager":
        login_as("manager", community=unit.community)
    failures = _walk(client, _urls(app) + _query_urls(app))
    assert failures == [], "\n".join(f"{u}: {e}" for u, e in failures[:40])


@pytest.mark.parametrize(
    "body",
    [
        "[" * 5000 + "]" * 5000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        '{"username": "\\ud800", "password": "x"}',
        '{"username": "a\\u0000b", "password": "x"}',
        '{"username": "a", "password": "x", "totp": 18446744073709551616}',
        '{"username": "a", "password": NaN}',
    ],
)
def test_hostile_json_gets_a_clear_400(client: FlaskClient, body: str) -> None:
    response = client.post(
        "/api/v1/auth/token", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.is_json


def test_hostile_query_and_form_values_get_400_and_write_nothing(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    login_as("owner")
    assert client.get("/bills?page=99999999999999999999").status_code == 400
    assert client.get("/bills?status=a%00b").status_code == 400
    response = client.post(
        "/account/password",
        data={"current_password": "x\x00", "new_password": "y" * 12, "confirm": "y" * 12},
    )
    assert response.status_code == 400


def test_405_says_which_methods_are_allowed(client: FlaskClient) -> None:
    api = client.get("/api/v1/auth/token")
    assert api.status_code == 405
    assert "POST" in api.headers["Allow"]
    page = client.put("/login")
    assert page.status_code == 405
    assert "POST" in page.headers["Allow"]


def test_a_page_number_whose_offset_overflows_is_refused(client: Any, login_as: Any) -> None:
    # (page - 1) * per_page beyond 2**63 - 1 crashed SQLite with OverflowError (a 500).
    login_as("owner")
    for url in ("/bills", "/receipts", "/notices"):
        assert client.get(f"{url}?page=9223372036854775806").status_code == 400, url
    assert client.get("/bills?page=2").status_code == 200
