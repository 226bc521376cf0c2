"""Receipts are findable: 我的收据 lists every payment of every unit an owner owns, paid bills
and ledger rows link their receipts, finance opens the receipts of its own community, and
anyone can check a receipt on the public verification page its QR code opens."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from portal.billing.models import Bill
from portal.communities import service as communities
from portal.payments import crediting, verification
from portal.payments.models import Payment
from tests import factories
from tests.factories import NOW
from tests.payments.helpers import post_callback


def _login(client: FlaskClient, username: str) -> None:
    response = client.post("/login", data=factories.login_fields(username))
    assert response.status_code == 302


def _offline(session: Session, unit: Any, actor: Any, ref: str, amount_fen: int) -> Payment:
    return crediting.record_offline_payment(
        session,
        unit=unit,
        channel="cash",
        reference=ref,
        amount_fen=amount_fen,
        received_on=date(2026, 11, 19),
        actor=actor,
        now=NOW,
    )


def _owner_of_two_units(session: Session) -> tuple[Any, Any, Any, Any]:
    """An owner of two units in two communities, each with a ¥250 bill, and a finance user of
    the first community."""
    unit_a, _bills_a = factories.make_billed_unit(session)
    unit_b, _bills_b = factories.make_billed_unit(session)
    owner = factories.make_user(session, role="owner", unit=unit_a)
    communities.add_ownership(session, user=owner, unit=unit_b, started_on=date(2024, 1, 1))
    finance = factories.make_user(session, role="finance", community=unit_a.community)
    session.commit()
    return owner, unit_a, unit_b, finance


def test_my_receipts_lists_online_and_finance_recorded_payments_of_every_unit(
    client: FlaskClient, session: Session
) -> None:
    owner, unit_a, unit_b, finance = _owner_of_two_units(session)
    cash = _offline(session, unit_b, finance, "CASH-1", 10_000)
    session.commit()
    _login(client, owner.username)
    bill_a = session.query(Bill).filter_by(unit_id=unit_a.id).one()
    body = {"bill_ids": [bill_a.id], "channel": "sandbox", "idempotency_key": "r1"}
    token = client.post("/api/v1/auth/token", json=factories.login_fields(owner.username)).json[
        "token"
    ]
    intent = client.post(
        "/api/v1/payments", json=body, headers={"Authorization": f"Bearer {token}"}
    ).json
    assert post_callback(client, intent["out_trade_no"], 25_000).status_code == 200
    online = session.query(Payment).filter_by(intent_id=intent["id"]).one()

    listing = client.get("/receipts").get_data(as_text=True)
    assert online.receipt.number in listing
    assert cash.receipt.number in listing
    assert "测试支付" in listing  # a sandbox payment says so on its receipt
    assert "现金" in listing
    # the paid bill and the unit's ledger link the receipt
    detail = client.get(f"/bills/{bill_a.id}").get_data(as_text=True)
    assert f'href="/receipts/{online.receipt.id}"' in detail
    ledger = client.get(f"/units/{unit_b.id}/ledger").get_data(as_text=True)
    assert f'href="/receipts/{cash.receipt.id}"' in ledger
    # the menu has 我的收据
    assert 'href="/receipts"' in client.get("/").get_data(as_text=True)


def test_my_receipts_paginates(client: FlaskClient, session: Session) -> None:
    unit, _ = factories.make_billed_unit(session)
    owner = factories.make_user(session, role="owner", unit=unit)
    finance = factories.make_user(session, role="finance", community=unit.community)
    numbers = [_offline(session, unit, finance, f"C{n}", 100).receipt.number for n in range(25)]
    session.commit()
    _login(client, owner.username)
    first = client.get("/receipts").get_data(as_text=True)
    second = client.get("/receipts?page=2").get_data(as_text=True)
    assert "第 1 / 2 页" in first
    seen = set(re.findall(r"[A-Z0-9]+-2026-\d{6}", first + second))
    assert seen == set(numbers)


def test_another_owners_receipt_is_404_and_not_listed(
    client: FlaskClient, session: Session
) -> None:
    _owner, unit_a, _unit_b, finance = _owner_of_two_units(session)
    payment = _offline(session, unit_a, finance, "CASH-9", 5_000)
    stranger = factories.make_user(session, role="owner", community=unit_a.community)
    session.commit()
    _login(client, stranger.username)
    rid = payment.receipt.id
    assert client.get(f"/receipts/{rid}").status_code == 404
    assert client.get(f"/receipts/{rid}.pdf").status_code == 404
    assert payment.receipt.number not in client.get("/receipts").get_data(as_text=True)
    assert client.get("/receipts/999999").status_code == 404


def test_finance_opens_and_prints_the_receipt_it_just_issued(
    client: FlaskClient, session: Session
) -> None:
    unit, _ = factories.make_billed_unit(session)
    finance = factories.make_user(session, role="finance", community=unit.community)
    other_finance = factories.make_user(session, role="finance")  # another community
    cs = factories.make_user(session, role="cs", community=unit.community)
    session.commit()
    _login(client, finance.username)
    response = client.post(
        f"/finance/{unit.community.code}/payments/offline",
        data={
            "unit_code": unit.code,
            "channel": "pos",
            "reference": "POS-1",
            "amount": "250.00",
            "received_on": "2026-11-19",
        },
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    receipt_url = re.search(r'href="(/receipts/\d+)"', page).group(1)
    receipt = client.get(receipt_url)
    assert receipt.status_code == 200
    assert "¥250.00" in receipt.get_data(as_text=True)
    pdf = client.get(receipt_url + ".pdf")
    assert pdf.status_code == 200
    assert pdf.data.startswith(b"%PDF")
    # scoped to its community: finance elsewhere gets 404, a role without receipts 403
    client.post("/logout")
    _login(client, other_finance.username)
    assert client.get(receipt_url).status_code == 404
    assert client.get(receipt_url + ".pdf").status_code == 404
    client.post("/logout")
    _login(client, cs.username)
    assert client.get(receipt_url).status_code == 403


# ---------------------------------------------------------------- public verification


def _verify_path(receipt_html: str) -> str:
    url = re.search(r'href="(http://[^"]*/receipts/verify/[^"]+)"', receipt_html).group(1)
    parts = urlsplit(url.replace("&amp;", "&"))
    return f"{parts.path}?{parts.query}"


def test_receipt_qr_opens_a_public_check_without_personal_data(
    client: FlaskClient, session: Session, make_app: Any
) -> None:
    unit, _ = factories.make_billed_unit(session)
    owner = factories.make_user(session, role="owner", unit=unit, display_name="王小明")
    finance = factories.make_user(session, role="finance", community=unit.community)
    payment = _offline(session, unit, finance, "CASH-Q", 12_345)
    session.commit()
    _login(client, owner.username)
    receipt_html = client.get(f"/receipts/{payment.receipt.id}").get_data(as_text=True)
    assert "data:image/svg+xml" in receipt_html  # the QR code
    path = _verify_path(receipt_html)
    pdf = client.get(f"/receipts/{payment.receipt.id}.pdf").data
    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    code = verification.check_code("test-secret", number=payment.receipt.number, amount_fen=12_345)
    assert code in pdf_text
    assert code in path

    client.post("/logout")
    ok = client.get(path)
    assert ok.status_code == 200
    body = ok.get_data(as_text=True)
    assert "有效" in body
    assert payment.receipt.number in body
    assert "¥123.45" in body
    assert unit.code not in body
    assert "王" not in body.split("<main", 1)[-1]  # no payer name on the page
    # typed in by hand, in yuan
    typed = client.get(
        f"/receipts/verify?number={payment.receipt.number}&yuan=123.45&h={code.upper()}"
    )
    assert typed.status_code == 200


def test_a_wrong_or_malformed_check_is_a_clear_not_valid_page(
    client: FlaskClient, session: Session
) -> None:
    unit, _ = factories.make_billed_unit(session)
    finance = factories.make_user(session, role="finance", community=unit.community)
    payment = _offline(session, unit, finance, "CASH-W", 5_000)
    session.commit()
    number = payment.receipt.number
    good = verification.check_code("test-secret", number=number, amount_fen=5_000)
    forged = verification.check_code("another-key", number=number, amount_fen=5_000)
    for query in (
        f"/receipts/verify/{number}?a=5000&h={'0' * 16}",  # wrong hash
        f"/receipts/verify/{number}?a=5000&h={forged}",  # made with another key
        f"/receipts/verify/{number}?a=50000&h={good}",  # amount changed
        f"/receipts/verify/NOPE-2026-000001?a=5000&h={good}",  # no such receipt
        f"/receipts/verify/{number}?a=abc&h=xyz",
        f"/receipts/verify/{number}?a={'9' * 40}&h={good}",
        f"/receipts/verify/{number}",
        f"/receipts/verify?number={number}&yuan=-1&h={good}",
        f"/receipts/verify?number=%00%27&yuan=1e9&h={good}",
    ):
        response = client.get(query)
        if "%00" in query or "9" * 40 in query:  # hostile input: refused before the view
            assert response.status_code == 400, query
            continue
        assert response.status_code == 404, query
        assert "无效" in response.get_data(as_text=True), query
    blank = client.get("/receipts/verify")
    assert blank.status_code == 200
    assert "核验码" in blank.get_data(as_text=True)


def test_check_code_is_keyed_and_bound_to_number_and_amount() -> None:
    code = verification.check_code("k", number="C1-2026-000001", amount_fen=100)
    assert len(code) == 16
    assert code != verification.check_code("k2", number="C1-2026-000001", amount_fen=100)
    assert code != verification.check_code("k", number="C1-2026-000002", amount_fen=100)
    assert code != verification.check_code("k", number="C1-2026-000001", amount_fen=101)


def test_refund_list_paginates(client: FlaskClient, session: Session) -> None:
    from portal.payments import refunding

    unit, _ = factories.make_billed_unit(session)
    finance = factories.make_user(session, role="finance", community=unit.community)
    for n in range(55):
        payment = _offline(session, unit, finance, f"RF-{n}", 1_000)
        refunding.request_refund(
            session,
            payment=payment,
            amount_fen=100,
            reason=f"重复缴费 {n}",
            actor=finance,
            now=NOW,
            approval_threshold_fen=50_000,
        )
    session.commit()
    _login(client, finance.username)
    code = unit.community.code
    first = client.get(f"/finance/{code}/refunds").get_data(as_text=True)
    second = client.get(f"/finance/{code}/refunds?page=2").get_data(as_text=True)
    assert "第 1 / 2 页" in first
    seen = set(re.findall(r"重复缴费 \d+", first + second))
    assert seen == {f"重复缴费 {n}" for n in range(55)}
