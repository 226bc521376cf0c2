"""The KPI pages: who may open which, another community's staff get 404, exports complete."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from portal.api.openapi import build_document
from portal.reports import dashboard
from tests import factories
from tests.conftest import Clock
from tests.reports.util import NOW, Town, make_town


def _login(app: Flask, user) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    response = client.post("/login", data=factories.login_fields(user.username))
    assert response.status_code == 302
    return client


@pytest.fixture
def town(app: Flask, session: Session, clock: Clock) -> Town:
    clock.set(NOW)
    town = make_town(session)
    session.commit()
    return town


def test_manager_dashboard_and_every_export_is_complete(
    app: Flask, session: Session, town: Town
) -> None:
    client = _login(app, town.manager)
    page = client.get("/reports/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for chart in ("chart-collection", "chart-buildings", "chart-funnel", "chart-recovery"):
        assert chart in html
    assert "进行中" in html  # November is not yet due
    board = dashboard.build(session, communities=[town.community], now=NOW)
    for name in dashboard.TABLES:
        header, rows = dashboard.table(board, name)
        response = client.get(f"/reports/dashboard/{name}.csv")  # streamed by portal.exports
        assert response.status_code == 200
        got = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        assert got[0] == header
        assert len(got) == len(rows) + 1, name
        book = client.get(f"/reports/dashboard/{name}.xlsx?community={town.community.code}")
        assert book.status_code == 200
        sheet = load_workbook(io.BytesIO(book.get_data())).active
        assert sheet.max_row == len(rows) + 1, name
    assert client.get("/reports/dashboard/nothing.csv").status_code == 404
    assert client.get("/reports/dashboard/months.pdf").status_code == 404
    months = client.get("/reports/dashboard/months.csv").get_data(as_text=True)
    assert "2026-11,20.0,是" in months  # the in-progress month is labelled, not dropped
    english = client.get("/reports/dashboard?lang=en")
    assert english.status_code == 200
    assert "in progress" in english.get_data(as_text=True).lower()


def test_another_communitys_manager_sees_nothing_of_it(
    app: Flask, session: Session, town: Town
) -> None:
    other = make_town(session, code="KPI2")
    session.commit()
    client = _login(app, other.manager)
    assert client.get("/reports/dashboard?community=KPI1").status_code == 404
    assert client.get("/reports/dashboard/months.csv?community=KPI1").status_code == 404
    assert client.get("/reports/kpis/KPI1").status_code == 404
    assert client.get("/reports/committee").status_code == 403
    own = client.get("/reports/dashboard").get_data(as_text=True)
    assert "KPI1" not in own


def test_definitions_page_for_manager_cs_finance_and_admin(
    app: Flask, session: Session, town: Town
) -> None:
    finance = factories.make_user(session, role="finance", community=town.community)
    collector = factories.make_user(session, role="collector", community=town.community)
    admin = factories.make_user(session, role="admin")
    session.commit()
    for user in (town.manager, town.world.cs, finance, admin):
        page = _login(app, user).get("/reports/kpis/KPI1")
        assert page.status_code == 200, user.username
        html = page.get_data(as_text=True)
        assert "收缴率" in html
        assert "减免不计入应收" in html  # the exclusion is stated next to the figure
        assert "80%" in html or "80" in html
    assert _login(app, collector).get("/reports/kpis/KPI1").status_code == 403
    assert _login(app, town.owners[0]).get("/reports/kpis/KPI1").status_code == 403
    assert _login(app, town.world.cs).get("/reports/dashboard").status_code == 403
    assert _login(app, admin).get("/reports/dashboard").status_code == 200
    assert _login(app, town.manager).get("/reports/kpis/NOPE").status_code == 404


def test_committee_dashboard_has_no_personal_data(app: Flask, session: Session, town: Town) -> None:
    committee = factories.make_user(session, role="committee", community=town.community)
    session.commit()
    client = _login(app, committee)
    page = client.get("/reports/committee")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "王芳" not in html
    for unit in town.units:
        assert unit.code not in html
    buildings = client.get("/reports/committee/buildings.csv").get_data(as_text=True)
    assert "欠费户数" not in buildings
    assert client.get("/reports/dashboard").status_code == 403
    assert client.get("/reports/kpis/KPI1").status_code == 403


def test_stats_api_carries_the_kpis(app: Flask, session: Session, town: Town) -> None:
    client = app.test_client()
    body = client.get("/api/v1/communities/KPI1/stats").get_json()
    assert {"collection_rate_by_month", "by_building", "disputes", "kpis"} <= set(body)
    assert body["collection_rate_by_month"][-1]["in_progress"] is True
    kpis = body["kpis"]
    assert {d["key"] for d in kpis["definitions"]} >= {"collection_rate", "complaint_rate"}
    months = {m["month"]: m for m in kpis["by_month"]}
    assert months["2026-10"]["collection_rate"] == 0.6
    assert months["2026-10"]["arrears_recovery_rate"] == 0.6667
    assert months["2026-11"]["in_progress"] is True
    (building,) = kpis["by_building"]
    assert building["units"] == 5
    assert building["collection_rate"] == 0.7
    assert "arrears_units" not in building
    assert {b["bucket"] for b in kpis["arrears_by_aging"]} >= {"16-30", "31-60"}
    schemas = build_document()["components"]["schemas"]
    assert "kpis" in schemas["Stats"]["properties"]
    assert "Kpis" in schemas


def test_public_page_labels_the_month_in_progress(app: Flask, session: Session, town: Town) -> None:
    html = app.test_client().get("/c/KPI1").get_data(as_text=True)
    assert "进行中，未到期" in html
    assert "不代表收缴率下降" in html


def test_small_buildings_show_no_figures_to_owners_or_the_committee(
    app: Flask, session: Session, town: Town
) -> None:
    small = factories.make_building(session, community=town.community, code="K2")
    for i in range(2):
        factories.make_unit(session, building=small, code=f"K2-{i}")
    committee = factories.make_user(session, role="committee", community=town.community)
    session.commit()
    body = app.test_client().get("/api/v1/communities/KPI1/stats").get_json()
    shown = {b["building"]: b for b in body["kpis"]["by_building"]}
    assert shown[small.name] == {
        "building": small.name,
        "units": 2,
        "collection_rate": None,
        "satisfaction": None,
        "complaint_rate": None,
    }
    rows = _login(app, committee).get("/reports/committee/buildings.csv").get_data(as_text=True)
    (line,) = [r for r in rows.splitlines() if small.name in r]
    assert line.endswith(",2,,,,")  # units only: no rate, score or answers below k = 5


def test_finance_table_labels_the_month_in_progress(
    app: Flask, session: Session, town: Town
) -> None:
    finance = factories.make_user(session, role="finance", community=town.community)
    session.commit()
    html = _login(app, finance).get("/finance/KPI1").get_data(as_text=True)
    row = next(line for line in html.splitlines() if "<td>2026-11</td>" in line)
    assert "进行中，未到期" in row
    october = next(line for line in html.splitlines() if "<td>2026-10</td>" in line)
    assert "进行中" not in october
    assert "/reports/kpis/KPI1" in html


def test_manager_home_opens_on_last_due_months_figures(
    app: Flask, session: Session, town: Town
) -> None:
    from portal.reports import kpis

    latest = kpis.headline(session, communities=[town.community], now=NOW)
    assert latest is not None
    assert not latest.in_progress
    html = _login(app, town.manager).get("/").get_data(as_text=True)
    assert f"最近已到期月份：{latest.month}" in html
    assert f"{latest.collection_rate * 100:.1f}%" in html
    assert "/reports/dashboard" in html
    # An owner's home has no company figures.
    assert "最近已到期月份" not in _login(app, town.owners[0]).get("/").get_data(as_text=True)


def test_the_board_is_computed_once_an_hour_and_says_when(
    app: Flask, session: Session, town: Town, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At company scale a board takes seconds: it is kept for the hour (by the clock, not the
    data version, which a payment moves), shared by every reader, and the page says when it
    was computed."""
    from datetime import timedelta

    computed = []
    real = dashboard.build

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(dashboard, "build", counting)
    client = _login(app, town.manager)
    first = client.get("/reports/dashboard")
    assert first.status_code == 200
    assert "数据计算于 2026-" in first.get_data(as_text=True)
    factories.make_unit(session, community=town.community)  # new data, same hour
    session.commit()
    assert client.get("/reports/dashboard").status_code == 200
    assert _login(app, town.manager).get("/reports/dashboard").status_code == 200
    assert len(computed) == 1
    clock.set(NOW + timedelta(hours=1))
    assert _login(app, town.manager).get("/reports/dashboard").status_code == 200
    assert len(computed) == 2
