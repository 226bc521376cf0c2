from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from portal.communities.models import Community
from portal.tickets import aftercare, setup, stats
from portal.tickets import figures as charts
from portal.tickets.models import Ticket, TicketRating
from tests import factories
from tests.tickets.util import make_world, resolved_ticket

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
_numbers = count(1)


def raw_ticket(
    session: Session,
    community: Community,
    category: str,
    *,
    period: str = "2026-11",
    created_at: datetime = datetime(2026, 11, 3, 2, 0, tzinfo=UTC),
    first_s: int | None = None,
    res_s: int | None = None,
    first_met: bool | None = None,
    res_met: bool | None = None,
    status: str | None = None,
    reopen: int = 0,
    score: int | None = None,
    due_in: timedelta = timedelta(hours=48),
) -> int:
    """Insert a ticket row with chosen timings (what the workflow would have stored)."""
    cat = setup.find_category(session, community=community, code=category)
    if status is None:
        status = "closed" if res_s is not None else ("acknowledged" if first_s else "submitted")
    ticket_id = session.execute(
        insert(Ticket).returning(Ticket.id),
        {
            "community_id": community.id,
            "number": f"{community.code}-T{next(_numbers)}",
            "category_id": cat.id,
            "urgency": "normal",
            "status": status,
            "channel": "web",
            "location_type": "in_home",
            "area": "",
            "description": "测试",
            "preferred_slot": "any",
            "contact_phone": "",
            "period": period,
            "created_at": created_at,
            "updated_at": created_at,
            "first_response_due_at": created_at + timedelta(hours=4),
            "resolution_due_at": created_at + due_in,
            "acknowledged_at": created_at + timedelta(seconds=first_s) if first_s else None,
            "resolved_at": created_at + timedelta(seconds=res_s) if res_s else None,
            "first_response_s": first_s,
            "resolution_s": res_s,
            "first_response_met": first_met,
            "resolution_met": res_met,
            "reopen_count": reopen,
            "rating_score": score,
        },
    ).scalar_one()
    if score is not None:
        session.execute(
            insert(TicketRating),
            {
                "ticket_id": ticket_id,
                "score": score,
                "comment": "",
                "channel": "owner",
                "created_at": created_at + timedelta(days=3),
            },
        )
    return ticket_id


H = 3600


def _hand_data(session: Session) -> Community:
    community = factories.make_community(session, code="HAND")
    setup.ensure_categories(session, community)
    rows = [
        # first response s, resolution s, met flags, reopen, score
        {"first_s": 600, "res_s": 1 * H, "first_met": True, "res_met": True, "score": 5},
        {"first_s": 1200, "res_s": 2 * H, "first_met": True, "res_met": True, "score": 4},
        {
            "first_s": 1800,
            "res_s": 3 * H,
            "first_met": True,
            "res_met": True,
            "score": 2,
            "reopen": 1,
        },
        {"first_s": 2400, "res_s": 4 * H, "first_met": True, "res_met": True, "score": 5},
        {"first_s": 3000, "res_s": 10 * H, "first_met": True, "res_met": False, "score": 3},
        {"first_s": 3600, "first_met": True, "status": "in_progress", "due_in": timedelta(days=30)},
    ]
    for row in rows:
        raw_ticket(session, community, "plumbing_electric", **row)
    # A cancelled one: counted as received, in nothing else.
    raw_ticket(
        session, community, "plumbing_electric", first_s=60, first_met=True, status="cancelled"
    )
    # A small category: two tickets, figures withheld.
    raw_ticket(
        session,
        community,
        "elevator",
        first_s=300,
        res_s=2 * H,
        first_met=True,
        res_met=True,
        score=1,
    )
    raw_ticket(
        session,
        community,
        "elevator",
        first_s=300,
        res_s=5 * H,
        first_met=True,
        res_met=True,
        score=1,
    )
    # Last month: one ticket past its due time and never answered.
    raw_ticket(
        session,
        community,
        "plumbing_electric",
        period="2026-10",
        created_at=datetime(2026, 10, 10, 2, 0, tzinfo=UTC),
    )
    return community


