from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests import factories

pytestmark = pytest.mark.browser


def test_owner_pays_with_sandbox_and_sees_receipt(
    live_server: str, page: Any, session: Session
) -> None:
    unit, _bills = factories.make_billed_unit(session, periods=("2026-09", "2026-10"))
    owner = factories.make_user(session, role="owner", unit=unit, display_name="李娜")
    session.commit()
    page.goto(live_server + "/login")
    page.fill("input[name=username]", owner.username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.goto(live_server + "/bills")
    assert page.locator(".bill-item").count() == 2
    page.click("text=缴纳所选账单")
    assert "¥500.00" in page.locator("tfoot").inner_text()
    page.click("button:has-text('去支付')")
    # Each click navigates: wait for the next page's text (a timeout fails the test).
    page.locator("text=测试模式").wait_for(state="visible")
    page.click("text=模拟支付成功")
    page.locator("h1", has_text="支付成功").wait_for()
    page.click("text=查看收据")
    page.locator("h1", has_text="物业费收据").wait_for()
    assert page.locator("h1").inner_text() == "物业费收据"
    assert "¥500.00" in page.locator("tfoot").inner_text()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    assert page.console_errors == []
    page.goto(live_server + "/bills?status=unpaid")
    assert page.locator(".bill-item").count() == 0
