"""KPI definitions pinned on a small hand-made data set, and the streamed CSV exports."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from portal.feedback import kpis, recovery, surveys
from portal.feedback.models import RecoveryTask
from portal.feedback.surveys import QuestionSpec
from tests import factories
from tests.factories import NOW
from tests.feedback.util import answered_complaint, login, make_complaint, make_world


def test_month_list() -> None:
    assert kpis.month_list(NOW, "Asia/Shanghai", 3) == ["2026-09", "2026-10", "2026-11"]


def test_kpis_on_a_small_data_set(session) -> None:
    world = make_world(session)
    survey = surveys.create_survey(
        session,
        staff=world.cs,
        community=world.community,
        title="调查",
        closes_at=NOW + timedelta(days=7),
        questions=[QuestionSpec(kind="rating", text="总体")],
        now=NOW,
    )
    owners = [(world.owner, world.unit), (world.other_owner, world.other_unit)]
    for _ in range(3):
        unit = factories.make_unit(session, building=world.unit.building)
        owners.append((factories.make_user(session, role="owner", unit=unit), unit))
    for score, (owner, unit) in zip([5, 5, 4, 4, 2], owners, strict=True):
        surveys.submit_response(
            session,
            survey_id=survey.id,
            owner=owner,
            unit_id=unit.id,
            answers={"q1": score},
            now=NOW,
        )
    answered_complaint(session, world, now=NOW - timedelta(hours=2), answered_at=NOW)
    make_complaint(session, world)
    board = kpis.dashboard(session, community=world.community, now=NOW, months=3)
    month = board.rows[-1]
    assert month.month == "2026-11"
    assert month.responses == 5
    assert month.survey_satisfaction == Decimal(75)  # mean 4.0 → 75
    assert month.repair_satisfaction is None
    assert month.complaints == 2
    assert month.complaint_units == 1
    assert month.complaint_rate == Decimal("0.2")  # 1 unit of 5
    assert month.answer_h == Decimal(2)
    assert month.answered_on_time == 1
    # a low survey answer (2) and the complaints opened recovery tasks this month
    assert month.recovery_opened == 2
    task = session.scalar(select(RecoveryTask).where(RecoveryTask.unit_id == world.unit.id))
    recovery.complete_task(session, task=task, staff=world.cs, note="回访", now=NOW)
    month = kpis.dashboard(session, community=world.community, now=NOW, months=3).rows[-1]
    assert (month.recovery_done, month.recovery_on_time) == (1, 1)
    assert month.recovery_completion == Decimal("0.5")
    assert board.rows[0].survey_satisfaction is None


def test_dashboard_and_streamed_exports(app, client, session) -> None:
    world = make_world(session)
    answered_complaint(session, world, score=4)
    session.commit()
    login(client, world.manager)
    assert client.get("/feedback/staff/kpis").status_code == 200
    # The test client buffers (conftest); without it the export is a streamed response.
    months = client.get(f"/feedback/staff/kpis.csv?community={world.community.id}", buffered=False)
    assert months.is_streamed
    text = months.get_data(as_text=True)
    assert text.startswith("\ufeffmonth,")
    assert "2026-11" in text
    rows = client.get(f"/feedback/staff/kpis.csv?community={world.community.id}&table=complaints")
    body = rows.get_data(as_text=True)
    assert "保洁服务" in body
    assert world.owner.display_name not in body
    other = make_world(session)
    session.commit()
    assert client.get(f"/feedback/staff/kpis?community={other.community.id}").status_code == 404
    cs = app.test_client()
    login(cs, world.cs)
    assert cs.get("/feedback/staff/kpis").status_code in (403, 404)


def test_by_building_is_k_anonymous(session) -> None:
    world = make_world(session)
    make_complaint(session, world)
    (row,) = kpis.by_building(session, community=world.community, now=NOW)
    assert row.units == 2
    assert row.complaint_units == 1
    assert row.complaint_rate is None  # fewer than 5 units
    assert row.satisfaction is None
