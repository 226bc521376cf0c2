"""A repair request end to end on a phone-sized screen: file with a photo, handle, rate, count."""

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.tickets.models import Ticket
from tests import factories
from tests.tickets.util import jpeg_bytes, make_world

pytestmark = pytest.mark.browser


def _login(page: Any, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    fields = factories.login_fields(username)
    if "totp" in fields:  # staff with two-factor
        page.fill("input[name=totp]", fields["totp"])
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, page.url


def test_owner_files_staff_resolve_owner_rates_and_statistics_count_it(
    live_server: str, page: Any, session: Session
) -> None:
    world = make_world(session, code="BRW", is_public=True)
    session.commit()

    # The owner files a request with a photo.
    _login(page, live_server, world.owner.username)
    page.goto(live_server + "/tickets/new")
    _no_sideways_scroll(page)
    page.select_option("select[name=category]", "plumbing_electric")
    page.fill("textarea[name=description]", "厨房水槽下水管漏水")
    page.set_input_files(
        "#photos", files=[{"name": "leak.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}]
    )
    page.click("text=提交报修")
    page.wait_for_url("**/tickets/*")
    assert page.locator("text=BRW-00001").first.is_visible()
    assert page.locator(".tk-status", has_text="已提交").first.is_visible()
    photo = page.locator(".tk-photos img").first
    photo.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", photo.element_handle())
    _no_sideways_scroll(page)
    ticket = session.scalar(select(Ticket))
    assert ticket is not None

    # Customer service acknowledges, dispatches, and it is resolved.
    _login(page, live_server, world.cs.username)
    page.goto(live_server + "/staff/tickets")
    assert page.locator("text=BRW-00001").first.is_visible()
    _no_sideways_scroll(page)
    page.goto(f"{live_server}/staff/tickets/{ticket.id}")
    page.click("button:has-text('受理')")
    assert page.locator(".flash-success", has_text="已受理").is_visible()
    page.click("summary:has-text('完工')")
    page.fill("#resolve-note", "已更换下水管接头，试水正常")
    page.click("button:has-text('标记已解决')")
    assert page.locator(".tk-status", has_text="已解决").first.is_visible()
    _no_sideways_scroll(page)

    # The owner sees the timeline and rates it.
    _login(page, live_server, world.owner.username)
    page.goto(f"{live_server}/tickets/{ticket.id}")
    assert page.locator("text=已更换下水管接头，试水正常").is_visible()
    page.check("input[name=score][value='5']")
    page.fill("#rating-comment", "很快，谢谢师傅")
    page.click("button:has-text('提交评价')")
    assert page.locator(".flash-success", has_text="谢谢您的评价").is_visible()
    assert page.locator("text=★★★★★").first.is_visible()

    # The public statistics count it.
    page.context.clear_cookies()
    page.goto(live_server + "/c/BRW/responsiveness?months=3")
    row = page.locator("table").first.locator("tr", has_text="水电")
    assert row.locator("td").first.inner_text().strip() == "1"
    assert page.locator("text=样本不足").first.is_visible()
    page.locator("#chart-hours.chart-ready").wait_for()
    _no_sideways_scroll(page)
    assert page.console_errors == []
