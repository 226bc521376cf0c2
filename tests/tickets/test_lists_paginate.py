"""The owner's tickets (page and API) and the common-area list paginate instead of stopping
at a fixed number."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.factories import NOW
from tests.tickets.util import make_ticket, make_world


def test_owner_tickets_paginate_on_the_page_and_in_the_api(
    client: FlaskClient, session: Session
) -> None:
    world = make_world(session)
    numbers = {
        make_ticket(session, world, now=NOW - timedelta(hours=n), description=f"漏水 {n}").number
        for n in range(25)
    }
    session.commit()
    login = factories.login_fields(world.owner.username)
    assert client.post("/login", data=login).status_code == 302
    first = client.get("/tickets/").get_data(as_text=True)
    second = client.get("/tickets/?page=2").get_data(as_text=True)
    assert "第 1 / 2 页" in first
    mine = lambda html: set(re.findall(r"·\s*(\S+)</a>", html)) & numbers  # noqa: E731
    assert mine(first) | mine(second) == numbers
    token = client.post("/api/v1/auth/token", json=login).json["token"]
    auth = {"Authorization": f"Bearer {token}"}
    listing = client.get("/api/v1/tickets?per_page=10&page=3", headers=auth).json
    assert (listing["total"], listing["pages"], len(listing["tickets"])) == (25, 3, 5)
    assert client.get("/api/v1/tickets?per_page=0", headers=auth).status_code == 422


def test_common_area_list_paginates(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    for n in range(55):
        make_ticket(
            session,
            world,
            now=NOW - timedelta(minutes=n),
            location_type="common_area",
            building_id=world.unit.building_id,
            area="电梯厅",
            description=f"走廊灯不亮 {n}",
        )
    session.commit()
    login = factories.login_fields(world.owner.username)
    assert client.post("/login", data=login).status_code == 302
    code = world.community.code
    first = client.get(f"/tickets/community/{code}").get_data(as_text=True)
    assert "第 1 / 2 页" in first
    second = client.get(f"/tickets/community/{code}?page=2").get_data(as_text=True)
    assert "走廊灯不亮 54" in second
