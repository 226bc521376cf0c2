"""Staff two-factor: enrol with a confirmed code, then every log-in needs a fresh code."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts import two_factor
from portal.accounts.models import TwoFactor, UserSession
from tests import factories
from tests.factories import NOW, PASSWORD, TOTP_SECRET


def _code(secret: str = TOTP_SECRET, at: Any = NOW) -> str:
    return pyotp.TOTP(secret).at(at)


def _sessions(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UserSession))


def test_unenrolled_staff_must_enrol_before_any_page(
    client: FlaskClient, session: Session, clock: Any
) -> None:
    user = factories.make_user(session, role="finance", totp=False)
    session.commit()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert "/account/two-factor" in response.headers["Location"]
    blocked = client.get("/account")
    assert blocked.status_code == 302
    assert "/account/two-factor" in blocked.headers["Location"]
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "data:image/svg+xml" in page  # the QR code
    secret = session.scalar(select(TwoFactor.secret).where(TwoFactor.user_id == user.id))
    assert secret in page
    wrong = client.post("/account/two-factor", data={"code": "000000"})
    assert "动态验证码不正确" in wrong.get_data(as_text=True)
    assert client.get("/account").status_code == 302
    done = client.post("/account/two-factor", data={"code": _code(secret)})
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", done.get_data(as_text=True))
    assert len(codes) == 10
    assert client.get("/account").status_code == 200
    # From now on a log-in needs the code.
    client.post("/logout")
    clock.advance(minutes=2)
    no_code = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert no_code.status_code == 200
    assert "动态验证码" in no_code.get_data(as_text=True)
    # a recovery code works once
    fields = {"username": user.username, "password": PASSWORD, "totp": codes[0]}
    assert client.post("/login", data=fields).status_code == 302
    client.post("/logout")
    assert client.post("/login", data=fields).status_code == 200


def test_enrolled_staff_need_a_fresh_code_and_no_session_starts_without_one(
    client: FlaskClient, session: Session
) -> None:
    user = factories.make_user(session, role="manager")
    session.commit()
    before = _sessions(session)
    for totp in ("", "123456", "abcdef", "9" * 30):
        response = client.post(
            "/login", data={"username": user.username, "password": PASSWORD, "totp": totp}
        )
        assert response.status_code in (200, 400)  # 400: a number no column holds
    assert _sessions(session) == before
    fields = {"username": user.username, "password": PASSWORD, "totp": _code()}
    assert client.post("/login", data=fields).status_code == 302
    assert client.get("/account").status_code == 200
    client.post("/logout")
    # The same code again (a replay, e.g. shoulder-surfed) is refused.
    assert client.post("/login", data=fields).status_code == 200


def test_owners_and_roles_without_two_factor_log_in_with_a_password(
    client: FlaskClient, session: Session
) -> None:
    for role in ("owner", "cs", "engineer", "committee"):
        user = factories.make_user(session, role=role)
        session.commit()
        response = client.post("/login", data={"username": user.username, "password": PASSWORD})
        assert response.status_code == 302
        assert "two-factor" not in response.headers["Location"]
        assert client.get("/account").status_code == 200
        client.post("/logout")


def test_api_token_needs_the_code_for_two_factor_staff(
    client: FlaskClient, session: Session
) -> None:
    enrolled = factories.make_user(session, role="collector")
    unenrolled = factories.make_user(session, role="admin", totp=False)
    session.commit()
    for user in (enrolled, unenrolled):
        response = client.post(
            "/api/v1/auth/token", json={"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 401
        assert response.json["error"]["code"] == "totp_required"
    wrong = client.post(
        "/api/v1/auth/token",
        json={"username": enrolled.username, "password": PASSWORD, "totp": "000000"},
    )
    assert wrong.status_code == 401
    ok = client.post(
        "/api/v1/auth/token",
        json={"username": enrolled.username, "password": PASSWORD, "totp": _code()},
    )
    assert ok.status_code == 201


def test_codes_of_the_neighbouring_step_pass_and_older_ones_do_not(
    app: Flask, session: Session
) -> None:
    user = factories.make_user(session, role="finance")
    session.commit()
    assert two_factor.verify(
        session, user=user, code=_code(at=NOW - timedelta(seconds=30)), now=NOW
    )
    stale = NOW - timedelta(minutes=5)
    assert not two_factor.verify(session, user=user, code=_code(at=stale), now=NOW)


def test_users_create_enrols_a_scripted_secret(runner: FlaskCliRunner, session: Session) -> None:
    community = factories.make_community(session, code="TF1")
    session.commit()
    result = runner.invoke(
        args=[
            "users", "create", "ops-finance", "--password", "long-enough-pass-1",
            "--role", "finance", "--community", "TF1", "--totp-secret", TOTP_SECRET,
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    bad = runner.invoke(
        args=[
            "users", "create", "ops-finance-2", "--password", "long-enough-pass-1",
            "--role", "finance", "--community", "TF1", "--totp-secret", "not base32!",
        ]
    )  # fmt: skip
    assert bad.exit_code != 0
    assert "Base32" in bad.output
    user = factories.accounts.get_user(session, "ops-finance")
    assert two_factor.is_enrolled(session, user)
    assert community.id
