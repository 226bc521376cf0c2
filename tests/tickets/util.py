"""Builders for ticket tests: a small community with owners and staff, tickets, images."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from PIL import Image
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.communities.models import Community, Unit
from portal.tickets import intake, workflow
from portal.tickets.models import Ticket
from tests import factories
from tests.factories import NOW


@dataclass
class World:
    community: Community
    unit: Unit
    owner: User
    other_unit: Unit
    other_owner: User
    cs: User
    engineer: User
    engineer2: User
    manager: User


def make_world(session: Session, *, code: str | None = None, **community_fields: Any) -> World:
    community = factories.make_community(session, code=code, **community_fields)
    building = factories.make_building(session, community=community)
    unit = factories.make_unit(session, building=building)
    other_unit = factories.make_unit(session, building=building)
    return World(
        community=community,
        unit=unit,
        owner=factories.make_user(session, role="owner", unit=unit, display_name="王芳"),
        other_unit=other_unit,
        other_owner=factories.make_user(session, role="owner", unit=other_unit),
        cs=factories.make_user(session, role="cs", community=community, display_name="李客服"),
        engineer=factories.make_user(
            session, role="engineer", community=community, display_name="张师傅"
        ),
        engineer2=factories.make_user(session, role="engineer", community=community),
        manager=factories.make_user(session, role="manager", community=community),
    )


def make_ticket(
    session: Session,
    world: World,
    *,
    now: datetime = NOW,
    category: str = "plumbing_electric",
    description: str = "厨房水管漏水",
    **kwargs: Any,
) -> Ticket:
    kwargs.setdefault("unit", world.unit)
    return intake.create_ticket(
        session,
        community=world.community,
        actor=kwargs.pop("actor", world.owner),
        now=now,
        category_code=category,
        description=description,
        **kwargs,
    )


def resolved_ticket(
    session: Session, world: World, *, now: datetime = NOW, hours: float = 3, **kwargs: Any
) -> Ticket:
    """A ticket acknowledged after 10 minutes, assigned, and resolved `hours` later."""
    ticket = make_ticket(session, world, now=now, **kwargs)
    workflow.acknowledge(session, ticket=ticket, actor=world.cs, now=now + timedelta(minutes=10))
    workflow.assign(
        session,
        ticket=ticket,
        actor=world.cs,
        assignee=world.engineer,
        now=now + timedelta(minutes=12),
    )
    workflow.resolve(
        session,
        ticket=ticket,
        actor=world.engineer,
        now=now + timedelta(hours=hours),
        note="已更换阀门",
    )
    return ticket


def jpeg_bytes(size: tuple[int, int] = (60, 40), *, exif: bool = True) -> bytes:
    img = Image.new("RGB", size, "steelblue")
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "SpyPhone"  # Make
        data[0x8825] = {2: (31, 14, 0)}  # GPS
        img.save(out, "JPEG", exif=data)
    else:
        img.save(out, "JPEG")
    return out.getvalue()
