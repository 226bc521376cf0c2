"""Complaints are tickets of kind complaint: SLA, answer, rating; private to cs and manager."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.errors import Conflict, DomainError
from portal.feedback import complaints
from portal.tickets import aftercare
from portal.tickets.base import get_scoped_ticket
from portal.tickets.models import Ticket, TicketKind
from portal.tickets.queries import common_area_tickets
from tests import factories
from tests.factories import NOW
from tests.feedback.util import answered_complaint, login, make_complaint, make_world


def _tickets(session) -> int:
    return session.scalar(select(func.count(Ticket.id)))


def test_complaint_is_a_ticket_with_its_own_sla(session) -> None:
    world = make_world(session)
    ticket = make_complaint(session, world)
    assert ticket.kind == TicketKind.COMPLAINT
    assert ticket.category.code == "c_cleaning"
    assert ticket.first_response_due_at - NOW == timedelta(hours=1)
    assert ticket.resolution_due_at - NOW == timedelta(hours=24)
    assert complaints.owner_complaints(session, owner=world.owner).items == [ticket]


def test_complaint_is_answered_and_rated(session) -> None:
    world = make_world(session)
    ticket = answered_complaint(session, world, score=2)
    assert ticket.rating_score == 2
    with pytest.raises(Conflict):
        aftercare.rate(session, ticket=ticket, actor=world.owner, now=NOW, score=5)


def test_complaint_hidden_from_engineers_and_from_the_public_feed(session) -> None:
    world = make_world(session)
    ticket = make_complaint(session, world)
    assert get_scoped_ticket(session, staff=world.cs, ticket_id=ticket.id) is ticket
    assert get_scoped_ticket(session, staff=world.manager, ticket_id=ticket.id) is ticket
    assert get_scoped_ticket(session, staff=world.engineer, ticket_id=ticket.id) is None
    assert ticket not in common_area_tickets(session, community_id=world.community.id)


def test_complaint_for_another_owners_unit_is_refused(session) -> None:
    world = make_world(session)
    with pytest.raises(DomainError) as err:
        complaints.file_complaint(
            session,
            owner=world.owner,
            unit_id=world.other_unit.id,
            category_code="c_cleaning",
            description="x",
            now=NOW,
        )
    assert err.value.field == "unit_id"
    assert _tickets(session) == 0


def test_complaint_needs_a_complaint_category_and_text(session) -> None:
    world = make_world(session)
    for code, text in (("plumbing_electric", "漏水"), ("nope", "x"), ("c_cleaning", "  ")):
        with pytest.raises(DomainError):
            complaints.file_complaint(
                session,
                owner=world.owner,
                unit_id=world.unit.id,
                category_code=code,
                description=text,
                now=NOW,
            )
    assert _tickets(session) == 0


def test_complaint_about_a_unit_of_another_community_is_refused(session) -> None:
    world = make_world(session)
    elsewhere = factories.make_unit(session)
    with pytest.raises(DomainError) as err:
        complaints.record_complaint(
            session,
            staff=world.cs,
            community=world.community,
            unit=elsewhere,
            category_code="c_attitude",
            description="电话投诉",
            now=NOW,
        )
    assert err.value.code == "other_community"
    assert _tickets(session) == 0


def test_complaint_may_name_staff_of_the_community_only(session) -> None:
    world = make_world(session)
    outsider = factories.make_user(session, role="cs")
    with pytest.raises(DomainError) as err:
        complaints.file_complaint(
            session,
            owner=world.owner,
            unit_id=world.unit.id,
            category_code="c_attitude",
            description="态度差",
            about_staff_id=outsider.id,
            now=NOW,
        )
    assert err.value.field == "about_staff_id"
    assert _tickets(session) == 0
    ticket = complaints.file_complaint(
        session,
        owner=world.owner,
        unit_id=world.unit.id,
        category_code="c_attitude",
        description="态度差",
        about_staff_id=world.cs.id,
        now=NOW,
    )
    assert ticket.about_staff_id == world.cs.id


def test_owner_files_a_complaint_on_the_page(client, session) -> None:
    world = make_world(session)
    session.commit()
    login(client, world.owner)
    assert client.get("/feedback/complaints/new").status_code == 200
    response = client.post(
        "/feedback/complaints/new",
        data={"unit_id": world.unit.id, "category": "c_noise", "description": "夜里施工"},
    )
    assert response.status_code == 302
    bad = client.post(
        "/feedback/complaints/new",
        data={"unit_id": world.other_unit.id, "category": "c_noise", "description": "x"},
    )
    assert bad.status_code == 200
    assert _tickets(session) == 1
    assert client.get("/feedback/complaints").status_code == 200


def test_complaints_are_not_open311_requests(client, session) -> None:
    world = make_world(session, code="O311F")
    ticket = make_complaint(session, world)
    session.commit()
    listed = client.get("/open311/v2/requests.json?jurisdiction_id=O311F")
    assert listed.status_code == 200
    assert ticket.number not in listed.get_data(as_text=True)
    assert client.get(f"/open311/v2/requests/{ticket.number}.json").status_code == 404


def test_cs_records_a_phone_complaint_on_the_page(client, session) -> None:
    world = make_world(session)
    elsewhere = factories.make_unit(session)
    session.commit()
    login(client, world.cs)
    assert client.get("/feedback/staff/complaints/new").status_code == 200
    data = {
        "community_id": world.community.id,
        "category": "c_attitude",
        "description": "电话投诉：保安态度差",
    }
    bad = client.post("/feedback/staff/complaints/new", data={**data, "unit_code": elsewhere.code})
    assert bad.status_code == 200
    assert "没有这个房号" in bad.get_data(as_text=True)
    assert _tickets(session) == 0
    ok = client.post("/feedback/staff/complaints/new", data={**data, "unit_code": world.unit.code})
    assert ok.status_code == 302
    ticket = session.scalar(select(Ticket))
    assert ticket.kind == TicketKind.COMPLAINT
    assert ticket.channel == "phone"
    assert ticket.reporter_id == world.owner.id
