from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry
from portal.communities import service
from portal.errors import DomainError
from tests import factories
from tests.factories import NOW


def test_update_is_audited_with_before_and_after(session: Session) -> None:
    community = factories.make_community(session, hotline="021-1")
    manager = factories.make_user(session, role="manager", community=community)
    changes = service.update_community(
        session, community=community, actor=manager, now=NOW, hotline="021-2", tier_l2_days=25
    )
    assert changes == {"hotline": ["021-1", "021-2"], "tier_l2_days": [30, 25]}
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "community.update"))
    assert entry.actor_id == manager.id
    assert entry.details["hotline"] == ["021-1", "021-2"]


def test_tiers_must_ascend(session: Session) -> None:
    community = factories.make_community(session)
    manager = factories.make_user(session, role="manager", community=community)
    with pytest.raises(DomainError, match="递增"):
        service.update_community(
            session, community=community, actor=manager, now=NOW, tier_l2_days=70
        )


@pytest.mark.parametrize("area", [Decimal("0"), Decimal("-3"), Decimal("89.555")])
def test_bad_area_refused(session: Session, area: Decimal) -> None:
    building = factories.make_building(session)
    with pytest.raises(DomainError) as info:
        service.add_unit(session, building=building, code="A-1-101", area_m2=area)
    assert info.value.field == "area_m2"


def test_scoped_lookup_hides_other_communities(session: Session) -> None:
    a = factories.make_community(session, code="AAA")
    factories.make_community(session, code="BBB")
    manager = factories.make_user(session, role="manager", community=a)
    assert service.get_scoped_community(session, user=manager, code="AAA") is a
    assert service.get_scoped_community(session, user=manager, code="BBB") is None
    assert [c.code for c in service.staff_communities(session, manager)] == ["AAA"]


def test_owner_sees_own_units_only(session: Session) -> None:
    community = factories.make_community(session)
    mine = factories.make_unit(session, community=community)
    other = factories.make_unit(session, community=community)
    owner = factories.make_user(session, role="owner", unit=mine)
    assert service.units_of(session, owner) == [mine]
    assert service.get_owned_unit(session, user=owner, unit_id=other.id) is None
    assert service.get_owned_unit(session, user=owner, unit_id=mine.id) is mine


def test_list_units_paginates_and_filters(session: Session) -> None:
    community = factories.make_community(session)
    building = factories.make_building(session, community=community, code="A-1")
    for n in range(12):
        service.add_unit(
            session, building=building, code=f"A-1-{100 + n}", area_m2=Decimal("80.00")
        )
    page = service.list_units(session, community=community, per_page=5, page=3)
    assert page.total == 12
    assert page.pages == 3
    assert len(page.units) == 2
    assert service.list_units(session, community=community, search="a-1-10").total == 10
