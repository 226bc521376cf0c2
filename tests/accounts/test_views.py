from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from tests import factories
from tests.factories import PASSWORD


def test_login_and_logout(client: FlaskClient, session: Session) -> None:
    user = factories.make_user(session, role="owner", display_name="王芳")
    session.commit()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    html = client.get("/").get_data(as_text=True)
    assert "王芳" in html
    assert "我的房屋" in html
    assert client.post("/logout").status_code == 302
    assert "我的房屋" not in client.get("/").get_data(as_text=True)


def test_wrong_password_and_unknown_user_get_one_generic_message(
    client: FlaskClient, session: Session
) -> None:
    user = factories.make_user(session, role="owner")
    session.commit()
    wrong = client.post("/login", data={"username": user.username, "password": "nope"})
    unknown = client.post("/login", data={"username": "ghost", "password": "nope"})
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert "用户名或密码不正确" in response.get_data(as_text=True)
    assert client.get("/account/password").status_code == 302  # still anonymous


def test_login_follows_only_local_next(client: FlaskClient, session: Session) -> None:
    user = factories.make_user(session, role="owner")
    session.commit()
    response = client.post(
        "/login",
        data={"username": user.username, "password": PASSWORD, "next": "https://evil.example/x"},
    )
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = client.post(
        "/login",
        data={"username": user.username, "password": PASSWORD, "next": "/account/password"},
    )
    assert response.headers["Location"] == "/account/password"


def test_failed_logins_are_rate_limited(make_app: Any, session: Session) -> None:
    app: Flask = make_app(LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    with app.app_context():
        from portal.extensions import db

        user = factories.make_user(db.session, role="owner")
        db.session.commit()
        username = user.username
    for _ in range(3):
        assert (
            client.post("/login", data={"username": username, "password": "x"}).status_code == 200
        )
    blocked = client.post("/login", data={"username": username, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "操作过于频繁" in blocked.get_data(as_text=True)


def test_successful_logins_do_not_count_against_the_limit(make_app: Any) -> None:
    app: Flask = make_app(LOGIN_RATE_LIMIT="2 per minute")
    client = app.test_client()
    with app.app_context():
        from portal.extensions import db

        user = factories.make_user(db.session, role="owner")
        db.session.commit()
        username = user.username
    for _ in range(4):
        assert (
            client.post("/login", data={"username": username, "password": PASSWORD}).status_code
            == 302
        )
        client.post("/logout")


def test_missing_csrf_token_is_refused_and_writes_nothing(make_app: Any) -> None:
    app: Flask = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        from portal.extensions import db

        user = factories.make_user(db.session, role="owner")
        db.session.commit()
        username = user.username
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 400
    assert "表单已过期或不完整" in response.get_data(as_text=True)
    assert client.get("/account/password").status_code == 302
    # With a real token from the form it works.
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    ok = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert ok.status_code == 302
    # A logged-in POST without the token is refused with 400 and changes nothing.
    before = _hash(app, username)
    bad = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "brand-new-2026",
            "confirm": "brand-new-2026",
        },
    )
    assert bad.status_code in (200, 400)
    assert _hash(app, username) == before


def _hash(app: Flask, username: str) -> str | None:
    with app.app_context():
        from portal.extensions import db

        return db.session.scalar(select(User.password_hash).where(User.username == username))


def test_password_change(client: FlaskClient, login_as: Any, session: Session) -> None:
    user = login_as("owner")
    response = client.post(
        "/account/password",
        data={
            "current_password": "wrong",
            "new_password": "brand-new-2026",
            "confirm": "brand-new-2026",
        },
    )
    assert "当前密码不正确" in response.get_data(as_text=True)
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "short", "confirm": "short"},
    )
    assert "密码至少 12 位" in response.get_data(as_text=True)
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "brand-new-2026",
            "confirm": "brand-new-2026",
        },
    )
    assert response.status_code == 302
    session.expire_all()
    from portal.accounts import service

    assert service.authenticate(session, username=user.username, password="brand-new-2026")


def test_logout_needs_post(client: FlaskClient, login_as: Any) -> None:
    login_as("owner")
    assert client.get("/logout").status_code == 405
    assert client.get("/account/password").status_code == 200  # still logged in


def test_nothing_written_on_failed_login(client: FlaskClient, session: Session) -> None:
    before = session.scalar(select(func.count(User.id)))
    client.post("/login", data={"username": "ghost", "password": "x"})
    assert session.scalar(select(func.count(User.id))) == before
