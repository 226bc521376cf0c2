"""PIPL rights: download my data, erasure by pseudonymisation (records kept), retention."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.billing.models import Bill
from portal.communities.models import Ownership
from portal.privacy.models import ErasureRequest
from tests import factories
from tests.factories import PASSWORD


def test_privacy_notice_is_public(client: FlaskClient) -> None:
    html = client.get("/privacy").get_data(as_text=True)
    assert "个人信息保护法" in html


def test_owner_downloads_their_data_without_secrets(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    unit, bills = factories.make_billed_unit(session, periods=("2026-09",))
    owner = login_as("owner", unit=unit, phone="13800000000")
    response = client.get("/account/privacy/export.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["username"] == owner.username
    assert data["account"]["phone"] == "13800000000"
    assert "password_hash" not in data["account"]
    assert {b["id"] for b in data["my_units"]["bills"]} == {b.id for b in bills}
    assert "user_sessions" in data["records_about_me"]
    assert all("token_hash" not in r for r in data["records_about_me"]["user_sessions"])


def test_another_owners_data_is_not_in_my_export(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    other_unit, other_bills = factories.make_billed_unit(session, periods=("2026-09",))
    factories.make_user(session, role="owner", unit=other_unit, phone="13900000000")
    session.commit()
    login_as("owner")
    body = client.get("/account/privacy/export.json").get_data(as_text=True)
    assert "13900000000" not in body
    assert all(b["id"] != other_bills[0].id for b in json.loads(body)["my_units"].get("bills", []))


def test_erasure_is_reviewed_and_pseudonymises_but_keeps_the_bills(
    app: Any, client: FlaskClient, session: Session, login_as: Any
) -> None:
    unit, bills = factories.make_billed_unit(session, periods=("2026-09",))
    owner = login_as("owner", unit=unit, phone="13800000000")
    owner_id = owner.id
    assert client.post("/account/privacy", data={"reason": "已卖房"}).status_code == 302
    again = client.post("/account/privacy", data={"reason": "again"}, follow_redirects=True)
    assert "正在审核中" in again.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ErasureRequest)) == 1
    request_id = session.scalar(select(ErasureRequest.id))
    # An owner cannot decide it.
    assert client.post(f"/privacy/requests/{request_id}/approve").status_code == 403
    client.post("/logout")
    login_as("admin")
    assert "已卖房" in client.get("/privacy/requests").get_data(as_text=True)
    # Rejecting needs a reason; nothing changes without one.
    client.post(f"/privacy/requests/{request_id}/reject", data={"note": ""})
    assert session.scalar(select(ErasureRequest.status)) == "pending"
    assert client.post(f"/privacy/requests/{request_id}/approve").status_code == 302
    assert client.post(f"/privacy/requests/{request_id}/approve").status_code == 302  # no-op
    assert client.post("/privacy/requests/999999/approve").status_code == 404
    session.expire_all()
    user = session.get(User, owner_id)
    assert user.username.startswith("erased-")
    assert user.phone is None
    assert user.password_hash is None
    assert not user.active
    assert session.scalar(select(func.count()).select_from(Bill)) == len(bills)
    assert session.scalar(select(Ownership.user_id)) == owner_id  # the record stays, unnamed
    fresh = app.test_client()
    login = fresh.post("/login", data={"username": owner.username, "password": PASSWORD})
    assert login.status_code == 200  # cannot log in any more


def test_retention_pseudonymises_closed_accounts_only(
    session: Session, runner: FlaskCliRunner
) -> None:
    closed = factories.make_user(session, role="owner", phone="13700000000")
    recent = factories.make_user(session, role="owner", phone="13600000000")
    current = factories.make_user(session, role="owner", phone="13500000000")
    for user, ended in ((closed, date(2022, 1, 1)), (recent, date(2025, 6, 1))):
        ownership = session.scalar(select(Ownership).where(Ownership.user_id == user.id))
        ownership.ended_on = ended
    session.commit()
    result = runner.invoke(args=["privacy", "retention", "--date", "2026-11-20"])
    assert result.exit_code == 0, result.output
    assert "1 closed accounts" in result.output
    session.expire_all()
    assert session.get(User, closed.id).phone is None
    assert session.get(User, recent.id).phone == "13600000000"
    assert session.get(User, current.id).phone == "13500000000"
    again = runner.invoke(args=["privacy", "retention", "--date", "2026-11-20"])
    assert "0 closed accounts" in again.output


def test_owner_reads_a_printable_summary_of_the_same_data(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    unit, _bills = factories.make_billed_unit(session, periods=("2026-09",))
    owner = login_as("owner", unit=unit, phone="13800000000")
    assert "查看可打印的摘要" in client.get("/account/privacy").get_data(as_text=True)
    response = client.get("/account/privacy/summary")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    html = response.get_data(as_text=True)
    assert "我的数据摘要" in html
    assert owner.username in html
    assert "13800000000" in html
    assert "账单" in html
    assert unit.code in html
    assert "password_hash" not in html
    assert "$argon2" not in html
    english = client.get("/account/privacy/summary?lang=en").get_data(as_text=True)
    assert "Bill" in english
    assert "Summary of my data" in english
    from portal.audit.models import AuditEntry

    entry = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    assert entry.action == "privacy.summary"
    assert entry.actor_id == owner.id
    client.post("/logout")
    assert client.get("/account/privacy/summary").status_code in (302, 401)
    login_as("cs")  # no units at all
    assert client.get("/account/privacy/summary").status_code == 200
