"""Phone-first UI pieces: filters, `?lang=`, the owner's tab bar and 我的 page, the late-fee
rules owners can read, menus that only show what a role may open, the SLA flag's deadline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import late_fees
from portal.billing.models import LateFeePolicy
from portal.communities import service as communities
from portal.jinja import duration, percent_rate, rate, rates_in_text
from portal.tickets.views import sla_clock
from tests import factories
from tests.factories import NOW


def test_rates_drop_trailing_zeros_but_keep_the_fen() -> None:
    assert rate(Decimal("2.3500")) == "2.35"
    assert rate(Decimal("30.0000")) == "30.00"
    assert rate(Decimal("0.1250")) == "0.125"
    assert percent_rate(Decimal("0.000300")) == "0.03%"
    assert percent_rate(Decimal("0.1000")) == "10%"


def test_durations_in_natural_words(app: Flask) -> None:
    with app.test_request_context():
        assert duration(Decimal("0.5")) == "30 分钟"
        assert duration(30, "minutes") == "30 分钟"
        assert duration(90, "minutes") == "1 小时 30 分钟"
        assert duration(Decimal("4")) == "4 小时"
        assert duration(Decimal("60")) == "2 天 12 小时"
        assert duration(timedelta(days=3)) == "3 天"
        assert duration(None) == ""


def test_lang_parameter_switches_and_persists(client: FlaskClient) -> None:
    first = client.get("/login?lang=en")
    html = first.get_data(as_text=True)
    assert 'lang="en"' in html
    assert "Log in" in html
    assert "lang=en" in first.headers.get("Set-Cookie", "")
    # The language switch on that page does not carry ?lang=en back with it.
    assert "next=/login&" not in html
    assert "lang%3Den" not in html
    assert 'lang="en"' in client.get("/login").get_data(as_text=True)  # kept in the cookie
    client.get("/login?lang=zh")
    assert 'lang="zh-CN"' in client.get("/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in client.get("/login?lang=klingon").get_data(as_text=True)


def test_owner_gets_tab_bar_and_me_page(
    client: FlaskClient, login_as: Callable[..., Any], session: Session
) -> None:
    owner = login_as("owner")
    code = communities.units_of(session, owner)[0].community.code
    home = client.get("/").get_data(as_text=True)
    assert 'class="tabbar"' in home
    for label in ("首页", "账单", "报修", "公示", "我的"):
        assert f"<span>{label}</span>" in home
    me = client.get("/me")
    assert me.status_code == 200
    html = me.get_data(as_text=True)
    for href in ("/notify/settings", "/account/password", "/tickets/open311-keys", "/logout"):
        assert href in html
    assert f"/c/{code}/late-fees" in html
    # The developer key page is no longer in the owner's repair menu.
    assert "/tickets/open311-keys" not in client.get("/tickets").get_data(as_text=True)


def test_staff_get_a_folded_menu_and_no_tab_bar(
    client: FlaskClient, login_as: Callable[..., Any]
) -> None:
    login_as("finance")
    html = client.get("/").get_data(as_text=True)
    assert 'class="container navfold"' in html
    assert 'class="tabbar"' not in html


def test_owner_reads_the_late_fee_rules(
    client: FlaskClient, login_as: Callable[..., Any], session: Session
) -> None:
    community = factories.make_community(session, code="LATE1", is_public=False)
    hidden = factories.make_community(session, code="LATE2", is_public=False)
    manager = factories.make_user(session, role="manager", community=community)
    login_as("owner", community=community)
    assert "不收取违约金" in client.get("/c/LATE1/late-fees").get_data(as_text=True)
    late_fees.set_late_fee_policy(
        session,
        community=community,
        enabled=True,
        daily_rate=Decimal("0.0003"),
        cap_rate=Decimal("0.1"),
        grace_days=15,
        clause_ref="《物业服务合同》第十二条",
        actor=manager,
        now=NOW,
    )
    session.commit()
    html = client.get("/c/LATE1/late-fees").get_data(as_text=True)
    assert "0.03%" in html
    assert "10%" in html
    assert "15" in html
    assert "第十二条" in html
    # Another community's rules, not public and not the owner's: not found.
    assert hidden.id
    assert client.get("/c/LATE2/late-fees").status_code == 404
    assert "/c/LATE1/late-fees" in client.get("/bills").get_data(as_text=True)


def test_late_fee_policy_page_only_for_managers(
    client: FlaskClient, login_as: Callable[..., Any], session: Session
) -> None:
    community = factories.make_community(session, code="LFP1")
    finance = factories.make_user(session, role="finance", community=community)
    session.commit()
    login_as("manager", community=community)
    page = client.get("/finance/LFP1/late-fees")
    assert page.status_code == 200  # no literal % in _() any more
    assert "30%" in page.get_data(as_text=True)
    # A bad rate is refused with a clear error and nothing is written.
    bad = client.post(
        "/finance/LFP1/late-fees",
        data={
            "enabled": "y",
            "daily_rate": "0.5",
            "cap_rate": "0.1",
            "grace_days": "30",
            "clause_ref": "第十二条",
        },
    )
    assert bad.status_code == 200
    assert session.scalar(select(func.count()).select_from(LateFeePolicy)) == 0
    client.post("/logout")
    client.post("/login", data=factories.login_fields(finance.username))
    assert client.get("/finance/LFP1/late-fees").status_code == 403
    overview = client.get("/finance/LFP1").get_data(as_text=True)
    assert "/finance/LFP1/late-fees" not in overview


def test_sla_flag_names_the_deadline_it_refers_to() -> None:
    class T:
        status = "submitted"
        created_at = NOW
        first_response_due_at = NOW + timedelta(hours=1)
        resolution_due_at = NOW + timedelta(hours=48)
        acknowledged_at = None
        resolved_at = None
        cancelled_at = None

    late = sla_clock(T(), NOW + timedelta(hours=2))  # type: ignore[arg-type]
    assert (late.state, late.kind, late.due_at) == ("overdue", "response", T.first_response_due_at)
    T.acknowledged_at = NOW + timedelta(minutes=30)
    on_time = sla_clock(T(), NOW + timedelta(hours=2))  # type: ignore[arg-type]
    assert (on_time.state, on_time.kind) == ("ok", "resolution")


def test_line_explanations_show_rates_as_prices() -> None:
    assert rates_in_text("89.50㎡ × 2.3500 元/㎡·月 × 1 月") == "89.50㎡ × 2.35 元/㎡·月 × 1 月"
    assert rates_in_text("1 户 × 30.0000 元/户·月 × 3 月") == "1 户 × 30.00 元/户·月 × 3 月"
    assert rates_in_text(None) == ""
