from typing import Any

import pytest
from sqlalchemy.orm import Session

from portal.transparency import budgets, queries
from portal.transparency import service as spending
from tests import factories
from tests.factories import NOW
from tests.transparency import helpers
from tests.transparency.test_views import FakeBilling

pytestmark = pytest.mark.browser


def test_public_transparency_page_draws_charts_and_tables(
    live_server: str, page: Any, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "billing_service", lambda: FakeBilling())
    community = factories.make_community(session, code="SHOW", name="明账花园")
    actor = helpers.finance(session, community)
    helpers.published(session, community, actor, amount_fen=1_280_050)
    helpers.published(
        session,
        community,
        actor,
        amount_fen=350_000,
        code="energy.power",
        description="公共区域电费",
    )
    budget = budgets.start_budget(session, community=community, year=2026, actor=actor, now=NOW)
    tops = {c.code: c.id for c in spending.top_categories(session, community_id=community.id)}
    budgets.set_lines(
        session,
        budget=budget,
        amounts={tops["cleaning"]: 1_000_000, tops["energy"]: 2_000_000},
        note="",
        actor=actor,
        now=NOW,
    )
    budgets.publish_budget(session, budget=budget, community=community, actor=actor, now=NOW)
    session.commit()

    page.goto(live_server + "/c/SHOW?year=2026")
    page.wait_for_selector("#chart-categories.chart-ready .main-svg", timeout=15_000)
    for chart in (
        "chart-categories",
        "chart-trend",
        "chart-budget",
        "chart-rate-months",
        "chart-rate-buildings",
    ):
        assert page.locator(f"#{chart} .main-svg").count() >= 1, chart
    assert page.locator("#chart-categories .bars path").count() == 2
    table = page.locator("section[aria-labelledby=categories-heading] table")
    assert table.is_visible()
    assert "保洁" in table.inner_text()
    assert page.locator("text=¥12,800.50").first.is_visible()
    assert page.locator("text=超出预算").first.is_visible()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    assert page.console_errors == []
    page.click("text=逐笔明细与发票凭证 →")
    page.wait_for_selector("text=保洁外包服务费（11 月）")
    page.click("text=保洁外包服务费（11 月）")
    # The thumbnail has no height until it has loaded: wait for it (a loaded machine is slow).
    page.locator(".evidence img").first.wait_for(state="visible")
    assert page.locator(".evidence img").first.is_visible()
    page.click("text=核验记录")
    assert page.locator("text=verify_publication_log.py").first.is_visible()
    assert page.console_errors == []
