"""One story of what is payable: held amounts, payable amounts and days overdue agree on the
bills list, the bill page, the home card, the pay page, the API and the payment intent."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import dues
from portal.billing.models import Bill
from portal.disputes import intake
from portal.payments.models import PaymentIntent
from tests import factories
from tests.factories import NOW
from tests.payments.helpers import post_callback

HELD_TEXT = "应缴 ¥200.00（另有 ¥50.00 异议处理中，暂缓缴纳）"
AFTER_TEXT = "应缴 ¥0.00（另有 ¥50.00 异议处理中，暂缓缴纳）"


def text(response: Any) -> str:
    """The page as a person reads it: tags dropped, whitespace collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).replace(" （", "（")


def _owner_with_held_bill(session: Session) -> tuple[Any, Bill]:
    """An owner of a ¥250 bill (2026-09, due 2026-09-16) of which ¥50 is contested."""
    unit, bills = factories.make_billed_unit(session)
    owner = factories.make_user(session, role="owner", unit=unit)
    intake.open_dispute(
        session,
        owner=owner,
        target_type="bill_line",
        target_id=bills[0].lines[0].id,
        reason="wrong_area",
        statement="房产证面积 80㎡，账单按 100㎡ 计。",
        requested_outcome="credit",
        requested_amount_fen=5_000,
        now=NOW,
    )
    session.commit()
    return owner, bills[0]


def _token(client: FlaskClient, username: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/token", json=factories.login_fields(username)).json
    return {"Authorization": f"Bearer {token['token']}"}


def _login(client: FlaskClient, username: str) -> None:
    response = client.post("/login", data=factories.login_fields(username))
    assert response.status_code == 302


# ---------------------------------------------------------------- the service


def test_bill_dues_split_outstanding_into_payable_and_held(session: Session) -> None:
    _owner, bill = _owner_with_held_bill(session)
    figures = dues.bill_dues(session, bills=[bill], now=NOW)[bill.id]
    assert (figures.outstanding_fen, figures.held_fen, figures.payable_fen) == (
        25_000,
        5_000,
        20_000,
    )
    assert figures.days_overdue == (NOW.date() - bill.due_date).days == 65
    assert figures.line_held == {bill.lines[0].id: 5_000}
    unit = dues.unit_dues(session, unit_ids=[bill.unit_id], now=NOW)[bill.unit_id]
    assert (unit.payable_fen, unit.held_fen, unit.paid_fen) == (20_000, 5_000, 0)
    assert (unit.overdue_fen, unit.overdue_bills, unit.max_days_overdue) == (20_000, 1, 65)
    # before the due date nothing is overdue; without a clock only amounts are computed
    early = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)
    assert dues.bill_dues(session, bills=[bill], now=early)[bill.id].days_overdue == 0
    assert dues.bill_dues(session, bills=[bill], now=None)[bill.id].days_overdue == 0
    assert dues.unit_dues(session, unit_ids=[], now=NOW) == {}


def test_a_wholly_held_bill_is_not_overdue(session: Session) -> None:
    unit, bills = factories.make_billed_unit(session)
    owner = factories.make_user(session, role="owner", unit=unit)
    intake.open_dispute(
        session,
        owner=owner,
        target_type="bill_line",
        target_id=bills[0].lines[0].id,
        reason="wrong_area",
        statement="整张账单面积算错了。",
        requested_outcome="correction",
        now=NOW,
    )
    figures = dues.bill_dues(session, bills=bills, now=NOW)[bills[0].id]
    assert (figures.payable_fen, figures.held_fen, figures.days_overdue) == (0, 25_000, 0)


# ---------------------------------------------------------------- pages and API agree


