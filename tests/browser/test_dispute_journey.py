"""A dispute end to end on a phone: the owner contests a late fee, finance proposes a credit,
the owner accepts, and the bill shows the credit with the dispute reference."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing import ledger
from portal.disputes.models import Dispute
from portal.money import fen_to_yuan_str
from tests import factories
from tests.disputes.helpers import make_world

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


def _visible(page: Any, selector: str, **kwargs: Any) -> bool:
    """Wait for the element (the page may still be loading after a click), then check it."""
    locator = page.locator(selector, **kwargs).first
    locator.wait_for(state="visible", timeout=10_000)
    return bool(locator.is_visible())


def _no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, page.url


def test_owner_contests_a_late_fee_and_sees_the_credit(
    live_server: str, page: Any, session: Session
) -> None:
    world = make_world(session, code="BRD", late_fees=True)
    session.commit()
    bill = world.bills[0]
    fee = world.line(0, kind="late_fee")
    amount = fen_to_yuan_str(fee.amount_fen)

    # The owner opens the bill and disputes the late-fee line.
    _login(page, live_server, world.owner.username)
    page.goto(f"{live_server}/bills/{bill.id}")
    _no_sideways_scroll(page)
    page.click(f"a[href*='target={fee.id}']")
    page.wait_for_url("**/disputes/new**")
    assert page.locator("select[name=reason]").input_value() == "late_fee"
    _no_sideways_scroll(page)
    page.fill("input[name=requested_amount]", amount)
    page.fill("textarea[name=statement]", "9 月账单的缴费通知没有送达，不应收取违约金。")
    page.click("button:has-text('提交异议')")
    page.wait_for_url("**/disputes/*")
    assert _visible(page, ".flash-success", has_text="异议已提交")
    assert _visible(page, ".dp-status", has_text="已提交")
    assert _visible(page, ".dp-hold")
    _no_sideways_scroll(page)
    dispute = session.scalar(select(Dispute))
    assert dispute is not None
    assert page.console_errors == []

    # Finance finds it in the queue and proposes crediting the whole late fee.
    _login(page, live_server, world.finance.username)
    page.goto(live_server + "/staff/disputes")
    _no_sideways_scroll(page)
    page.click(f"text={dispute.reference}")
    page.wait_for_url(f"**/staff/disputes/{dispute.id}")
    _no_sideways_scroll(page)
    page.check("input[name=kind][value=credit]")
    assert page.locator("input[name=amount]").input_value() == amount
    page.fill("textarea[name=body]", "核实通知确未送达，免除本期违约金。")
    page.click("button:has-text('提交方案')")
    assert _visible(page, ".flash-success", has_text="答复方案已发送给业主")
    assert page.console_errors == []

    # The owner accepts; the bill shows the credit and the dispute reference.
    _login(page, live_server, world.owner.username)
    page.goto(f"{live_server}/disputes/{dispute.id}")
    assert _visible(page, ".dp-offer", has_text=f"¥{amount}")
    _no_sideways_scroll(page)
    page.click("button:has-text('接受方案')")
    assert _visible(page, ".flash-success", has_text="异议已结案")
    assert _visible(page, ".dp-status", has_text="已结案")
    page.goto(f"{live_server}/bills/{bill.id}")
    assert _visible(page, "text=已减免 ¥" + amount)
    assert _visible(page, ".dp-line-row", has_text=dispute.reference)
    _no_sideways_scroll(page)
    page.goto(f"{live_server}/units/{world.unit.id}/ledger")
    assert _visible(page, f"text=异议 {dispute.reference}")
    assert page.console_errors == []
    session.expire_all()
    session.refresh(fee)
    assert fee.outstanding_fen == 0
    assert ledger.check(session).ok
