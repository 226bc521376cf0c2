from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.tickets import aftercare, setup, workflow
from portal.tickets.models import Ticket, TicketRating
from tests.factories import NOW, PASSWORD
from tests.tickets.util import make_ticket, make_world, resolved_ticket


def _auth(client: FlaskClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _tickets(session: Session) -> int:
    return session.scalar(select(func.count(Ticket.id))) or 0


def test_create_list_and_read(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="APIC")
    session.commit()
    headers = _auth(client, world.owner.username)
    response = client.post(
        "/api/v1/tickets",
        json={
            "category": "plumbing_electric",
            "description": "卫生间地漏反水",
            "location": "in_home",
            "unit": world.unit.code,
            "urgency": "urgent",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert {"id", "number", "category", "status", "description", "created_at", "events"} <= set(
        body
    )
    assert body["number"] == "APIC-00001"
    assert body["status"] == "submitted"
    assert body["category"] == "plumbing_electric"
    assert body["urgency"] == "urgent"
    assert body["location"]["type"] == "in_home"
    assert body["location"]["unit"] == world.unit.code
    assert [e["kind"] for e in body["events"]] == ["submitted"]
    assert body["events"][0]["actor"] == "you"
    listed = client.get("/api/v1/tickets", headers=headers).json["tickets"]
    assert [t["id"] for t in listed] == [body["id"]]
    detail = client.get(f"/api/v1/tickets/{body['id']}", headers=headers)
    assert detail.status_code == 200
    assert detail.json["description"] == "卫生间地漏反水"


def test_common_area_location_object(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    session.commit()
    headers = _auth(client, world.owner.username)
    building = world.unit.building.code
    response = client.post(
        "/api/v1/tickets",
        json={
            "category": "elevator",
            "description": "电梯按钮失灵",
            "unit": world.unit.code,
            "location": {"type": "common_area", "building": building, "floor": 1, "area": "大堂"},
        },
        headers=headers,
    )
    assert response.status_code == 201, response.json
    assert response.json["location"] == {
        "type": "common_area",
        "unit": world.unit.code,
        "building": building,
        "floor": 1,
        "area": "大堂",
    }


def test_bad_input_is_a_clear_error_and_writes_nothing(
    client: FlaskClient, session: Session
) -> None:
    world = make_world(session)
    other = make_world(session)
    setup.ensure_categories(session, other.community)
    setup.save_category(
        session, community=other.community, actor=other.manager, now=NOW, name="泳池", code="pool"
    )
    session.commit()
    headers = _auth(client, world.owner.username)
    good = {"category": "doors_windows", "description": "窗户关不上", "unit": world.unit.code}
    cases: list[tuple[Any, int, str]] = [
        ({**good, "description": "  "}, 422, "description"),
        ({**good, "description": None}, 422, "description"),
        ({**good, "category": "pool"}, 422, "category"),
        ({**good, "unit": world.other_unit.code}, 422, "unit"),
        ({**good, "unit": other.unit.code}, 422, "unit"),
        ({**good, "location": {"type": "common_area"}}, 422, "area"),
        ({**good, "location": {"type": "moon"}}, 422, "location"),
        ({**good, "preferred_on": "tomorrow"}, 422, "preferred_on"),
        ({**good, "preferred_on": "9999-12-31"}, 422, "preferred_on"),
        ({**good, "preferred_on": "1900-01-01"}, 422, "preferred_on"),
        ({**good, "urgency": "very"}, 422, "urgency"),
    ]
    for body, status, field in cases:
        response = client.post("/api/v1/tickets", json=body, headers=headers)
        assert response.status_code == status, (body, response.json)
        assert response.json["error"]["field"] == field, body
        assert response.json["error"]["message"]
    assert client.post("/api/v1/tickets", data="x", headers=headers).status_code == 400
    assert client.post("/api/v1/tickets", json=good).status_code == 401
    assert _tickets(session) == 0


def test_rating_over_the_api(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    open_ticket = make_ticket(session, world)
    done = resolved_ticket(session, world)
    session.commit()
    headers = _auth(client, world.owner.username)
    early = client.post(
        f"/api/v1/tickets/{open_ticket.id}/rating", json={"score": 5}, headers=headers
    )
    assert early.status_code == 409
    assert early.json["error"]["code"] == "not_resolved"
    for bad in (0, 6, "five", None, 3.5):
        response = client.post(
            f"/api/v1/tickets/{done.id}/rating", json={"score": bad}, headers=headers
        )
        assert response.status_code == 422, bad
        assert response.json["error"]["code"] == "out_of_range"
    ok = client.post(
        f"/api/v1/tickets/{done.id}/rating", json={"score": 4, "comment": "快"}, headers=headers
    )
    assert ok.status_code == 201
    assert ok.json["score"] == 4
    twice = client.post(f"/api/v1/tickets/{done.id}/rating", json={"score": 5}, headers=headers)
    assert twice.status_code == 409
    assert twice.json["error"]["code"] == "already_rated"
    assert session.scalar(select(func.count(TicketRating.id))) == 1


def test_another_owner_gets_404(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    done = resolved_ticket(session, world)
    session.commit()
    headers = _auth(client, world.other_owner.username)
    assert client.get(f"/api/v1/tickets/{done.id}", headers=headers).status_code == 404
    rating = client.post(f"/api/v1/tickets/{done.id}/rating", json={"score": 1}, headers=headers)
    assert rating.status_code == 404
    assert client.get("/api/v1/tickets", headers=headers).json["tickets"] == []
    assert session.scalar(select(func.count(TicketRating.id))) == 0


def test_staff_read_their_community_and_see_internal_notes(
    client: FlaskClient, session: Session
) -> None:
    world = make_world(session, code="STAFFC")
    ticket = make_ticket(session, world)
    workflow.comment(
        session, ticket=ticket, actor=world.cs, now=NOW, body="业主脾气急", internal=True
    )
    session.commit()
    staff = _auth(client, world.cs.username)
    listed = client.get("/api/v1/tickets?community=STAFFC", headers=staff).json["tickets"]
    assert [t["number"] for t in listed] == [ticket.number]
    detail = client.get(f"/api/v1/tickets/{ticket.id}", headers=staff).json
    assert "note" in [e["kind"] for e in detail["events"]]
    owner = _auth(client, world.owner.username)
    seen = client.get(f"/api/v1/tickets/{ticket.id}", headers=owner).json
    assert "note" not in [e["kind"] for e in seen["events"]]
    other = make_world(session, code="OTHERC")
    session.commit()
    outsider = _auth(client, other.cs.username)
    assert client.get("/api/v1/tickets?community=STAFFC", headers=outsider).status_code == 404
    assert client.get(f"/api/v1/tickets/{ticket.id}", headers=outsider).status_code == 404


def test_responsiveness_api(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="RESP", is_public=True)
    for hours in (1, 2, 3, 4, 5):
        ticket = resolved_ticket(session, world, now=NOW - timedelta(days=2), hours=hours)
        aftercare.rate(session, ticket=ticket, actor=world.owner, now=NOW, score=4)
    hidden = make_world(session, code="SECRET", is_public=False)
    session.commit()
    response = client.get("/api/v1/communities/RESP/responsiveness?months=3")
    assert response.status_code == 200
    body = response.json
    assert body["community"] == "RESP"
    assert body["months"] == 3
    water = next(c for c in body["categories"] if c["category"] == "plumbing_electric")
    assert set(water) >= {
        "category",
        "tickets",
        "median_first_response_h",
        "p90_first_response_h",
        "median_resolution_h",
        "p90_resolution_h",
        "sla_compliance",
        "reopen_rate",
        "mean_rating",
    }
    assert water["tickets"] == 5
    assert water["median_resolution_h"] == 3
    assert water["mean_rating"] == 4
    assert water["sla_compliance"] == 1
    lift = next(c for c in body["categories"] if c["category"] == "elevator")
    assert lift["tickets"] == 0
    assert lift["median_resolution_h"] is None
    assert client.get("/api/v1/communities/SECRET/responsiveness").status_code == 404
    member = _auth(client, hidden.owner.username)
    assert (
        client.get("/api/v1/communities/SECRET/responsiveness", headers=member).status_code == 200
    )
    assert client.get("/api/v1/communities/RESP/responsiveness?months=0").status_code == 400
    assert client.get("/api/v1/communities/RESP/responsiveness?months=99").status_code == 400


def test_openapi_documents_ticket_routes(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/tickets",
        "/tickets/{ticket_id}",
        "/tickets/{ticket_id}/rating",
        "/communities/{code}/responsiveness",
    ):
        assert path in paths
