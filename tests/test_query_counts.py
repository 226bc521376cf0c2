"""Statements per request on the key pages: a fixed cap, and no growth with the data (N+1).

Each page is measured on a world with N units (bills, tickets, spending, arrears cases), then
again after the world doubles; the count must not grow. Counting uses an SQLAlchemy
`before_cursor_execute` listener on the app's engine. The page cache is off here (a cached
page would hide the queries it saves).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal.billing import runs as billing_runs
from portal.billing.models import Bill
from portal.extensions import db
from portal.tickets import intake
from tests import factories
from tests.collections.helpers import make_world, run
from tests.factories import NOW
from tests.transparency import helpers as spending_helpers

PERIODS = ("2026-07", "2026-08", "2026-09", "2026-10")
# Per page: the most statements one request may run (log-in, session and CSRF included).
CAPS = {
    "/bills": 11,  # the owner's units and unread count read once for page, menu and tab bar;
    # the session, user and roles in one statement (every signed-in page); no bill lines
    # (the list shows none, and what is held comes grouped by bill)
    "bill_detail": 12,
    "/api/v1/me/bills": 10,
    "/c/Q": 38,  # + the satisfaction section (survey by dimension and building, complaints)
    "/c/Q/responsiveness": 10,
    # + kpis: one grouped query per KPI; recovery_effect's comparison group reads open bills,
    # the year's postings and payments by month start (three queries, not one huge join)
    "/api/v1/communities/Q/stats": 40,
    "/api/v1/communities/Q/spending": 12,
    "/staff/tickets": 14,  # no commit (and reload of the user) unless categories were made
    "/collections/cases": 15,  # + the page's satisfaction profiles, six grouped queries
    "/collections/manager": 17,
}


@contextlib.contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _grow(session: Session, world: Any, units: int) -> None:
    """`units` more units for the owner, with bills, a ticket each and a spending item each."""
    building = factories.make_building(session, community=world.community)
    actor = spending_helpers.finance(session, world.community)
    from portal.communities import service as communities

    for _ in range(units):
        unit = factories.make_unit(session, building=building, area_m2=Decimal("90.00"))
        communities.add_ownership(
            session, user=world.owner, unit=unit, started_on=NOW.date() - timedelta(days=900)
        )
        intake.create_ticket(
            session,
            community=world.community,
            actor=world.owner,
            now=NOW,
            category_code="plumbing_electric",
            description="厨房水管漏水",
            unit=unit,
        )
        spending_helpers.published(session, world.community, actor, amount_fen=12_300)
    for period in PERIODS:
        billing_runs.generate_bills(
            session, community=world.community, period=billing_runs.period_start(period), now=NOW
        )
    session.commit()
    run(session, NOW.date())


def _login(client: FlaskClient, username: str) -> None:
    response = client.post("/login", data=factories.login_fields(username))
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]


def _measure(app: Flask, world: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    bill_id = db.session.scalar(
        select(Bill.id).where(Bill.unit_id == world.unit.id).order_by(Bill.id.desc())
    )
    owner = app.test_client()
    _login(owner, world.owner.username)
    token = owner.post("/api/v1/auth/token", json=factories.login_fields(world.owner.username))
    bearer = {"Authorization": f"Bearer {token.json['token']}"}
    anonymous = app.test_client()
    collector = app.test_client()
    _login(collector, world.collector.username)
    manager = app.test_client()
    _login(manager, world.manager.username)
    pages = [
        ("/bills", owner, "/bills", {}),
        ("bill_detail", owner, f"/bills/{bill_id}", {}),
        ("/api/v1/me/bills", owner, "/api/v1/me/bills", bearer),
        ("/c/Q", anonymous, "/c/Q", {}),
        ("/c/Q/responsiveness", anonymous, "/c/Q/responsiveness", {}),
        ("/api/v1/communities/Q/stats", anonymous, "/api/v1/communities/Q/stats", {}),
        ("/api/v1/communities/Q/spending", anonymous, "/api/v1/communities/Q/spending", {}),
        ("/staff/tickets", manager, "/staff/tickets", {}),
        ("/collections/cases", collector, "/collections/cases", {}),
        ("/collections/manager", manager, "/collections/manager", {}),
    ]
    for name, client, url, headers in pages:
        client.get(url, headers=headers)  # warm: lazy defaults made once, caches primed
        with counting(app) as statements:
            response = client.get(url, headers=headers)
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(statements)
    return counts


@pytest.fixture
def world_app(app: Flask) -> Flask:
    app.config["PAGE_CACHE"] = False
    return app


def test_queries_per_page_are_capped_and_do_not_grow(world_app: Flask, session: Session) -> None:
    world = make_world(session, code="Q", periods=PERIODS)
    session.commit()
    _grow(session, world, 3)
    small = _measure(world_app, world)
    _grow(session, world, 3)
    large = _measure(world_app, world)
    grown = {page: (small[page], large[page]) for page in small if large[page] > small[page]}
    assert grown == {}, f"statements grew with the data (N+1): {grown}"
    over = {page: count for page, count in large.items() if count > CAPS[page]}
    assert over == {}, f"over the cap: {over} (caps {CAPS})"
