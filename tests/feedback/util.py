"""Builders for feedback tests: the tickets world plus a complaint helper."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.feedback import complaints
from portal.tickets import aftercare
from portal.tickets.models import Ticket
from tests import factories
from tests.factories import NOW
from tests.tickets.util import World, make_world

__all__ = ["World", "answered_complaint", "login", "make_complaint", "make_world"]


def login(client: Any, user: Any) -> None:
    response = client.post("/login", data=factories.login_fields(user.username))
    assert response.status_code == 302


def make_complaint(
    session: Session,
    world: World,
    *,
    now: datetime = NOW,
    category: str = "c_cleaning",
    description: str = "楼道三天没打扫",
) -> Ticket:
    return complaints.file_complaint(
        session,
        owner=world.owner,
        unit_id=world.unit.id,
        category_code=category,
        description=description,
        now=now,
    )


def answered_complaint(
    session: Session,
    world: World,
    *,
    now: datetime = NOW,
    score: int | None = None,
    answered_at: datetime | None = None,
) -> Ticket:
    ticket = make_complaint(session, world, now=now)
    now = answered_at or now
    complaints.answer_complaint(
        session, ticket=ticket, staff=world.cs, answer="已安排保洁补扫，致歉", now=now
    )
    if score is not None:
        aftercare.rate(session, ticket=ticket, actor=world.owner, now=now, score=score)
    return ticket
