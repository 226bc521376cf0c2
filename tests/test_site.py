from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_landing_lists_public_communities_only(client: FlaskClient, session: Session) -> None:
    factories.make_community(session, code="OPEN1", name="公开花园", is_public=True)
    factories.make_community(session, code="HID1", name="内部小区", is_public=False)
    session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "公开花园" in html
    assert "内部小区" not in html
    assert 'lang="zh-CN"' in html


def test_english_switch(client: FlaskClient) -> None:
    response = client.get("/lang/en?next=/login")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    html = client.get("/login").get_data(as_text=True)
    assert "Log in" in html
    assert 'lang="en"' in html
    client.get("/lang/zh_Hans_CN")
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_language_switch_refuses_offsite_next(client: FlaskClient) -> None:
    response = client.get("/lang/en?next=https://evil.example/")
    assert response.headers["Location"] == "/"


def test_accept_language_english(client: FlaskClient) -> None:
    html = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(
        as_text=True
    )
    assert "Log in" in html


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_unknown_page_is_friendly_html(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)
