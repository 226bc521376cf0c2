"""At 375 px no page scrolls sideways, in Chinese or English: the main owner and staff pages
of a seeded demo. Owners get a bottom tab bar; the staff menu folds behind one button."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal.demo.service import DEMO_PASSWORD
from portal.extensions import db
from portal.transparency.models import AnnualStatement, SpendingItem
from tests import factories

pytestmark = pytest.mark.browser
WIDTH = 375
OWNER_PAGES = [
    "/",
    "/bills",
    "/tickets",
    "/tickets/new",
    "/me",
    "/notices",
    "/disputes/",
    "/notify/inbox",
    "/responsiveness",
    "/c/DEMO1",
    "/c/DEMO1/fee-standards",
    "/c/DEMO1/late-fees",
    "/c/DEMO1/spending",
    "/c/DEMO1/funds",
    "/c/DEMO1/publication-log",
]
STAFF = ("demo-finance", "demo-manager", "demo-cs", "demo-collector", "demo-committee")


@pytest.fixture
def demo(app: Flask) -> Flask:
    result = app.test_cli_runner().invoke(
        args=["demo", "seed", "--communities", "1", "--units", "30", "--months", "13"]
    )
    assert result.exit_code == 0, result.output
    return app


def _login(page: Any, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    fields = factories.login_fields(username, DEMO_PASSWORD)
    if "totp" in fields:  # staff with two-factor (the demo's published secret)
        page.fill("input[name=totp]", fields["totp"])
    page.click("form button[type=submit]")
    page.wait_for_url(base + "/")


def _too_wide(page: Any, base: str, paths: list[str]) -> list[str]:
    found = []
    for lang in ("zh", "en"):
        for path in paths:
            sep = "&" if "?" in path else "?"
            response = page.goto(f"{base}{path}{sep}lang={lang}")
            assert response.status < 400, f"{path}: {response.status}"
            width = page.evaluate("() => document.scrollingElement.scrollWidth")
            if width > WIDTH:
                found.append(f"{path} ({lang}): {width}px")
    return found


def _menu_pages(page: Any) -> list[str]:
    hrefs = page.eval_on_selector_all(
        ".navfold-list a, .mainnav a, .subnav a", "e => e.map(x => x.getAttribute('href'))"
    )
    return [h for h in dict.fromkeys(hrefs) if h and h.startswith("/")]


def test_owner_pages_fit_a_phone(demo: Flask, live_server: str, page: Any) -> None:
    spending = db.session.scalar(select(SpendingItem.id).limit(1))
    year = db.session.scalar(select(AnnualStatement.year).limit(1))
    paths = [*OWNER_PAGES, f"/c/DEMO1/spending/{spending}"]
    if year:
        paths.append(f"/c/DEMO1/statements/{year}")
    _login(page, live_server, "demo-owner")
    tabbar = page.locator("nav.tabbar")
    assert tabbar.is_visible()
    assert tabbar.locator("a").count() == 5
    assert not page.locator("nav.mainnav").is_visible()
    assert _too_wide(page, live_server, paths) == []
    # A record's hash is shortened on screen; its copy button copies all of it.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server}/c/DEMO1/spending/{spending}?lang=zh")
    button = page.locator("button.copy").first
    full = button.get_attribute("data-copy")
    assert len(full) == 64
    assert full not in page.locator("main").inner_text()
    button.click()
    page.wait_for_function("() => document.querySelector('button.copy.copied') !== null")
    assert page.evaluate("() => navigator.clipboard.readText()") == full
    assert page.console_errors == []


def test_staff_pages_fit_a_phone_and_the_menu_folds(
    demo: Flask, live_server: str, page: Any
) -> None:
    for username in STAFF:
        page.context.clear_cookies()
        _login(page, live_server, username)
        fold = page.locator("details.navfold")
        assert fold.is_visible(), username
        first_link = fold.locator(".navfold-list a").first
        assert not first_link.is_visible()  # folded until the button is pressed
        fold.locator("summary").click()
        assert first_link.is_visible()
        paths = ["/", *_menu_pages(page)]
        if username in ("demo-finance", "demo-manager"):  # and their pages' sub-menus
            for path in list(paths):
                page.goto(live_server + path)
                paths += [p for p in _menu_pages(page) if p not in paths]
        assert _too_wide(page, live_server, paths) == [], username
    assert page.console_errors == []
