"""The dispute form's chooser lists recent bills, but the line a bill page links to is always
there, however old: no silent cap keeps an owner from objecting to an old charge."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.disputes.models import Dispute
from tests import factories
from tests.factories import NOW


def test_an_old_bill_line_linked_from_its_page_can_be_disputed(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    periods = tuple(f"{y}-{m:02d}" for y in (2023, 2024, 2025) for m in range(1, 13))
    community = factories.make_community(session)
    factories.make_standard(session, community=community, effective_from=date(2023, 1, 1))
    unit, bills = factories.make_billed_unit(
        session, community=community, periods=(*periods, "2026-01", "2026-02")
    )
    assert len(bills) == 38  # more than the chooser's 36 recent bills
    login_as("owner", unit=unit)
    oldest = bills[0].lines[0]
    page = client.get(f"/disputes/new?target_type=bill_line&target={oldest.id}")
    assert f'<option selected value="{oldest.id}">' in page.get_data(as_text=True)
    response = client.post(
        "/disputes/new?target_type=bill_line",
        data={
            "target_type": "bill_line",
            "target_id": str(oldest.id),
            "reason": "wrong_area",
            "requested_outcome": "credit",
            "requested_amount": "12.50",
            "statement": "房产证面积 95.00㎡，账单按 100㎡ 计。",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert session.scalar(select(Dispute.bill_line_id)) == oldest.id


def test_another_owners_line_is_not_added_to_the_chooser(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    _unit, other_bills = factories.make_billed_unit(session)
    login_as("owner")
    line = other_bills[0].lines[0]
    page = client.get(f"/disputes/new?target_type=bill_line&target={line.id}")
    assert f'value="{line.id}"' not in page.get_data(as_text=True)


def test_my_disputes_page_and_api_list_every_dispute(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    from portal.disputes import intake

    periods = tuple(f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13))
    unit, bills = factories.make_billed_unit(session, periods=(*periods, "2026-01"))
    owner = login_as("owner", unit=unit)
    refs = {
        intake.open_dispute(
            session,
            owner=owner,
            target_type="bill_line",
            target_id=bill.lines[0].id,
            reason="wrong_area",
            statement="面积不对。",
            requested_outcome="credit",
            requested_amount_fen=100,
            now=NOW,
        ).reference
        for bill in bills
    }
    session.commit()
    first = client.get("/disputes/").get_data(as_text=True)
    second = client.get("/disputes/?page=2").get_data(as_text=True)
    assert "第 1 / 2 页" in first
    assert {r for r in refs if r in first + second} == refs
    token = client.post(
        "/api/v1/auth/token", json={"username": owner.username, "password": factories.PASSWORD}
    ).json["token"]
    auth = {"Authorization": f"Bearer {token}"}
    listing = client.get("/api/v1/disputes?per_page=10&page=3", headers=auth).json
    assert (listing["total"], listing["pages"], len(listing["disputes"])) == (25, 3, 5)
    assert client.get("/api/v1/disputes?per_page=501", headers=auth).status_code == 422