def test_figures_match_a_hand_count(session: Session) -> None:
    community = _hand_data(session)
    report = stats.responsiveness(session, community=community, months=1, now=NOW)
    assert (report.period_from, report.period_to) == ("2026-11", "2026-11")
    rows = {r.category.code: r.figures for r in report.categories}
    water = rows["plumbing_electric"]
    assert water.tickets == 7
    assert water.cancelled == 1
    # First response 600..3600 s: median (1800+2400)/2 = 2100 s; p90 at 4.5 → 3300 s.
    assert water.fr_n == 6
    assert water.median_first_response_h == Decimal("0.58")
    assert water.p90_first_response_h == Decimal("0.92")
    # Resolution 1, 2, 3, 4, 10 h: median 3 h; p90 at rank 3.6 → 4 + 0.6 × 6 = 7.6 h.
    assert water.res_n == 5
    assert water.median_resolution_h == Decimal("3.00")
    assert water.p90_resolution_h == Decimal("7.60")
    # SLA: 4 met of 5 decided (the open one is not due yet).
    assert (water.sla_met, water.sla_n) == (4, 5)
    assert water.sla_compliance == Decimal("0.8000")
    assert water.reopen_rate == Decimal("0.2000")
    assert water.mean_rating == Decimal("3.80")
    assert water.backlog == 2  # the open November one and the October one
    lift = rows["elevator"]
    assert lift.tickets == 2
    assert lift.median_resolution_h is None
    assert lift.sla_compliance is None
    assert lift.mean_rating is None
    assert rows["noise"].tickets == 0
    assert report.overall.tickets == 9
    assert report.overall.res_n == 7
    # Overall resolution hours 1,2,2,3,4,5,10: median 3; p90 at 5.4 → 5 + 0.4 × 5 = 7.
    assert report.overall.median_resolution_h == Decimal("3.00")
    assert report.overall.p90_resolution_h == Decimal("7.00")
    assert report.overall.mean_rating == Decimal("3.00")  # 5+4+2+5+3+1+1 = 21 / 7
    # Two months: the October ticket is decided (past due) and not met.
    wider = stats.responsiveness(session, community=community, months=2, now=NOW)
    water2 = {r.category.code: r.figures for r in wider.categories}["plumbing_electric"]
    assert (water2.sla_met, water2.sla_n) == (4, 6)
    assert wider.by_month["2026-10"].tickets == 1
    assert wider.by_month["2026-10"].sla_compliance is None  # 1 ticket: too few


def test_json_shape_and_suppression(session: Session) -> None:
    community = _hand_data(session)
    report = stats.responsiveness(session, community=community, months=1, now=NOW)
    body = stats.responsiveness_json(report)
    assert body["community"] == "HAND"
    assert body["months"] == 1
    assert body["period"] == {"from": "2026-11", "to": "2026-11"}
    water = next(c for c in body["categories"] if c["category"] == "plumbing_electric")
    assert water == {
        "category": "plumbing_electric",
        "name": "水电",
        "tickets": 7,
        "median_first_response_h": 0.58,
        "p90_first_response_h": 0.92,
        "median_resolution_h": 3,
        "p90_resolution_h": 7.6,
        "sla_compliance": 0.8,
        "reopen_rate": 0.2,
        "mean_rating": 3.8,
        "samples": {
            "first_response": 6,
            "resolution": 5,
            "sla": 5,
            "resolved": 5,
            "ratings": 5,
        },
        "backlog": 2,
    }
    lift = next(c for c in body["categories"] if c["category"] == "elevator")
    assert lift["tickets"] == 2
    assert lift["median_resolution_h"] is None
    assert lift["mean_rating"] is None


def test_period_range() -> None:
    assert stats.period_range(date(2026, 2, 10), 3) == (
        "2025-12",
        "2026-02",
        ["2025-12", "2026-01", "2026-02"],
    )
    assert stats.period_range(date(2026, 2, 10), 0)[2] == ["2026-02"]


