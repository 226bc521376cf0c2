from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry
from portal.communities.models import Community, Unit
from tests import factories


def _form(community: Community, **changes: Any) -> dict[str, Any]:
    data = {
        "name": community.name,
        "city": community.city,
        "address": community.address,
        "hotline": "021-5888 0000",
        "fee_regime": community.fee_regime,
        "commission_rate": "",
        "billing_cycle": "monthly",
        "timezone": "Asia/Shanghai",
        "is_public": "y",
        "description": "",
        "tier_l1_days": 1,
        "tier_l2_days": 30,
        "tier_l3_days": 60,
        "tier_l4_days": 90,
        "notice_period_days": 30,
    }
    data.update(changes)
    return data


def test_manager_edits_own_community(client: FlaskClient, login_as: Any, session: Session) -> None:
    community = factories.make_community(session, code="MINE")
    login_as("manager", community=community)
    assert client.get("/staff/communities/MINE").status_code == 200
    response = client.post("/staff/communities/MINE", data=_form(community, name="新名称"))
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Community, community.id).name == "新名称"
    assert (
        session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "community.update")
        )
        == 1
    )


def test_invalid_settings_rerender_with_message_and_write_nothing(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    community = factories.make_community(session, code="MINE")
    login_as("manager", community=community)
    response = client.post(
        "/staff/communities/MINE", data=_form(community, name="改了", tier_l2_days=80)
    )
    assert response.status_code == 200
    assert "递增" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Community, community.id).name == "测试小区"


def test_manager_cannot_open_another_community(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    mine = factories.make_community(session, code="MINE")
    other = factories.make_community(session, code="OTHER")
    unit = factories.make_unit(session, community=other)
    login_as("manager", community=mine)
    assert client.get("/staff/communities/OTHER").status_code == 404
    assert client.get("/staff/communities/OTHER/units").status_code == 404
    assert client.get(f"/staff/units/{unit.id}").status_code == 404
    response = client.post("/staff/communities/OTHER", data=_form(other, name="hijack"))
    assert response.status_code == 404
    session.expire_all()
    assert session.get(Community, other.id).name == "测试小区"


def test_owner_gets_403_on_staff_pages(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    login_as("owner")
    for url in ("/staff/communities", "/staff/communities/new"):
        response = client.get(url)
        assert response.status_code == 403
        assert "没有权限" in response.get_data(as_text=True)


def test_cs_can_list_units_but_not_edit(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    community = factories.make_community(session, code="MINE")
    unit = factories.make_unit(session, community=community, code="A-1-101")
    login_as("cs", community=community)
    html = client.get("/staff/communities/MINE/units").get_data(as_text=True)
    assert "A-1-101" in html
    assert f"/staff/units/{unit.id}" not in html
    assert client.get(f"/staff/units/{unit.id}").status_code == 403


def test_manager_corrects_unit_area(client: FlaskClient, login_as: Any, session: Session) -> None:
    community = factories.make_community(session, code="MINE")
    unit = factories.make_unit(session, community=community)
    login_as("manager", community=community)
    bad = client.post(
        f"/staff/units/{unit.id}", data={"area_m2": "-5", "property_type": "residential"}
    )
    assert bad.status_code == 200
    ok = client.post(
        f"/staff/units/{unit.id}", data={"area_m2": "90.25", "property_type": "residential"}
    )
    assert ok.status_code == 302
    session.expire_all()
    assert str(session.get(Unit, unit.id).area_m2) == "90.25"


def test_admin_creates_community_and_duplicate_is_refused(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    login_as("admin")
    data = {
        "code": "NEW1",
        "name": "新小区",
        "hotline": "",
        "fee_regime": "lump_sum",
        "billing_cycle": "monthly",
        "timezone": "Asia/Shanghai",
        "tier_l1_days": 1,
        "tier_l2_days": 30,
        "tier_l3_days": 60,
        "tier_l4_days": 90,
        "notice_period_days": 30,
    }
    assert client.post("/staff/communities/new", data=data).status_code == 302
    again = client.post("/staff/communities/new", data=data)
    assert again.status_code == 200
    assert "已存在" in again.get_data(as_text=True)
    assert session.scalar(select(func.count(Community.id))) == 1


def test_private_community_page_hidden_from_strangers(
    client: FlaskClient, login_as: Any, session: Session
) -> None:
    community = factories.make_community(session, code="PRIV", is_public=False)
    unit = factories.make_unit(session, community=community)
    session.commit()
    assert client.get("/c/PRIV").status_code == 404
    login_as("owner", unit=unit)
    assert client.get("/c/PRIV").status_code == 200
