from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.accounts import service as accounts
from tests import factories
from tests.factories import NOW


def _token(client: FlaskClient, username: str) -> str:
    response = client.post("/api/v1/auth/token", json=factories.login_fields(username))
    assert response.status_code == 201, response.json
    assert set(response.json) >= {"token", "expires_at"}
    return response.json["token"]


def test_token_and_me(client: FlaskClient, session: Session) -> None:
    unit = factories.make_unit(session, code="A-3-1202")
    user = factories.make_user(session, role="owner", unit=unit)
    session.commit()
    token = _token(client, user.username)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json["username"] == user.username
    assert me.json["roles"] == ["owner"]
    assert me.json["units"][0] == {
        "id": unit.id,
        "code": "A-3-1202",
        "community": unit.community.code,
        "area_m2": "89.50",
        "property_type": "residential",
    }


def test_wrong_credentials_are_401_json(client: FlaskClient, session: Session) -> None:
    user = factories.make_user(session, role="owner")
    session.commit()
    for body in (
        {"username": user.username, "password": "bad"},
        {"username": "ghost", "password": "bad"},
    ):
        response = client.post("/api/v1/auth/token", json=body)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "invalid_credentials"


def test_malformed_bodies(client: FlaskClient) -> None:
    assert client.post("/api/v1/auth/token", data="nope").status_code == 400
    response = client.post("/api/v1/auth/token", json={"username": 3})
    assert response.status_code == 422
    assert "error" in response.json


def test_failures_rate_limited_per_account(make_app: Any) -> None:
    app: Flask = make_app(LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    for _ in range(3):
        assert (
            client.post(
                "/api/v1/auth/token", json={"username": "victim", "password": "x"}
            ).status_code
            == 401
        )
    response = client.post("/api/v1/auth/token", json={"username": "victim", "password": "x"})
    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limited"


def test_failures_rate_limited_per_ip_across_accounts(make_app: Any) -> None:
    app: Flask = make_app(LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    for n in range(3):
        client.post("/api/v1/auth/token", json={"username": f"u{n}", "password": "x"})
    response = client.post("/api/v1/auth/token", json={"username": "fresh", "password": "x"})
    assert response.status_code == 429


def test_bad_tokens_are_401(client: FlaskClient, session: Session) -> None:
    user = factories.make_user(session, role="owner")
    expired = accounts.issue_token(
        session, user=user, now=NOW - timedelta(days=3), ttl=timedelta(hours=1)
    )
    session.commit()
    for header in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Bearer {expired.token}"},
        {"Authorization": f"Token {expired.token}"},
    ):
        response = client.get("/api/v1/me", headers=header)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"


def test_api_errors_are_json(client: FlaskClient) -> None:
    assert client.get("/api/v1/no-such-thing").json["error"]["code"] == "not_found"
    response = client.delete("/api/v1/auth/token")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"


def test_session_cookie_does_not_authenticate_api(client: FlaskClient, login_as: Any) -> None:
    login_as("owner")
    assert client.get("/api/v1/me").status_code == 401


def test_openapi_documents_every_api_route(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    documented = set(doc["paths"])
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = (
                rule.rule.removeprefix("/api/v1")
                .replace("<int:", "{")
                .replace("<", "{")
                .replace(">", "}")
            )
            assert path in documented, path
