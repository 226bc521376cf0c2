"""Every demo role's menu works: each link in its navigation and home page answers 2xx/3xx.

The demo is seeded once for the module (seeding is the slow part); each role then logs in on
its own client and follows every link of its home page, and every menu and sub-menu link of
the pages its main menu leads to. A link a role may not open must not be shown to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from portal.demo.service import DEMO_PASSWORD
from tests import factories
from tests.conftest import seeded_demo_app

ROLES = (
    "demo-owner",
    "demo-owner-2",
    "demo-cs",
    "demo-engineer",
    "demo-finance",
    "demo-collector",
    "demo-manager",
    "demo-committee",
    "demo-admin",
)
SKIP_PREFIXES = ("/static/", "/lang/", "/logout")


class _Links(HTMLParser):
    """Collects hrefs, and separately those inside <nav> elements (menus and sub-menus)."""

    def __init__(self) -> None:
        super().__init__()
        self.all: list[str] = []
        self.nav: list[str] = []
        self._nav_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "nav":
            self._nav_depth += 1
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.all.append(href)
                if self._nav_depth:
                    self.nav.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self._nav_depth:
            self._nav_depth -= 1


def links_of(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def internal(hrefs: list[str]) -> list[str]:
    """Site-relative links worth following (no anchors, files, language switch or log-out)."""
    out = []
    for href in hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            continue
        if parts.path.startswith(SKIP_PREFIXES):
            continue
        url = parts.path + (f"?{parts.query}" if parts.query else "")
        if url not in out:
            out.append(url)
    return out


@pytest.fixture(scope="module")
def demo_app(_session_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One seeded demo for the whole module."""
    with seeded_demo_app(
        _session_database,
        tmp_path_factory.mktemp("menus"),
        *("--communities", "1", "--units", "30", "--months", "13"),
    ) as app:
        yield app


@pytest.mark.parametrize("username", ROLES)
def test_every_menu_link_of_every_role_answers(demo_app: Flask, username: str) -> None:
    client = demo_app.test_client()
    with demo_app.app_context():  # staff have two-factor: the demo's published secret
        fields = factories.login_fields(username, DEMO_PASSWORD)
    login = client.post("/login", data=fields)
    assert login.status_code == 302, login.get_data(as_text=True)[:500]
    home = client.get("/")
    assert home.status_code == 200
    home_links = links_of(home.get_data(as_text=True))
    to_visit = internal(home_links.all)
    assert to_visit, "the home page has no links"
    menu = internal(home_links.nav)
    failures: list[str] = []
    checked: dict[str, Any] = {}

    def check(url: str, origin: str) -> Any:
        """The page at url (after one redirect), or None when it failed; each URL once."""
        if url in checked:
            return checked[url]
        response = client.get(url)
        if response.status_code in (301, 302, 303):
            target = urlsplit(response.headers["Location"])
            response = client.get(target.path + (f"?{target.query}" if target.query else ""))
        if response.status_code >= 400:
            failures.append(f"{url} -> {response.status_code} (from {origin})")
            response = None
        checked[url] = response
        return response

    for url in to_visit:
        check(url, "home")
    # Menu targets: their own menus and sub-menus (e.g. finance's 收费管理 tabs) count too.
    for url in menu:
        response = check(url, "menu")
        if response is None or "html" not in response.content_type:
            continue
        for sub in internal(links_of(response.get_data(as_text=True)).nav):
            check(sub, f"menu of {url}")
    assert not failures, f"{username}: " + "; ".join(failures)
