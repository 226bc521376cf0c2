"""The dispute API contract: GET|POST /api/v1/disputes, GET /api/v1/disputes/<id>."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.disputes.models import Dispute
from tests import factories
from tests.disputes.helpers import World, count, make_world, other_bill_line, spending_item


@pytest.fixture
def world(session: Session) -> World:
    w = make_world(session, code="API")
    session.commit()
    return w


def _token(client: FlaskClient, user: Any) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json=factories.login_fields(user.username))
    assert response.status_code == 201
    return {"Authorization": f"Bearer {response.json['token']}"}


def _create(client: FlaskClient, headers: dict[str, str], **fields: Any) -> Any:
    body = {
        "target_type": "bill_line",
        "reason": "late_fee",
        "statement": "系统没发缴费通知，违约金不合理",
        "requested_amount_fen": 1_000,
        **fields,
    }
    return client.post("/api/v1/disputes", json=body, headers=headers)


def test_create_list_and_read(client: FlaskClient, session: Session, world: World) -> None:
    headers = _token(client, world.owner)
    line = world.line(0)
    response = _create(client, headers, target_id=line.id)
    assert response.status_code == 201, response.json
    body = response.json
    for key in (
        "id",
        "status",
        "target_type",
        "target_id",
        "reason",
        "statement",
        "requested_amount_fen",
    ):
        assert key in body
    assert body["status"] == "submitted"
    assert body["target_type"] == "bill_line"
    assert body["target_id"] == line.id
    assert body["requested_amount_fen"] == 1_000
    assert body["requested_outcome"] == "credit"
    assert body["events"][0]["kind"] == "submitted"
    listing = client.get("/api/v1/disputes", headers=headers).json
    assert [d["id"] for d in listing["disputes"]] == [body["id"]]
    detail = client.get(f"/api/v1/disputes/{body['id']}", headers=headers).json
    assert detail["reference"] == f"D{body['id']:06d}"


def test_create_on_records_and_service(client: FlaskClient, session: Session, world: World) -> None:
    item = spending_item(session, world)
    session.commit()
    headers = _token(client, world.owner)
    response = _create(
        client,
        headers,
        target_type="spending",
        target_id=item.id,
        reason="amount_questioned",
        requested_amount_fen=None,
    )
    assert response.status_code == 201, response.json
    assert response.json["requested_outcome"] == "explanation"
    response = _create(
        client,
        headers,
        target_type="service",
        target_id=None,
        reason="service_quality",
        requested_amount_fen=None,
    )
    assert response.status_code == 201
    assert response.json["target_id"] is None


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"target_id": 999_999}, 404, "not_found"),
        ({"target_id": "other"}, 404, "not_found"),
        ({"target_id": "line", "requested_amount_fen": 25_001}, 422, "amount_exceeds"),
        ({"target_id": "line", "requested_amount_fen": "10"}, 422, "bad_amount"),
        ({"target_id": "line", "reason": ""}, 422, "required"),
        ({"target_id": "line", "target_type": "car"}, 422, "invalid"),
        ({"target_id": "draft", "target_type": "spending", "reason": "other"}, 404, "not_found"),
    ],
)
def test_bad_requests_write_nothing(
    client: FlaskClient,
    session: Session,
    world: World,
    fields: dict[str, Any],
    status: int,
    code: str,
) -> None:
    targets = {
        "line": world.line(0).id,
        "other": other_bill_line(session, world).id,
        "draft": spending_item(session, world, publish=False).id,
    }
    session.commit()
    if isinstance(fields.get("target_id"), str):
        fields = {**fields, "target_id": targets[fields["target_id"]]}
    headers = _token(client, world.owner)
    response = _create(client, headers, **fields)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert count(session, Dispute) == 0


def test_second_open_dispute_on_a_line_is_409(
    client: FlaskClient, session: Session, world: World
) -> None:
    headers = _token(client, world.owner)
    assert _create(client, headers, target_id=world.line(0).id).status_code == 201
    response = _create(client, headers, target_id=world.line(0).id)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "duplicate"
    assert count(session, Dispute) == 1


def test_not_json_and_no_token(client: FlaskClient, world: World) -> None:
    assert client.get("/api/v1/disputes").status_code == 401
    headers = _token(client, world.owner)
    response = client.post("/api/v1/disputes", data="x", headers=headers)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"


def test_other_owner_and_staff_visibility(
    client: FlaskClient, session: Session, world: World
) -> None:
    created = _create(client, _token(client, world.owner), target_id=world.line(0).id).json
    other = _token(client, world.other_owner)
    assert client.get(f"/api/v1/disputes/{created['id']}", headers=other).status_code == 404
    assert client.get("/api/v1/disputes", headers=other).json["disputes"] == []
    committee = _token(client, world.committee)
    detail = client.get(f"/api/v1/disputes/{created['id']}", headers=committee).json
    assert detail["id"] == created["id"]
    listing = client.get("/api/v1/disputes?community=API&status=all", headers=committee).json
    assert [d["id"] for d in listing["disputes"]] == [created["id"]]
    assert client.get("/api/v1/disputes?community=NOPE", headers=committee).status_code == 404
    assert client.get("/api/v1/disputes?community=API", headers=other).status_code == 404


def test_accept_and_reject_over_the_api(
    client: FlaskClient, session: Session, world: World
) -> None:
    from portal.disputes import decisions
    from tests.factories import NOW

    headers = _token(client, world.owner)
    created = _create(client, headers, target_id=world.line(0).id).json
    dispute = session.get(Dispute, created["id"])
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="减免 10 元",
        amount_fen=1_000,
        now=NOW,
    )
    session.commit()
    response = client.post(
        f"/api/v1/disputes/{created['id']}/accept", json={"proposal_id": 999}, headers=headers
    )
    assert response.status_code == 404
    response = client.post(
        f"/api/v1/disputes/{created['id']}/reject",
        json={"proposal_id": proposal.id},
        headers=headers,
    )
    assert response.status_code == 422  # a reason is required
    response = client.post(
        f"/api/v1/disputes/{created['id']}/accept",
        json={"proposal_id": proposal.id},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "closed"
    assert response.json["outcome"] == "upheld"
    assert response.json["credited_fen"] == 1_000
    again = client.post(
        f"/api/v1/disputes/{created['id']}/accept",
        json={"proposal_id": proposal.id},
        headers=headers,
    )
    assert again.status_code == 409


def test_openapi_documents_disputes(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    assert {"get", "post"} <= set(document["paths"]["/disputes"])
    assert "get" in document["paths"]["/disputes/{dispute_id}"]
    assert "requested_amount_fen" in document["components"]["schemas"]["Dispute"]["properties"]
