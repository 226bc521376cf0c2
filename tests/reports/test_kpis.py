"""Each KPI pinned on the hand-made community of tests/reports/util.py (worked by hand)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy.orm import Session

from portal.reports import dashboard, kpis
from portal.timeutil import DEFAULT_TZ
from tests.conftest import Clock
from tests.feedback.util import make_complaint
from tests.reports.util import NOW, add_recovery_task, local, make_town
from tests.tickets.util import resolved_ticket


def _months(session: Session, town, months: int = 3) -> dict[str, kpis.MonthKpis]:
    rows = kpis.monthly(session, communities=[town.community], now=NOW, months=months)
    return {r.month: r for r in rows[town.community.id]}


def test_collection_rate_and_the_month_not_yet_due(app: Flask, session: Session) -> None:
    town = make_town(session)
    m = _months(session, town)
    assert list(m) == ["2026-09", "2026-10", "2026-11"]
    # September: U1, U2 (late), U3 (late) and U5 paid of 5 × ¥250.
    assert (m["2026-09"].billed_fen, m["2026-09"].collected_fen) == (125_000, 100_000)
    assert m["2026-09"].collection_rate == Decimal("0.8000")
    assert m["2026-10"].collection_rate == Decimal("0.6000")  # U1, U2, U5
    assert m["2026-11"].collection_rate == Decimal("0.2000")  # U1 only, and not yet due
    assert [r.in_progress for r in m.values()] == [False, False, True]
    latest = kpis.last_complete(list(m.values()))
    assert latest is not None
    assert latest.month == "2026-10"


def test_arrears_recovery_rate(app: Flask, session: Session) -> None:
    town = make_town(session)
    m = _months(session, town)
    # 1 September: nothing was due before it.
    assert m["2026-09"].prior_arrears_fen == 0
    assert m["2026-09"].arrears_recovery_rate is None
    # 1 October: the September bills of U2, U3, U4 were unpaid (¥750); U2 and U3 paid in
    # October (¥500).
    assert (m["2026-10"].prior_arrears_fen, m["2026-10"].prior_collected_fen) == (75_000, 50_000)
    assert m["2026-10"].arrears_recovery_rate == Decimal("0.6667")
    # 1 November: U3's October and U4's September and October bills (¥750); nothing since.
    assert (m["2026-11"].prior_arrears_fen, m["2026-11"].prior_collected_fen) == (75_000, 0)
    assert m["2026-11"].arrears_recovery_rate == Decimal("0.0000")


def test_online_payment_share(app: Flask, session: Session) -> None:
    town = make_town(session)
    m = _months(session, town)
    # September: U1 WeChat + U5 cash; October: U1, U2 ×2, U3 online + U5 cash; November: U1.
    assert (m["2026-09"].online_fen, m["2026-09"].paid_fen) == (25_000, 50_000)
    assert m["2026-09"].online_payment_share == Decimal("0.5000")
    assert (m["2026-10"].online_fen, m["2026-10"].paid_fen) == (100_000, 125_000)
    assert m["2026-10"].online_payment_share == Decimal("0.8000")
    assert m["2026-11"].online_payment_share == Decimal("1.0000")


def test_arrears_by_aging_bucket(app: Flask, session: Session) -> None:
    town = make_town(session)
    buckets = kpis.arrears_by_bucket(
        session, community_ids=[town.community.id], today=local(NOW.date()).date()
    )[town.community.id]
    # 10 November: U3 owes October (due 10-16, 25 days); U4 September and October (due
    # 09-16, 55 days). November is not yet due, so U2 and U5 are not in arrears.
    assert buckets["16-30"] == {"units": 1, "amount_fen": 25_000}
    assert buckets["31-60"] == {"units": 1, "amount_fen": 50_000}
    assert sum(b["units"] for b in buckets.values()) == 2


def test_complaint_rate_and_sla_compliance(app: Flask, session: Session) -> None:
    town = make_town(session)
    october = local(NOW.date().replace(month=10, day=15))
    make_complaint(session, town.world, now=october)
    make_complaint(session, town.world, now=october + timedelta(hours=1))  # same unit: once
    resolved_ticket(session, town.world, now=october, hours=2)
    resolved_ticket(session, town.world, now=october, hours=24 * 20)
    session.flush()
    m = _months(session, town)
    assert m["2026-10"].complaint_units == 1
    assert m["2026-10"].complaint_rate == Decimal("0.2000")  # 1 of 5 units; target < 5%
    assert kpis.BY_KEY["complaint_rate"].meets(m["2026-10"].complaint_rate) is False
    assert m["2026-09"].complaint_rate == Decimal("0.0000")
    # Two repairs with a decided SLA, one within it; the unanswered complaints are undecided.
    assert (m["2026-10"].sla_met, m["2026-10"].sla_decided) == (1, 2)
    assert m["2026-10"].sla_compliance == Decimal("0.5000")


def test_digital_reach(app: Flask, session: Session) -> None:
    town = make_town(session)
    reach = kpis.digital_reach(session, community_ids=[town.community.id], now=NOW)
    assert reach[town.community.id] == (2, 5)  # U3 has a phone, U4 an e-mail


def test_recovery_after_service(app: Flask, session: Session) -> None:
    town = make_town(session)
    # U3's task done on 10-10 while September was owed; U3 paid on 10-20 (within 30 days).
    # U4's done on 10-05; U4 never paid.
    add_recovery_task(
        session, town, unit=town.units[2], done_at=local(NOW.date().replace(month=10, day=10))
    )
    add_recovery_task(
        session, town, unit=town.units[3], done_at=local(NOW.date().replace(month=10, day=5))
    )
    treated, untreated = kpis.recovery_effect(session, community_ids=[town.community.id], now=NOW)
    assert (treated.units, treated.paid_units) == (2, 1)
    assert (treated.arrears_fen, treated.paid_fen) == (50_000, 25_000)
    assert treated.paid_share == Decimal("0.5000")
    # No task: U1, U2, U5. Only U2 was in arrears on a month's first day (1 October) and
    # paid on 10-08.
    assert (untreated.units, untreated.paid_units) == (1, 1)


def test_dispute_median_and_fit_line() -> None:
    assert kpis.median([Decimal(3), Decimal(1), Decimal(10)]) == Decimal("3.0")
    assert kpis.median([Decimal(1), Decimal(2)]) == Decimal("1.5")
    assert kpis.median([]) is None
    slope, intercept = kpis.fit_line(
        [(Decimal(80), Decimal(60)), (Decimal(90), Decimal(70)), (Decimal(100), Decimal(80))]
    )
    assert (slope, intercept) == (Decimal(1), Decimal(-20))
    assert kpis.fit_line([(Decimal(1), Decimal(2))]) is None


def test_pooled_months_sum_numerators_and_denominators(app: Flask, session: Session) -> None:
    one = make_town(session, code="KPI1")
    two = make_town(session, code="KPI2")
    per = kpis.monthly(session, communities=[one.community, two.community], now=NOW, months=3)
    pooled = {r.month: r for r in kpis.pooled(per)}
    assert pooled["2026-09"].billed_fen == 250_000
    assert pooled["2026-09"].collection_rate == Decimal("0.8000")
    assert pooled["2026-11"].in_progress is True


def test_definitions_state_formula_period_exclusions_and_targets() -> None:
    keys = {d.key for d in kpis.DEFINITIONS}
    assert keys == {
        "collection_rate",
        "arrears_recovery_rate",
        "arrears",
        "complaint_rate",
        "satisfaction",
        "sla_compliance",
        "online_payment_share",
        "dispute_median_days",
        "digital_reach",
    }
    for d in kpis.DEFINITIONS:
        data = d.as_json()
        assert data["formula"]
        assert data["period"]
        assert data["exclusions"]
    assert kpis.BY_KEY["satisfaction"].as_json()["target"] == 80
    assert kpis.BY_KEY["complaint_rate"].as_json()["target"] == 0.05
    assert kpis.BY_KEY["satisfaction"].meets(Decimal("80.1")) is True


def test_committee_board_has_no_arrears_per_building(
    app: Flask, session: Session, clock: Clock
) -> None:
    town = make_town(session)
    board = dashboard.build(session, communities=[town.community], now=NOW, public=True)
    header, rows = dashboard.table(board, "buildings")
    assert "欠费户数" not in header
    assert all(len(r) == len(header) for r in rows)


def _responses(session: Session, town, means_x100: list[int], day) -> None:
    from portal.feedback.models import Survey, SurveyResponse

    survey = Survey(
        community_id=town.community.id,
        title="年度满意度调查",
        closes_at=NOW + timedelta(days=30),
        created_at=day,
    )
    session.add(survey)
    session.flush()
    for unit, mean in zip(town.units, means_x100, strict=False):
        session.add(
            SurveyResponse(
                survey_id=survey.id,
                unit_id=unit.id,
                building_id=unit.building_id,
                mean_x100=mean,
                created_at=day,
                period=day.astimezone(DEFAULT_TZ).strftime("%Y-%m"),
            )
        )
    session.flush()


def test_satisfaction_needs_five_answers(app: Flask, session: Session) -> None:
    town = make_town(session)
    # Five answers in October: means 5, 4, 4, 3, 4 → 0-100: 100, 75, 75, 50, 75 → 75.0.
    _responses(session, town, [500, 400, 400, 300, 400], local(NOW.date().replace(month=10, day=3)))
    # Four in September: below k, no figure.
    _responses(session, town, [500, 500, 500, 500], local(NOW.date().replace(month=9, day=3)))
    m = _months(session, town)
    assert (m["2026-10"].responses, m["2026-10"].satisfaction) == (5, Decimal("75.0"))
    assert m["2026-09"].satisfaction is None
    assert kpis.BY_KEY["satisfaction"].meets(m["2026-10"].satisfaction) is False  # target > 80
    board = dashboard.build(session, communities=[town.community], now=NOW)
    (building,) = board.buildings
    # Collection by building: the periods already due (September, October): ¥1 750 of ¥2 500.
    assert building.collection_rate == Decimal("0.7000")
    assert building.satisfaction is not None  # nine answers over the year
    assert board.scatter == [(building.building, Decimal("70.0000"), building.satisfaction)]