def test_every_page_and_the_api_tell_the_same_held_story(
    client: FlaskClient, session: Session
) -> None:
    owner, bill = _owner_with_held_bill(session)
    _login(client, owner.username)

    bills_page = text(client.get("/bills"))
    assert HELD_TEXT in bills_page
    assert "逾期 65 天" in bills_page
    assert "已缴 ¥0.00" in bills_page
    assert "逾期 ¥200.00" in bills_page
    detail = text(client.get(f"/bills/{bill.id}"))
    assert HELD_TEXT in detail
    assert "缴纳 ¥200.00" in detail
    assert "缴纳 ¥250.00" not in detail
    home = text(client.get("/"))
    assert HELD_TEXT in home
    assert "去缴费" in home
    pay = text(client.get(f"/pay?bill_ids={bill.id}"))
    assert HELD_TEXT in pay
    assert "去支付 ¥200.00" in pay

    auth = _token(client, owner.username)
    one = client.get(f"/api/v1/bills/{bill.id}", headers=auth).json
    assert (one["outstanding_fen"], one["held_fen"], one["payable_fen"]) == (25_000, 5_000, 20_000)
    assert one["days_overdue"] == 65
    assert one["lines"][0]["held_fen"] == 5_000
    listing = client.get("/api/v1/me/bills", headers=auth).json
    assert listing["bills"][0]["payable_fen"] == 20_000
    assert listing["payable_fen"] == 20_000
    assert listing["total"] == 1

    body = {"bill_ids": [bill.id], "channel": "sandbox", "idempotency_key": "held-1"}
    intent = client.post("/api/v1/payments", json=body, headers=auth).json
    assert intent["amount_fen"] == 20_000 == one["payable_fen"]
    assert post_callback(client, intent["out_trade_no"], 20_000).status_code == 200

    # After paying the payable part: ¥50 held, nothing payable, and no button anywhere
    # that would lead to the pay page's refusal.
    home = client.get("/")
    assert AFTER_TEXT in text(home)
    assert "去缴费" not in text(home)
    bills_html = client.get("/bills").get_data(as_text=True)
    assert AFTER_TEXT in text(client.get("/bills"))
    assert 'name="bill_ids"' not in bills_html
    assert "缴纳所选账单" not in bills_html
    assert "逾期" not in text(client.get(f"/bills/{bill.id}")).replace("逾期 ¥0.00", "")
    detail_html = client.get(f"/bills/{bill.id}").get_data(as_text=True)
    assert "/pay" not in detail_html
    assert AFTER_TEXT in text(client.get(f"/bills/{bill.id}"))
    after = client.get(f"/api/v1/bills/{bill.id}", headers=auth).json
    assert (after["outstanding_fen"], after["held_fen"], after["payable_fen"]) == (5_000, 5_000, 0)
    assert after["days_overdue"] == 0
    # the pay page itself still refuses clearly and creates nothing
    before = session.scalar(select(func.count(PaymentIntent.id)))
    refused = client.get(f"/pay?bill_ids={bill.id}", follow_redirects=True)
    assert "异议处理中" in text(refused)
    again = {"bill_ids": [bill.id], "channel": "sandbox", "idempotency_key": "held-2"}
    response = client.post("/api/v1/payments", json=again, headers=auth)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "on_hold"
    assert session.scalar(select(func.count(PaymentIntent.id))) == before


def test_bills_list_paginates_and_bad_api_paging_is_refused(
    client: FlaskClient, session: Session
) -> None:
    periods = tuple(f"2024-{m:02d}" for m in range(1, 13)) + tuple(
        f"2025-{m:02d}" for m in range(1, 13)
    )
    unit, bills = factories.make_billed_unit(session, periods=(*periods, "2026-01"))
    owner = factories.make_user(session, role="owner", unit=unit)
    session.commit()
    _login(client, owner.username)
    first = client.get("/bills").get_data(as_text=True)
    assert "第 1 / 2 页" in first
    second = client.get("/bills?page=2").get_data(as_text=True)
    seen = set(re.findall(r'href="/bills/(\d+)"', first)) | set(
        re.findall(r'href="/bills/(\d+)"', second)
    )
    assert seen == {str(b.id) for b in bills}
    auth = _token(client, owner.username)
    paged = client.get("/api/v1/me/bills?per_page=10&page=3", headers=auth).json
    assert (paged["total"], paged["pages"], len(paged["bills"])) == (25, 3, 5)
    for bad in ("per_page=0", "per_page=501", "page=0"):
        response = client.get(f"/api/v1/me/bills?{bad}", headers=auth)
        assert response.status_code == 422, bad
        assert "error" in response.json


def test_other_owners_unit_ledger_and_bill_are_404(client: FlaskClient, session: Session) -> None:
    _owner, bill = _owner_with_held_bill(session)
    stranger = factories.make_user(session, role="owner")
    session.commit()
    _login(client, stranger.username)
    assert client.get(f"/bills/{bill.id}").status_code == 404
    assert client.get(f"/units/{bill.unit_id}/ledger").status_code == 404
    assert HELD_TEXT not in text(client.get("/bills"))


def test_staff_bill_page_shows_the_same_payable_and_held(
    client: FlaskClient, session: Session
) -> None:
    _owner, bill = _owner_with_held_bill(session)
    finance = factories.make_user(session, role="finance", community=bill.unit.community)
    outsider = factories.make_user(session, role="finance")
    session.commit()
    _login(client, finance.username)
    page = text(client.get(f"/finance/bills/{bill.id}"))
    assert HELD_TEXT in page
    assert "逾期 65 天" in page
    client.post("/logout")
    _login(client, outsider.username)
    assert client.get(f"/finance/bills/{bill.id}").status_code == 404
