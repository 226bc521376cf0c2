"""Schemathesis against /api/v1/openapi.json, in process over WSGI, as an owner and as a manager.

Positive and negative generation, every check: no 5xx, no status code the document does not
list, responses that match their schemas, invalid requests refused and valid ones accepted.
The demo data is seeded once for the module; the clock is pinned (tests.conftest), the seed
and generation are deterministic, and max-examples is small so the whole module stays within
about a minute on one core.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from schemathesis.config import SchemathesisConfig

import portal.api  # noqa: F401  (the domains add their paths to the document)
from portal.api.openapi import build_document
from portal.demo.service import DEMO_PASSWORD
from tests import factories
from tests.conftest import seeded_demo_app

ACTORS = ("demo-owner", "demo-manager")

CONFIG: dict[str, Any] = {
    "seed": 13,
    "suppress-health-check": ["all"],
    "generation": {
        "mode": "all",  # positive and negative
        "max-examples": 8,
        "deterministic": True,
        "database": "none",
        # NUL is refused app-wide (400, portal.security) and the document says so; a "valid"
        # string with NUL would be reported as a valid request rejected.
        "allow-x00": False,
    },
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},  # the pytest integration runs per operation
    },
    "checks": {"enabled": True},
    # Three bodies that are valid by the schema can still break a rule the document cannot
    # state, and the API answers 422 with the field: a unit that is yours (POST /tickets), a
    # reason code allowed for that kind of target (POST /disputes), a channel this install
    # has configured (POST /payments). Only for these is 422 an acceptable answer to a valid
    # request; everywhere else a rejected valid request fails the test.
    "operations": [
        {
            "include-path": path,
            "include-method": "POST",
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
                }
            },
        }
        for path in ("/tickets", "/disputes", "/payments")
    ],
}


@pytest.fixture(scope="module")
def demo_app(_session_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with seeded_demo_app(
        _session_database,
        tmp_path_factory.mktemp("schemathesis"),
        *("--communities", "1", "--units", "12", "--months", "13"),
        PAYMENT_RATE_LIMIT="10000 per minute",
        LOGIN_RATE_LIMIT="10000 per minute",
    ) as app:
        WSGI.target = app
        yield app
        WSGI.target = None


@pytest.fixture(scope="module")
def tokens(demo_app: Flask) -> dict[str, str]:
    client = demo_app.test_client()
    out = {}
    for username in ACTORS:
        with demo_app.app_context():
            fields = factories.login_fields(username, DEMO_PASSWORD)
        body = {"username": username, "password": fields["password"]}
        if "totp" in fields:
            body["totp"] = fields["totp"]
        response = client.post("/api/v1/auth/token", json=body)
        assert response.status_code == 201, response.json
        out[username] = response.json["token"]
    TOKENS.update(out)
    return out


# The document is built at import (pytest parametrizes at collection); test_served_document
# checks that /api/v1/openapi.json serves exactly this.
class _DemoApp:
    """The WSGI app schemathesis calls: the module's seeded demo, set by the fixture.

    Schemathesis builds some cases, with their headers, while pytest collects, before any
    token exists; so cases carry `Bearer as:<username>` and the real token is put in here.
    A dropped or spoiled header (the ignored_auth check) is passed on as it is."""

    target: Flask | None = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        assert self.target is not None, "the demo_app fixture sets the target"
        scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme == "Bearer" and value.startswith("as:") and value[3:] in TOKENS:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {TOKENS[value[3:]]}"
        return self.target(environ, start_response)


WSGI = _DemoApp()
TOKENS: dict[str, str] = {}  # username -> bearer token, filled by the tokens fixture


def _schema_as(username: str) -> Any:
    """The document, sent in process over WSGI, with the bearer token of `username`; the
    checks that drop or spoil the token (ignored_auth) know where it goes."""
    loaded = schemathesis.openapi.from_dict(
        build_document(), config=SchemathesisConfig.from_dict(CONFIG)
    )
    loaded.app = WSGI

    @loaded.auth()
    class _Bearer:
        def get(self, case: Any, ctx: Any) -> str:
            return f"as:{username}"

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return loaded


as_owner = _schema_as("demo-owner")
as_manager = _schema_as("demo-manager")


def test_served_document(demo_app: Flask) -> None:
    response = demo_app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json == json.loads(json.dumps(build_document()))


@as_owner.parametrize()
def test_api_as_owner(case: Any, tokens: dict[str, str]) -> None:
    case.call_and_validate()


@as_manager.parametrize()
def test_api_as_manager(case: Any, tokens: dict[str, str]) -> None:
    case.call_and_validate()
