"""The satisfaction profile (score, weights, penalties, trend) and service-recovery tasks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.errors import Conflict, DomainError
from portal.feedback import recovery, surveys
from portal.feedback.models import RecoveryTask
from portal.feedback.profile import satisfaction_profile
from portal.feedback.surveys import QuestionSpec
from portal.tickets import aftercare
from tests.factories import NOW
from tests.feedback.util import answered_complaint, login, make_complaint, make_world
from tests.tickets.util import make_ticket, resolved_ticket


def _rated(session, world, score, *, now=NOW):
    ticket = resolved_ticket(session, world, now=now)
    aftercare.rate(
        session, ticket=ticket, actor=world.owner, now=now + timedelta(hours=4), score=score
    )
    return ticket


def _survey_answer(session, world, score, *, now=NOW):
    survey = surveys.create_survey(
        session,
        staff=world.cs,
        community=world.community,
        title="调查",
        closes_at=now + timedelta(days=7),
        questions=[QuestionSpec(kind="rating", text="总体满意度")],
        now=now,
    )
    return surveys.submit_response(
        session,
        survey_id=survey.id,
        owner=world.owner,
        unit_id=world.unit.id,
        answers={"q1": score},
        now=now,
    )


def test_no_data_no_score(session) -> None:
    world = make_world(session)
    result = satisfaction_profile(session, unit_id=world.unit.id, now=NOW)
    assert result.score is None
    assert not result.dissatisfied
    assert result.as_json()["score"] is None


def test_weighted_score_from_ratings_and_survey(session) -> None:
    world = make_world(session)
    _rated(session, world, 5, now=NOW - timedelta(days=10))  # repairs: 100
    _survey_answer(session, world, 3, now=NOW - timedelta(days=5))  # survey: 50
    result = satisfaction_profile(session, unit_id=world.unit.id, now=NOW)
    # (100 × 30 + 50 × 50) / 80 = 68.75 → 68.8 → 69
    assert result.score == 69
    by_signal = {i.signal: i for i in result.inputs}
    assert by_signal["repair_ratings"].value == 100
    assert by_signal["survey"].value == 50
    assert by_signal["complaint_ratings"].value is None
    assert result.fresh_at == NOW - timedelta(days=5)


def test_open_complaint_deducts_and_marks_dissatisfied(session) -> None:
    world = make_world(session)
    _rated(session, world, 5, now=NOW - timedelta(days=10))
    make_complaint(session, world)
    result = satisfaction_profile(session, unit_id=world.unit.id, now=NOW)
    assert result.score == 90
    assert result.dissatisfied
    assert [p.signal for p in result.penalties] == ["open_complaints"]
    assert any(e["signal"] == "open_complaints" for e in result.evidence)


def test_overdue_tickets_of_the_unit_count(session) -> None:
    world = make_world(session)
    make_ticket(session, world, now=NOW - timedelta(days=10))
    result = satisfaction_profile(session, unit_id=world.unit.id, now=NOW)
    assert result.score == 45  # neutral 50 − 5
    assert result.evidence[0]["signal"] == "overdue_tickets"


def test_ratings_outside_the_window_are_ignored(session) -> None:
    world = make_world(session)
    _rated(session, world, 1, now=NOW - timedelta(days=400))
    assert satisfaction_profile(session, unit_id=world.unit.id, now=NOW).score is None


def test_trend_compares_the_last_90_days(session) -> None:
    world = make_world(session)
    _rated(session, world, 5, now=NOW - timedelta(days=120))
    _rated(session, world, 2, now=NOW - timedelta(days=10))
    result = satisfaction_profile(session, unit_id=world.unit.id, now=NOW)
    assert result.trend == "worsening"
    assert result.trend_delta == -75


def test_a_complaint_opens_one_recovery_task_with_its_problem(session) -> None:
    world = make_world(session)
    ticket = make_complaint(session, world)
    task = session.scalar(select(RecoveryTask))
    assert task.unit_id == world.unit.id
    assert task.problems[0]["ref"] == f"ticket:{ticket.id}"
    assert task.due_on.isoformat() == "2026-11-23"
    make_complaint(session, world, description="又没打扫")
    assert session.scalar(select(func.count(RecoveryTask.id))) == 1
    assert len(session.scalar(select(RecoveryTask)).problems) == 2


def test_sweep_finds_low_ratings_and_is_idempotent(session) -> None:
    world = make_world(session)
    _rated(session, world, 2, now=NOW - timedelta(days=3))
    first = recovery.sweep(session, community=world.community, now=NOW)
    assert (first.opened, first.updated) == (1, 0)
    again = recovery.sweep(session, community=world.community, now=NOW)
    assert (again.opened, again.updated) == (0, 0)
    task = session.scalar(select(RecoveryTask))
    assert task.problems[0]["signal"] == "low_rating"


def test_low_survey_answer_opens_a_task(session) -> None:
    world = make_world(session)
    _survey_answer(session, world, 1)
    assert session.scalar(select(RecoveryTask)).problems[0]["signal"] == "low_survey"


def test_complete_task_and_not_reopened_for_the_same_problem(session) -> None:
    world = make_world(session)
    answered_complaint(session, world, score=1)
    task = session.scalar(select(RecoveryTask))
    with pytest.raises(DomainError):
        recovery.complete_task(session, task=task, staff=world.cs, note=" ", now=NOW)
    assert task.status == "open"
    recovery.complete_task(session, task=task, staff=world.cs, note="上门致歉并补扫", now=NOW)
    assert task.status == "done"
    assert task.open_unit_id is None
    with pytest.raises(Conflict):
        recovery.complete_task(session, task=task, staff=world.cs, note="again", now=NOW)
    assert recovery.sweep(session, community=world.community, now=NOW).opened == 0
    today = NOW.date()
    assert recovery.counts(session, community_id=world.community.id, today=today) == {
        "open": 0,
        "overdue": 0,
        "done": 1,
    }


def test_overdue_tasks_are_listed(session) -> None:
    world = make_world(session)
    make_complaint(session, world)
    later = (NOW + timedelta(days=5)).date()
    page = recovery.task_list(session, community_ids=None, status="overdue", today=later)
    assert page.total == 1
    assert recovery.counts(session, community_id=world.community.id, today=later)["overdue"] == 1


def test_staff_pages_are_scoped(app, client, session) -> None:
    world = make_world(session)
    make_complaint(session, world)
    other = make_world(session)
    session.commit()
    login(client, world.cs)
    assert client.get(f"/feedback/staff/units/{world.unit.id}").status_code == 200
    assert client.get(f"/feedback/staff/units/{other.unit.id}").status_code == 404
    assert client.get("/feedback/staff/recovery").status_code == 200
    task = session.scalar(select(RecoveryTask))
    empty = client.post(f"/feedback/staff/recovery/{task.id}/done", data={"note": ""})
    assert empty.status_code == 302
    session.expire_all()
    assert session.get(RecoveryTask, task.id).status == "open"
    done = client.post(f"/feedback/staff/recovery/{task.id}/done", data={"note": "已回访"})
    assert done.status_code == 302
    session.expire_all()
    assert session.get(RecoveryTask, task.id).status == "done"
    outsider = app.test_client()
    login(outsider, other.cs)
    assert (
        outsider.post(f"/feedback/staff/recovery/{task.id}/done", data={"note": "x"}).status_code
        == 404
    )
    owner = app.test_client()
    login(owner, world.owner)
    assert owner.get(f"/feedback/staff/units/{world.unit.id}").status_code in (403, 404)


def test_recovery_cli_is_idempotent(runner, session) -> None:
    world = make_world(session)
    _rated(session, world, 1, now=NOW - timedelta(days=2))
    session.commit()
    first = runner.invoke(args=["feedback", "recovery", "--community", world.community.code])
    assert first.exit_code == 0, first.output
    assert "1 opened" in first.output
    again = runner.invoke(args=["feedback", "recovery"])
    assert f"{world.community.code}: 0 opened, 0 extended" in again.output
    assert runner.invoke(args=["feedback", "recovery", "--community", "NOPE"]).exit_code != 0
