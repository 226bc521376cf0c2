from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests import factories

pytestmark = pytest.mark.browser


def test_owner_logs_in_and_sees_home_in_chinese(
    live_server: str, page: Any, session: Session
) -> None:
    unit = factories.make_unit(session, code="A-3-1202")
    owner = factories.make_user(session, role="owner", unit=unit, display_name="王芳")
    session.commit()
    page.goto(live_server + "/")
    page.click("text=登录")
    page.fill("input[name=username]", owner.username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "您好，王芳"
    assert page.locator("text=我的房屋").is_visible()
    assert page.locator("text=A-3-1202").first.is_visible()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    assert page.console_errors == []
    page.click("text=English")
    assert page.locator("text=My homes").is_visible()