def _reference(values: list[int], p: Fraction) -> Decimal:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    lo = position.numerator // position.denominator
    hi = min(lo + 1, len(ordered) - 1)
    frac = position - lo
    return Decimal(ordered[lo]) + (Decimal(ordered[hi]) - Decimal(ordered[lo])) * (
        Decimal(frac.numerator) / Decimal(frac.denominator)
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    groups=st.lists(
        st.lists(st.integers(min_value=0, max_value=500_000), min_size=1, max_size=25),
        min_size=1,
        max_size=3,
    )
)
def test_sql_percentiles_equal_a_reference(session: Session, groups: list[list[int]]) -> None:
    community = factories.make_community(session)
    setup.ensure_categories(session, community)
    codes = ["plumbing_electric", "elevator", "noise"]
    for code, values in zip(codes, groups, strict=False):
        for value in values:
            raw_ticket(session, community, code, first_s=value, res_s=value + 7)
    found = stats.figures(
        session,
        community_id=community.id,
        period_from="2026-11",
        period_to="2026-11",
        group="category",
        now=NOW,
    )
    for code, values in zip(codes, groups, strict=False):
        cat = setup.find_category(session, community=community, code=code)
        figure = found[(cat.id,)]
        assert figure.fr_n == len(values)
        assert figure.fr_median_s == _reference(values, Fraction(1, 2))
        assert figure.fr_p90_s == _reference(values, Fraction(9, 10))
        assert figure.res_median_s == _reference([v + 7 for v in values], Fraction(1, 2))
    session.execute(delete(Ticket).where(Ticket.community_id == community.id))


@pytest.mark.pg
def test_postgresql_percentile_cont_equals_the_window_ranking(session: Session) -> None:
    community = _hand_data(session)
    for seconds in (5, 70, 70, 900, 1234, 86_400, 99_999, 3, 17, 18, 18):
        raw_ticket(session, community, "greening", first_s=seconds, res_s=seconds * 11 + 1)
    args = {
        "community_id": community.id,
        "period_from": "2026-10",
        "period_to": "2026-11",
        "groupings": stats.GROUPINGS,
    }
    native = stats.order_statistics(session, native=True, **args)
    ranked = stats.order_statistics(session, native=False, **args)
    assert native == ranked
    assert len(native["category_month"]) == 4


def test_figures_from_the_workflow(session: Session) -> None:
    world = make_world(session)
    start = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    for hours in (1, 2, 3, 4, 5, 60):
        ticket = resolved_ticket(session, world, now=start, hours=hours)
        aftercare.rate(
            session,
            ticket=ticket,
            actor=world.owner,
            now=start + timedelta(days=3),
            score=5 if hours < 48 else 1,
        )
    report = stats.responsiveness(session, community=world.community, months=1, now=NOW)
    water = {r.category.code: r.figures for r in report.categories}["plumbing_electric"]
    assert water.tickets == 6
    assert water.median_first_response_h == Decimal("0.17")  # 10 minutes
    assert water.median_resolution_h == Decimal("3.50")
    assert water.sla_compliance == Decimal("0.8333")
    assert water.mean_rating == Decimal("4.33")


def test_charts_are_plain_json(session: Session) -> None:
    import json

    community = _hand_data(session)
    report = stats.responsiveness(session, community=community, months=2, now=NOW)
    figures: dict[str, Any] = charts.responsiveness_figures(report)
    assert set(figures) == {"chart-hours", "chart-sla", "chart-category"}
    text_ = json.dumps(figures, ensure_ascii=False)
    assert "水电" in text_
    hours = figures["chart-hours"]["data"][0]
    assert hours["x"] == ["2026-10", "2026-11"]
    assert hours["y"] == [None, 3]  # October: too few to rate
    bars = figures["chart-category"]["data"][0]
    assert list(bars["y"]) == ["水电"]  # the lift category is too small to appear
