"""Server-side sessions: a copied cookie or remember cookie stops working when its session ends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts import service as accounts
from portal.accounts.models import ApiToken, UserSession
from tests import factories
from tests.factories import PASSWORD


def _login(client: FlaskClient, username: str, **extra: Any) -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD, **extra})
    assert response.status_code == 302, response.get_data(as_text=True)


def _copy(app: Flask, source: FlaskClient, *names: str) -> FlaskClient:
    """A second client holding copies of `source`'s cookies (an attacker's stolen copy)."""
    thief = app.test_client()
    for name in names:
        cookie = source.get_cookie(name)
        if cookie is not None:
            thief.set_cookie(name, cookie.value)
    return thief


def _logged_in(client: FlaskClient) -> bool:
    return client.get("/account").status_code == 200


def test_the_cookie_holds_a_random_session_id_not_the_user_id(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    user = factories.make_user(session, role="owner")
    session.commit()
    _login(client, user.username, remember="y")
    remember = client.get_cookie("remember_token")
    assert remember is not None
    assert not remember.value.startswith(f"{user.id}|")
    row = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert row.token_hash not in remember.value  # only the hash is stored, never the id


def test_a_copied_session_cookie_stops_at_logout(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    user = factories.make_user(session, role="owner")
    session.commit()
    _login(client, user.username)
    thief = _copy(app, client, "session")
    assert _logged_in(thief)
    client.post("/logout")
    assert not _logged_in(thief)


def test_a_copied_remember_cookie_stops_after_a_password_change(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    user = factories.make_user(session, role="owner")
    session.commit()
    other_device = app.test_client()
    _login(other_device, user.username, remember="y")
    thief = _copy(app, other_device, "remember_token")  # the one-year cookie alone
    assert _logged_in(thief)
    _login(client, user.username)
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "brand-new-2026!",
            "confirm": "brand-new-2026!",
        },
    )
    assert response.status_code == 302
    assert not _logged_in(thief)
    assert not _logged_in(other_device)
    assert _logged_in(client)  # the device that changed it stays in


def test_idle_and_absolute_timeouts(
    app: Flask, client: FlaskClient, session: Session, clock: Any
) -> None:
    user = factories.make_user(session, role="owner")
    session.commit()
    _login(client, user.username)
    clock.advance(minutes=59)
    assert _logged_in(client)
    clock.advance(minutes=59)  # the request 59 minutes ago restarted the idle clock
    assert _logged_in(client)
    clock.advance(minutes=61)
    assert not _logged_in(client)  # idle for longer than an hour

    _login(client, user.username)
    for _ in range(14):  # active every 55 minutes, yet 12 hours after log-in it ends
        clock.advance(minutes=55)
        alive = _logged_in(client)
    assert not alive


def test_remember_me_outlives_the_idle_timeout_but_not_the_absolute_one(
    app: Flask, client: FlaskClient, session: Session, clock: Any
) -> None:
    user = factories.make_user(session, role="owner")
    session.commit()
    _login(client, user.username, remember="y")
    clock.advance(days=3)
    assert _logged_in(client)
    clock.advance(days=15)
    assert not _logged_in(client)


def test_account_page_lists_sessions_and_ends_one_or_all(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    user = factories.make_user(session, role="owner")
    session.commit()
    phone = app.test_client()
    phone.post(
        "/login",
        data={"username": user.username, "password": PASSWORD},
        headers={"User-Agent": "PhoneBrowser/1.0"},
    )
    _login(client, user.username)
    html = client.get("/account").get_data(as_text=True)
    assert "PhoneBrowser/1.0" in html
    assert "本设备" in html
    phone_row = session.scalar(
        select(UserSession).where(UserSession.user_agent == "PhoneBrowser/1.0")
    )
    assert client.post(f"/account/sessions/{phone_row.id}/end").status_code == 302
    assert not _logged_in(phone)
    assert _logged_in(client)
    # "log out everywhere" ends this device too
    _login(phone, user.username)
    assert client.post("/account/sessions/end-all").status_code == 302
    assert not _logged_in(client)
    assert not _logged_in(phone)


def test_another_users_session_or_token_is_404_and_untouched(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    owner = factories.make_user(session, role="owner")
    other = factories.make_user(session, role="owner")
    session.commit()
    victim = app.test_client()
    _login(victim, other.username)
    token = accounts.issue_token(session, user=other, now=factories.NOW, ttl=timedelta(days=1))
    session.commit()
    _login(client, owner.username)
    row = session.scalar(select(UserSession).where(UserSession.user_id == other.id))
    token_row = session.scalar(select(ApiToken).where(ApiToken.user_id == other.id))
    assert client.post(f"/account/sessions/{row.id}/end").status_code == 404
    assert client.post(f"/account/tokens/{token_row.id}/revoke").status_code == 404
    assert _logged_in(victim)
    session.expire_all()
    assert session.get(ApiToken, token_row.id).revoked_at is None
    assert token.token


def test_own_api_token_can_be_revoked(app: Flask, client: FlaskClient, session: Session) -> None:
    owner = factories.make_user(session, role="owner")
    issued = accounts.issue_token(session, user=owner, now=factories.NOW, ttl=timedelta(days=1))
    session.commit()
    _login(client, owner.username)
    assert "有效至" in client.get("/account").get_data(as_text=True)
    token_id = session.scalar(select(ApiToken.id).where(ApiToken.user_id == owner.id))
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    api = client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued.token}"})
    assert api.status_code == 401


def test_a_role_change_or_disabling_ends_the_users_sessions(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    community = factories.make_community(session)
    user = factories.make_user(session, role="cs", community=community)
    session.commit()
    _login(client, user.username)
    accounts.grant_role(session, user=user, role="engineer", community_id=community.id)
    session.commit()
    assert not _logged_in(client)
    _login(client, user.username)
    accounts.set_active(session, user=user, active=False, now=factories.NOW)
    session.commit()
    assert not _logged_in(client)
    assert (
        session.scalar(
            select(func.count()).select_from(UserSession).where(UserSession.revoked_at.is_(None))
        )
        == 0
    )
