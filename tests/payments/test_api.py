from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.payments.models import Payment
from tests import factories
from tests.payments.helpers import post_callback


def _token(client: FlaskClient, username: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/token", json=factories.login_fields(username)).json
    return {"Authorization": f"Bearer {token['token']}"}


def test_bills_and_payment_over_api(client: FlaskClient, session: Session) -> None:
    unit, bills = factories.make_billed_unit(session, periods=("2026-09", "2026-10"))
    owner = factories.make_user(session, role="owner", unit=unit)
    session.commit()
    auth = _token(client, owner.username)
    listing = client.get("/api/v1/me/bills?status=unpaid", headers=auth).json
    assert [b["period"] for b in listing["bills"]] == ["2026-10", "2026-09"]
    bill = listing["bills"][0]
    assert bill["status"] == "unpaid"
    assert bill["outstanding_fen"] == bill["amount_fen"] == 25000
    assert bill["lines"][0]["rate"] == "2.5000"
    assert client.get(f"/api/v1/bills/{bills[0].id}", headers=auth).json["id"] == bills[0].id
    body = {"bill_ids": [b.id for b in bills], "channel": "sandbox", "idempotency_key": "k"}
    intent = client.post("/api/v1/payments", json=body, headers=auth)
    assert intent.status_code == 201
    data = intent.json
    assert data["status"] == "pending"
    assert data["amount_fen"] == 50000
    assert data["pay_url"].startswith("http://")
    assert client.post("/api/v1/payments", json=body, headers=auth).json["id"] == data["id"]
    assert post_callback(client, data["out_trade_no"], 50000).status_code == 200
    paid = client.get("/api/v1/me/bills?status=paid", headers=auth).json["bills"]
    assert {b["status"] for b in paid} == {"paid"}
    assert client.get(f"/api/v1/payments/{data['id']}", headers=auth).json["status"] == "succeeded"


def test_api_refuses_other_owners_and_bad_input(client: FlaskClient, session: Session) -> None:
    unit, _ = factories.make_billed_unit(session)
    _, other_bills = factories.make_billed_unit(session, community=unit.community)
    owner = factories.make_user(session, role="owner", unit=unit)
    session.commit()
    auth = _token(client, owner.username)
    assert client.get(f"/api/v1/bills/{other_bills[0].id}", headers=auth).status_code == 404
    cases: list[tuple[dict[str, Any], int]] = [
        ({"bill_ids": [other_bills[0].id], "channel": "sandbox", "idempotency_key": "a"}, 404),
        ({"bill_ids": "1", "channel": "sandbox", "idempotency_key": "a"}, 422),
        ({"bill_ids": [1], "channel": "cash", "idempotency_key": "a"}, 422),
        ({"bill_ids": [1], "channel": "sandbox"}, 422),
    ]
    for body, status in cases:
        response = client.post("/api/v1/payments", json=body, headers=auth)
        assert response.status_code == status, body
        assert "error" in response.json
    assert client.get("/api/v1/me/bills?status=weird", headers=auth).status_code == 422
    assert session.scalar(select(func.count(Payment.id))) == 0


def test_fee_standards_api(client: FlaskClient, session: Session) -> None:
    community = factories.make_community(session, code="FS1")
    factories.make_standard(session, community=community)
    session.commit()
    data = client.get("/api/v1/communities/FS1/fee-standards").json
    assert data["current"][0]["rate"] == "2.5000"
    assert data["current"][0]["approval_ref"] == "物业服务合同第五条"
    hidden = factories.make_community(session, code="FS2", is_public=False)
    factories.make_standard(session, community=hidden)
    session.commit()
    assert client.get("/api/v1/communities/FS2/fee-standards").status_code == 404
