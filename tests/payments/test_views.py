import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.payments.models import Payment, PaymentIntent
from tests import factories
from tests.payments.helpers import post_callback


def _owner(session: Session, login_as: Any, periods=("2026-09", "2026-10")):
    unit, bills = factories.make_billed_unit(session, periods=periods)
    owner = login_as("owner", unit=unit)
    return owner, unit, bills


def test_bill_list_and_detail_explain_amounts(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    _, _unit, bills = _owner(session, login_as)
    html = client.get("/bills").get_data(as_text=True)
    assert "2026-09" in html
    assert "¥500.00" in html
    detail = client.get(f"/bills/{bills[0].id}").get_data(as_text=True)
    assert "100.00㎡ × 2.50 元/㎡·月 × 1 月" in detail  # the rate as a price
    assert "物业服务合同第五条" in detail


def test_another_owners_bill_is_404_everywhere(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    _, unit, _ = _owner(session, login_as)
    other_unit, other_bills = factories.make_billed_unit(session, community=unit.community)
    session.commit()
    other = other_bills[0].id
    assert client.get(f"/bills/{other}").status_code == 404
    assert client.get(f"/units/{other_unit.id}/ledger").status_code == 404
    assert client.get(f"/pay?bill_ids={other}").status_code == 404
    assert (
        client.post(
            "/pay", data={"bill_ids": [other], "channel": "sandbox", "idempotency_key": "x"}
        ).status_code
        == 404
    )
    assert session.scalar(select(func.count(PaymentIntent.id))) == 0


def test_sandbox_pay_journey_ends_on_receipt(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    _, _unit, bills = _owner(session, login_as)
    page = client.get(f"/pay?bill_ids={bills[0].id}&bill_ids={bills[1].id}")
    assert "¥500.00" in page.get_data(as_text=True)
    assert "手续费" in page.get_data(as_text=True)
    response = client.post(
        "/pay",
        data={"bill_ids": [b.id for b in bills], "channel": "sandbox", "idempotency_key": "abc"},
    )
    assert response.status_code == 302
    checkout = response.headers["Location"]
    assert "/payments/sandbox/" in checkout
    assert "测试模式" in client.get(checkout).get_data(as_text=True)
    done = client.post(checkout, data={"outcome": "success"})
    status_page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "支付成功" in status_page
    receipt_url = re.search(r'href="(/receipts/\d+)"', status_page).group(1)
    receipt = client.get(receipt_url).get_data(as_text=True)
    assert "物业费收据" in receipt
    assert "¥500.00" in receipt
    pdf = client.get(receipt_url + ".pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    # Submitting the same form again does not create a second intent or payment.
    again = client.post(
        "/pay",
        data={"bill_ids": [b.id for b in bills], "channel": "sandbox", "idempotency_key": "abc"},
    )
    assert again.status_code == 302
    assert session.scalar(select(func.count(Payment.id))) == 1


def test_notify_endpoint_contract(client: FlaskClient, login_as: Any, session: Session) -> None:
    _, _unit, bills = _owner(session, login_as)
    client.post(
        "/pay", data={"bill_ids": [bills[0].id], "channel": "sandbox", "idempotency_key": "n1"}
    )
    intent = session.scalar(select(PaymentIntent))
    bad_sig = post_callback(client, intent.out_trade_no, intent.amount_fen, secret="wrong")
    assert bad_sig.status_code == 400
    wrong_amount = post_callback(client, intent.out_trade_no, intent.amount_fen + 1)
    assert wrong_amount.status_code == 400
    unknown = post_callback(client, "NOPE", 100)
    assert unknown.status_code == 400
    assert session.scalar(select(func.count(Payment.id))) == 0
    for _ in range(3):
        assert post_callback(client, intent.out_trade_no, intent.amount_fen).status_code == 200
    assert session.scalar(select(func.count(Payment.id))) == 1
    assert client.post("/payments/notify/bogus", data=b"{}").status_code == 404


def test_sandbox_hidden_when_disabled(make_app: Any) -> None:
    app = make_app(PAYMENTS_SANDBOX=False)
    client = app.test_client()
    response = client.post("/payments/notify/sandbox", data=b"{}")
    assert response.status_code == 404


def test_receipt_of_another_owner_is_404(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    from datetime import date

    from portal.payments import crediting

    _, unit, _ = _owner(session, login_as)
    other_unit, _ = factories.make_billed_unit(session, community=unit.community)
    finance = factories.make_user(session, role="finance", community=unit.community)
    payment = crediting.record_offline_payment(
        session,
        unit=other_unit,
        channel="cash",
        reference="C1",
        amount_fen=100,
        received_on=date(2026, 11, 19),
        actor=finance,
        now=factories.NOW,
    )
    session.commit()
    assert client.get(f"/receipts/{payment.receipt.id}").status_code == 404
    assert client.get(f"/receipts/{payment.receipt.id}.pdf").status_code == 404


def test_finance_records_offline_payment_and_exports(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    unit, _bills = factories.make_billed_unit(session)
    code = unit.community.code
    login_as("finance", community=unit.community)
    bad = client.post(
        f"/finance/{code}/payments/offline",
        data={
            "unit_code": "Z-9-9",
            "channel": "cash",
            "reference": "R1",
            "amount": "10",
            "received_on": "2026-11-19",
        },
    )
    assert "没有房号" in bad.get_data(as_text=True)
    bad_amount = client.post(
        f"/finance/{code}/payments/offline",
        data={
            "unit_code": unit.code,
            "channel": "cash",
            "reference": "R1",
            "amount": "-3",
            "received_on": "2026-11-19",
        },
    )
    assert "请输入金额" in bad_amount.get_data(as_text=True)
    assert session.scalar(select(func.count(Payment.id))) == 0
    ok = client.post(
        f"/finance/{code}/payments/offline",
        data={
            "unit_code": unit.code.lower(),
            "channel": "pos",
            "reference": "POS-88",
            "amount": "250.00",
            "received_on": "2026-11-19",
        },
    )
    assert ok.status_code == 302
    journal = client.get(f"/finance/{code}/payments?start=2026-11-01&end=2026-11-30")
    assert "POS-88" in journal.get_data(as_text=True)
    csv_export = client.get(f"/finance/{code}/payments?start=2026-11-01&end=2026-11-30&format=csv")
    assert "POS-88" in csv_export.get_data(as_text=True)
    xlsx = client.get(f"/finance/{code}/payments?start=2026-11-01&end=2026-11-30&format=xlsx")
    assert xlsx.data[:2] == b"PK"


def test_finance_of_another_community_gets_404(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    unit, _ = factories.make_billed_unit(session)
    login_as("finance")  # a finance user of some other community
    code = unit.community.code
    assert client.get(f"/finance/{code}/payments").status_code == 404
    assert (
        client.post(
            f"/finance/{code}/payments/offline",
            data={
                "unit_code": unit.code,
                "channel": "cash",
                "reference": "R1",
                "amount": "10",
                "received_on": "2026-11-19",
            },
        ).status_code
        == 404
    )
    assert session.scalar(select(func.count(Payment.id))) == 0


def test_owner_cannot_open_finance_pages(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    _, unit, _ = _owner(session, login_as)
    assert client.get(f"/finance/{unit.community.code}/payments").status_code == 403
    assert client.get(f"/finance/{unit.community.code}/billing").status_code == 403


class _QrGateway:
    channel = "wechat"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def create_checkout(self, request: Any) -> Any:
        from portal.payments.gateways.base import Checkout

        if self.fail:
            raise RuntimeError("platform said no")
        return Checkout(qr_code=f"weixin://wxpay/bizpayurl?pr={request.out_trade_no}")

    def parse_notification(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def ack(self, ok: bool, message: str = "") -> Any:
        raise NotImplementedError


def test_wechat_checkout_shows_a_qr_code_and_failures_are_clear(
    client: FlaskClient, login_as: Any, session: Session, monkeypatch: Any
) -> None:
    from portal.payments.gateways import registry

    _, _unit, bills = _owner(session, login_as)
    state = {"fail": True}
    registry.register("wechat", lambda settings: _QrGateway(fail=state["fail"]))
    try:
        failed = client.post(
            "/pay", data={"bill_ids": [bills[0].id], "channel": "wechat", "idempotency_key": "q0"}
        )
        assert "支付渠道暂时不可用" in failed.get_data(as_text=True)
        assert session.scalar(select(func.count(PaymentIntent.id))) == 0
        state["fail"] = False
        response = client.post(
            "/pay", data={"bill_ids": [bills[0].id], "channel": "wechat", "idempotency_key": "q1"}
        )
        assert response.status_code == 302
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert 'src="data:image/svg+xml' in page
        assert "微信扫一扫" in page
    finally:
        from portal.payments.gateways.wechat import WechatGateway

        registry.register("wechat", WechatGateway.from_settings)
