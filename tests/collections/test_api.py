"""The collections API contract (DESIGN.md §3)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.collections.helpers import case_of, make_world, run, snapshot

DAY = date(2026, 11, 20)
CASE_FIELDS = {
    "id",
    "unit",
    "status",
    "tier",
    "overdue_fen",
    "held_fen",
    "oldest_due_date",
    "days_overdue",
    "bucket",
    "reason",
    "suggested_reason",
    "evidence",
    "next_action",
    "near_limitation",
    "satisfaction",
}


def _token(client: FlaskClient, user: Any) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json=factories.login_fields(user.username))
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _world(session: Session):
    world = make_world(session, code="AA")
    other = make_world(session, code="BB")
    run(session, DAY)
    return world, other


def test_cases_list_and_detail(session: Session, client: FlaskClient) -> None:
    world, _other = _world(session)
    headers = _token(client, world.collector)
    body = client.get("/api/v1/collections/cases?community=AA", headers=headers).json
    assert len(body["cases"]) == 2
    case = body["cases"][0]
    assert set(case) >= CASE_FIELDS
    assert case["tier"] == "L1"
    assert case["bucket"] in ("61-90", "91-180", "31-60")
    assert set(case["next_action"]) >= {"kind", "tier", "not_before"}
    detail = client.get(f"/api/v1/collections/cases/{case['id']}", headers=headers).json
    assert {"contacts", "tasks", "plan"} <= set(detail)
    assert set(detail["satisfaction"]) >= {"score", "dissatisfied", "inputs", "evidence", "trend"}
    assert detail["contacts"][0]["outcome"] == "sent"
    tiered = client.get("/api/v1/collections/cases?community=AA&tier=L2", headers=headers).json
    assert tiered["cases"] == []


def test_others_get_403_or_404(session: Session, client: FlaskClient) -> None:
    world, other = _world(session)
    owner = _token(client, world.owner)
    assert client.get("/api/v1/collections/cases?community=AA", headers=owner).status_code == 403
    mine = case_of(session, world.unit)
    assert client.get(f"/api/v1/collections/cases/{mine.id}", headers=owner).status_code == 403
    collector = _token(client, world.collector)
    response = client.get("/api/v1/collections/cases?community=BB", headers=collector)
    assert response.status_code == 403
    theirs = case_of(session, other.unit)
    response = client.get(f"/api/v1/collections/cases/{theirs.id}", headers=collector)
    assert response.status_code == 404
    response = client.post(
        f"/api/v1/collections/cases/{theirs.id}/contacts",
        headers=collector,
        json={"channel": "phone", "outcome": "no_answer"},
    )
    assert response.status_code == 404


def test_contacts_and_escalation_codes(session: Session, client: FlaskClient) -> None:
    world, _other = _world(session)
    headers = _token(client, world.collector)
    case = case_of(session, world.unit)
    url = f"/api/v1/collections/cases/{case.id}"
    before = snapshot(session)
    response = client.post(f"{url}/escalate", headers=headers, json={"tier": "L3"})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "tier_skipped"
    response = client.post(
        f"{url}/contacts",
        headers=headers,
        json={"channel": "phone", "outcome": "promised", "promised_on": "2026-11-01"},
    )
    assert response.status_code == 422
    assert response.json["error"]["field"] == "promised_on"
    response = client.post(
        f"{url}/contacts",
        headers=headers,
        json={
            "channel": "phone",
            "outcome": "no_answer",
            "planned": True,
            "at": "2026-11-20T22:30:00+08:00",
        },
    )
    assert response.status_code == 422
    assert response.json["error"]["code"] == "quiet_hours"
    assert snapshot(session) == before
    assert client.post(f"{url}/escalate", headers=headers, json={"tier": "L2"}).status_code == 200
    response = client.post(
        f"{url}/contacts",
        headers=headers,
        json={
            "channel": "letter",
            "outcome": "delivered",
            "proof": "XA123456789CN",
            "at": "2026-11-20T10:00:00+08:00",
        },
    )
    assert response.status_code == 201
    assert response.json["notice_delivered"] is True
    assert client.post(f"{url}/escalate", headers=headers, json={"tier": "L3"}).status_code == 200
    client.post(
        f"{url}/contacts",
        headers=headers,
        json={
            "channel": "visit",
            "outcome": "refused",
            "refusal_reason": "不认可",
            "second_staff_id": world.collector2.id,
        },
    )
    response = client.post(f"{url}/escalate", headers=headers, json={"tier": "L4"})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "needs_approval"
    manager = _token(client, world.manager)
    assert client.post(f"{url}/escalate", headers=manager, json={"tier": "L4"}).status_code == 200


def test_plan_propose_and_owner_accepts(session: Session, client: FlaskClient) -> None:
    world, _other = _world(session)
    headers = _token(client, world.collector)
    case = case_of(session, world.unit)
    url = f"/api/v1/collections/cases/{case.id}/plan"
    bad = client.post(
        url, headers=headers, json={"instalments": [{"due_on": "2026-12-01", "amount_fen": 30000}]}
    )
    assert bad.status_code == 422
    assert bad.json["error"]["code"] == "sum_mismatch"
    response = client.post(
        url,
        headers=headers,
        json={
            "instalments": [
                {"due_on": "2026-12-01", "amount_fen": 50000},
                {"due_on": "2027-01-01", "amount_fen": 50000},
            ]
        },
    )
    assert response.status_code == 201
    plan_id = response.json["id"]
    other_owner = _token(client, world.other_owner)
    assert client.post(f"/api/v1/me/plans/{plan_id}/accept", headers=other_owner).status_code == 404
    owner = _token(client, world.owner)
    response = client.post(f"/api/v1/me/plans/{plan_id}/accept", headers=owner)
    assert response.status_code == 200
    assert response.json["status"] == "active"
    again = client.post(f"/api/v1/me/plans/{plan_id}/accept", headers=owner)
    assert again.status_code == 409
    detail = client.get(f"/api/v1/collections/cases/{case.id}", headers=headers).json
    assert detail["status"] == "paused"
    assert detail["plan"]["id"] == plan_id


def test_openapi_lists_the_collections_paths(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").json
    for path in (
        "/collections/cases",
        "/collections/cases/{case_id}",
        "/collections/cases/{case_id}/contacts",
        "/collections/cases/{case_id}/escalate",
        "/collections/cases/{case_id}/plan",
        "/me/plans/{plan_id}/accept",
    ):
        assert path in doc["paths"]
