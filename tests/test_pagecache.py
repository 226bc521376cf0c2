"""Cached public pages: hits, 304s, invalidation by the data version, never personal."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import pagecache
from portal.communities.models import Community
from portal.tickets.models import TicketCategory
from portal.transparency.models import SpendingItem
from tests import factories
from tests.transparency import helpers

TOKEN = re.compile(r'X-CSRFToken": "([^"]+)"')


def _without_token(html: str) -> str:
    return TOKEN.sub("", html)


def _open(session: Session) -> Community:
    community = factories.make_community(session, code="OPEN", name="公开小区")
    actor = helpers.finance(session, community)
    helpers.published(session, community, actor, amount_fen=100_000)
    session.commit()
    return community


def test_second_visit_is_a_hit_then_a_304(client: FlaskClient, session: Session) -> None:
    _open(session)
    first = client.get("/c/OPEN")
    assert first.status_code == 200
    assert first.headers["X-Page-Cache"] == "miss"
    assert first.headers["ETag"]
    assert first.headers["Last-Modified"]
    second = client.get("/c/OPEN")
    assert second.headers["X-Page-Cache"] == "hit"
    assert _without_token(second.get_data(as_text=True)) == _without_token(
        first.get_data(as_text=True)
    )
    again = client.get("/c/OPEN", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""
    since = client.get("/c/OPEN", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    english = client.get("/c/OPEN?lang=en")
    assert english.headers["X-Page-Cache"] == "miss"
    assert english.headers["ETag"] != first.headers["ETag"]


def test_a_write_to_the_community_changes_the_page(client: FlaskClient, session: Session) -> None:
    community = _open(session)
    first = client.get("/c/OPEN/spending")
    assert "1,000.00" in first.get_data(as_text=True)
    helpers.published(session, community, helpers.finance(session, community), amount_fen=7_654_300)
    session.commit()
    stale = client.get("/c/OPEN/spending", headers={"If-None-Match": first.headers["ETag"]})
    assert stale.status_code == 200
    assert stale.headers["X-Page-Cache"] == "miss"
    assert "76,543.00" in stale.get_data(as_text=True)


def test_bulk_statements_and_rollbacks(session: Session) -> None:
    community = _open(session)
    before = pagecache.versions(session, community.id)
    session.execute(update(SpendingItem).values(description="改"))  # cannot be pinned: global
    session.commit()
    after = pagecache.versions(session, community.id)
    assert after[1] == before[1] + 1
    session.execute(update(SpendingItem).values(description="又改"))
    session.rollback()
    assert pagecache.versions(session, community.id)[1] == after[1]
    other = factories.make_community(session)
    session.commit()
    assert pagecache.versions(session, community.id)[0] == after[0]  # another community's row
    assert pagecache.versions(session, other.id)[0] >= 1


def test_logged_in_pages_are_never_cached_or_shared(
    client: FlaskClient, session: Session, login_as: object
) -> None:
    community = _open(session)
    owner = factories.make_user(session, community=community, display_name="王小明")
    session.commit()
    client.post("/login", data=factories.login_fields(owner.username))
    mine = client.get("/c/OPEN")
    assert "X-Page-Cache" not in mine.headers
    assert "王小明" in mine.get_data(as_text=True)
    client.post("/logout")
    anonymous = client.get("/c/OPEN")
    assert "王小明" not in anonymous.get_data(as_text=True)


def test_each_visitor_gets_their_own_csrf_token(
    client: FlaskClient, session: Session, app: object
) -> None:
    _open(session)
    other = app.test_client()  # type: ignore[attr-defined]
    pattern = TOKEN
    mine = pattern.search(client.get("/c/OPEN").get_data(as_text=True))
    theirs = other.get("/c/OPEN")
    assert theirs.headers["X-Page-Cache"] == "hit"
    found = pattern.search(theirs.get_data(as_text=True))
    assert mine
    assert found
    assert mine.group(1) != found.group(1)
    assert pagecache.CSRF_MARK not in theirs.get_data(as_text=True)


def test_private_community_stays_private(client: FlaskClient, session: Session) -> None:
    factories.make_community(session, code="SHUT", is_public=False)
    session.commit()
    assert client.get("/c/SHUT").status_code == 404
    assert client.get("/api/v1/communities/SHUT/stats").status_code == 404


def test_api_stats_revalidate(client: FlaskClient, session: Session) -> None:
    _open(session)
    first = client.get("/api/v1/communities/OPEN/stats")
    assert first.status_code == 200
    assert "Set-Cookie" not in first.headers
    again = client.get(
        "/api/v1/communities/OPEN/stats", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_responsiveness_get_writes_nothing(client: FlaskClient, session: Session) -> None:
    factories.make_community(session, code="OPEN")
    session.commit()
    before = pagecache.versions(session, session.scalar(select(Community.id)))
    assert client.get("/c/OPEN/responsiveness").status_code == 200
    assert client.get("/api/v1/communities/OPEN/responsiveness").status_code == 200
    assert session.scalar(select(func.count(TicketCategory.id))) == 0
    assert pagecache.versions(session, session.scalar(select(Community.id))) == before


def _signed_in_page(app: Flask, username: str, url: str) -> str:
    """`url` as `username` sees it, checked to be rendered for them (not a cached page)."""
    client = app.test_client()
    assert client.post("/login", data=factories.login_fields(username)).status_code in (302, 303)
    page = client.get(url)
    assert page.status_code == 200
    assert page.headers.get("X-Page-Cache", "") == ""
    return page.get_data(as_text=True)


def test_signed_in_readers_share_the_figures_not_the_page(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The responsiveness figures are computed once per data version for everyone; the page
    around them is rendered per reader (their own name and menu), never served from the cache."""
    from portal.tickets import stats

    community = _open(session)
    owners = [factories.make_user(session, role="owner", community=community) for _ in range(2)]
    session.commit()
    computed = []
    real = stats.responsiveness

    def counting(*args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(stats, "responsiveness", counting)
    pages = [_signed_in_page(app, owner.username, "/c/OPEN/responsiveness") for owner in owners]
    assert len(computed) == 1
    assert owners[0].display_name in pages[0]
    assert owners[0].display_name not in pages[1]
    # A new ticket in the community is news: the next reader's figures are computed afresh.
    before = pagecache.versions(session, community.id)
    session.add(TicketCategory(community_id=community.id, code="x", name="新类别", position=9))
    session.commit()  # no flush first: the commit's own flush counts too
    assert pagecache.versions(session, community.id)[0] == before[0] + 1
    again = app.test_client()
    again.post("/login", data=factories.login_fields(owners[0].username))
    assert again.get("/c/OPEN/responsiveness").status_code == 200
    assert len(computed) == 2


def test_savepoints_bump_once_at_the_outer_commit(session: Session) -> None:
    """A savepoint's release bumps nothing (a batch may hold thousands); one rolled back keeps
    the outer transaction's marks; the outer commit bumps once."""
    community = _open(session)
    before = pagecache.versions(session, community.id)[0]
    session.add(TicketCategory(community_id=community.id, code="a", name="甲", position=1))
    session.flush()
    for code in ("b", "c"):
        with session.begin_nested():
            session.add(TicketCategory(community_id=community.id, code=code, name=code, position=2))
    assert pagecache.versions(session, community.id)[0] == before  # nothing bumped yet
    try:
        with session.begin_nested():
            session.add(TicketCategory(community_id=community.id, code="a", name="重", position=3))
            session.flush()  # the same code again: refused
    except IntegrityError:
        pass
    session.commit()
    assert pagecache.versions(session, community.id)[0] == before + 1


def test_signed_in_readers_share_the_community_page_body(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/c/<code>'s body (figures, tables, charts) is rendered once per data version for every
    owner; the page around it is theirs (name, menu), and what differs by viewer (the staff
    edit link) keeps its own copy. A new publication is news to the next reader."""
    from portal.transparency import summary

    community = _open(session)
    owners = [factories.make_user(session, role="owner", community=community) for _ in range(2)]
    editor = helpers.finance(session, community)
    session.commit()
    computed = []
    real = summary.spending_by_category

    def counting(*args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(summary, "spending_by_category", counting)

    def page_of(username: str) -> str:
        return _signed_in_page(app, username, "/c/OPEN")

    pages = [page_of(owner.username) for owner in owners]
    assert len(computed) == 1
    assert owners[0].display_name in pages[0]
    assert owners[0].display_name not in pages[1]
    assert all("1,000.00" in page for page in pages)
    assert all("录入与公开支出" not in page for page in pages)
    staff_page = page_of(editor.username)
    assert len(computed) == 2  # the editor's body has the edit link: a copy of its own
    assert "录入与公开支出" in staff_page
    helpers.published(session, community, editor, amount_fen=7_654_300)
    session.commit()
    fresh = page_of(owners[0].username)
    assert len(computed) == 3
    assert "77,543.00" in fresh  # the category total: 1,000.00 + 76,543.00
