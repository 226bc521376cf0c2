"""axe-core finds nothing serious or critical on the owner and finance pages, at 375 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests import factories

pytestmark = pytest.mark.browser
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()


def _serious(page: Any) -> list[str]:
    page.evaluate(AXE)  # runs in the page without an inline <script>, so the CSP stays on
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# Every element outside a table's scroll box must fit the phone (stricter than scrollWidth).
WIDEST = """() => Math.max(0, ...[...document.querySelectorAll('main *')]
    .filter(e => !e.closest('.table-wrap'))
    .map(e => e.getBoundingClientRect().right)) - window.innerWidth"""


def _login(page: Any, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    fields = factories.login_fields(username)
    if "totp" in fields:  # staff with two-factor
        page.fill("input[name=totp]", fields["totp"])
    page.click("button[type=submit]")


def test_owner_pages_have_no_serious_violations(
    live_server: str, page: Any, session: Session
) -> None:
    unit, bills = factories.make_billed_unit(session, periods=("2026-09", "2026-10"))
    owner = factories.make_user(session, role="owner", unit=unit)
    session.commit()
    code = unit.community.code
    page.goto(live_server + "/")
    assert _serious(page) == []
    page.goto(live_server + "/login")
    assert _serious(page) == []
    _login(page, live_server, owner.username)
    for path in (
        "/",
        "/bills",
        f"/bills/{bills[0].id}",
        f"/units/{unit.id}/ledger",
        f"/pay?bill_ids={bills[0].id}",
        "/autodebit",
        f"/c/{code}/fee-standards",
    ):
        page.goto(live_server + path)
        assert _serious(page) == [], path
        assert page.console_errors == [], path
        assert page.evaluate(WIDEST) <= 1, path
    page.goto(live_server + "/lang/en")
    for path in (
        "/bills",
        f"/bills/{bills[0].id}",
        f"/units/{unit.id}/ledger",
        f"/pay?bill_ids={bills[0].id}",
    ):
        page.goto(live_server + path)
        assert page.evaluate(WIDEST) <= 1, f"{path} (English) is wider than the phone"


def test_finance_pages_have_no_serious_violations(
    live_server: str, page: Any, session: Session
) -> None:
    unit, _ = factories.make_billed_unit(session)
    finance = factories.make_user(session, role="finance", community=unit.community)
    session.commit()
    code = unit.community.code
    _login(page, live_server, finance.username)
    for path in (
        f"/finance/{code}",
        f"/finance/{code}/standards",
        f"/finance/{code}/billing",
        f"/finance/{code}/payments",
        f"/finance/{code}/payments/offline",
        f"/finance/{code}/refunds",
        f"/staff/communities/{code}/units",
    ):
        page.goto(live_server + path)
        assert _serious(page) == [], path
