"""A small community with owners for the governance tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.communities import service as communities
from portal.communities.models import Community, Unit
from portal.governance import service
from portal.governance.models import Matter, Vote
from tests import factories

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@dataclass
class Place:
    community: Community
    units: list[Unit]
    owners: list[User]  # owners[i] owns units[i]
    manager: User


@pytest.fixture
def place(session: Session, clock: object) -> Place:
    clock.set(NOW)  # type: ignore[attr-defined]
    community = factories.make_community(session, code="GOV1")
    building = factories.make_building(session, community=community)
    units = [
        factories.make_unit(session, building=building, area_m2=Decimal(a))
        for a in ("90.00", "90.00", "120.50")
    ]
    owners = [factories.make_user(session, unit=u) for u in units]
    manager = factories.make_user(session, role="manager", community=community)
    session.commit()
    return Place(community, units, owners, manager)


def make_vote(session: Session, place: Place, *, open_it: bool = True, **kw: object) -> Vote:
    fields: dict[str, object] = {
        "title": "关于使用专项维修资金更换电梯的表决",
        "matter": Matter.FUND_USE,
        "closes_at": NOW + timedelta(days=7),
    }
    fields.update(kw)
    vote = service.create_vote(
        session,
        community=place.community,
        actor=place.manager,
        now=NOW,
        **fields,  # type: ignore[arg-type]
    )
    if open_it:
        service.open_vote(session, vote=vote, actor=place.manager, now=NOW)
    session.commit()
    return vote


def co_own(session: Session, user: User, unit: Unit) -> None:
    communities.add_ownership(session, user=user, unit=unit, started_on=date(2024, 1, 1))
    session.commit()
