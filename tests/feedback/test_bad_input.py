"""Issue 12's bad input, end to end (service, page and API): a clear error, and nothing written
anywhere (every table compared before and after). The service-level refusals of each case
are in test_surveys.py and test_complaints.py; these add the paths they did not cover."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.communities import service as communities
from portal.errors import DomainError, NotFound
from portal.feedback import complaints, surveys
from portal.feedback.surveys import QuestionSpec
from tests import factories
from tests.collections.helpers import snapshot
from tests.factories import NOW
from tests.feedback.util import login, make_world

QUESTIONS = [
    QuestionSpec(kind="rating", text="保洁满意度", dimension="cleaning"),
    QuestionSpec(kind="rating", text="安保满意度", dimension="security"),
]


def _survey(session: Session, world, **kw):
    return surveys.create_survey(
        session,
        staff=world.cs,
        community=world.community,
        title="快速调查",
        closes_at=NOW + timedelta(days=14),
        questions=kw.pop("questions", QUESTIONS),
        now=NOW,
        **kw,
    )


def _token(client: FlaskClient, user) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json=factories.login_fields(user.username))
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _two_community_owner(session: Session):
    """The world's owner also owns a unit in another community."""
    world = make_world(session)
    elsewhere = make_world(session)
    communities.add_ownership(
        session, user=world.owner, unit=elsewhere.unit, started_on=date(2024, 1, 1)
    )
    return world, elsewhere


def test_survey_answer_with_ones_own_unit_of_another_community(session: Session) -> None:
    world, elsewhere = _two_community_owner(session)
    survey = _survey(session, world)
    session.commit()
    before = snapshot(session)
    with pytest.raises(NotFound):
        surveys.submit_response(
            session,
            survey_id=survey.id,
            owner=world.owner,
            unit_id=elsewhere.unit.id,
            answers={"q1": 4, "q2": 4},
            now=NOW,
        )
    session.rollback()
    assert snapshot(session) == before


def test_api_errors_name_the_problem_and_write_nothing(
    client: FlaskClient, session: Session
) -> None:
    world, elsewhere = _two_community_owner(session)
    survey = _survey(session, world)
    closed = _survey(session, world)
    surveys.close_survey(session, survey=closed, staff=world.cs, now=NOW)
    session.commit()
    headers = _token(client, world.owner)
    url = f"/api/v1/surveys/{survey.id}/responses"
    good = {"unit": world.unit.code, "answers": {"q1": 4, "q2": 5}}
    before = snapshot(session)
    cases = [
        ({**good, "answers": {"q1": 0, "q2": 5}}, url, 422, "out_of_range"),
        ({**good, "answers": {"q1": 4, "q2": "5.5"}}, url, 422, "out_of_range"),
        ({**good, "answers": {"q1": 4}}, url, 422, "required"),
        ({**good, "answers": {"q1": 4, "q2": 4, "q7": 1}}, url, 422, "unknown_question"),
        ({**good, "unit": world.other_unit.code}, url, 404, "not_found"),  # not one's own
        ({**good, "unit": elsewhere.unit.code}, url, 404, "not_found"),  # another community
        (good, f"/api/v1/surveys/{closed.id}/responses", 409, "closed"),
    ]
    for body, target, status, code in cases:
        response = client.post(target, json=body, headers=headers)
        assert response.status_code == status, (body, response.json)
        assert response.json["error"]["code"] == code, body
        assert response.json["error"]["message"]
    session.expire_all()
    after = snapshot(session)
    # Logging in with a token writes the token row and an audit entry, nothing else.
    assert {t for t in after if after[t] != before[t]} <= {"api_tokens", "audit_log"}
    assert client.post(url, json=good, headers=headers).status_code == 201
    session.expire_all()
    answered = snapshot(session)
    twice = client.post(url, json=good, headers=headers)
    assert twice.status_code == 409
    assert twice.json["error"]["code"] == "already_answered"
    session.expire_all()
    assert snapshot(session) == answered


def test_page_refuses_a_second_answer_and_a_closed_survey(
    client: FlaskClient, session: Session
) -> None:
    world = make_world(session)
    survey = _survey(session, world)
    closed = _survey(session, world)
    surveys.close_survey(session, survey=closed, staff=world.cs, now=NOW)
    session.commit()
    login(client, world.owner)
    data = {"unit_id": world.unit.id, "q1": "4", "q2": "5"}
    session.expire_all()
    empty = snapshot(session)
    out = client.post(f"/feedback/surveys/{survey.id}", data={**data, "q1": "0"})
    assert "评分必须是 1 到 5 的整数" in out.get_data(as_text=True)
    session.expire_all()
    assert snapshot(session)["survey_responses"] == empty["survey_responses"]
    assert client.post(f"/feedback/surveys/{survey.id}", data=data).status_code == 302
    session.expire_all()
    before = snapshot(session)
    again = client.post(f"/feedback/surveys/{survey.id}", data=data)
    assert again.status_code == 200
    assert "这套房屋已经回答过这份调查" in again.get_data(as_text=True)
    late = client.post(f"/feedback/surveys/{closed.id}", data=data)
    assert late.status_code == 200
    assert "调查已结束，不能再作答" in late.get_data(as_text=True)
    assert 'name="q1"' not in late.get_data(as_text=True)  # no form to fill in vain
    english = client.post(f"/feedback/surveys/{closed.id}?lang=en", data=data)
    assert "closed" in english.get_data(as_text=True).lower()
    session.expire_all()
    assert snapshot(session) == before


@pytest.mark.parametrize("questions", ["", "\n  \n", "   "])
def test_a_survey_with_no_questions_on_the_page(
    client: FlaskClient, session: Session, questions: str
) -> None:
    world = make_world(session)
    session.commit()
    login(client, world.cs)
    session.expire_all()
    before = snapshot(session)
    response = client.post(
        "/feedback/staff/surveys/new",
        data={
            "community_id": world.community.id,
            "title": "空问卷",
            "kind": "pulse",
            "closes_on": "2026-12-31",
            "questions": questions,
        },
    )
    assert response.status_code == 200
    assert "至少需要一个问题" in response.get_data(as_text=True)
    session.expire_all()
    assert snapshot(session) == before
    with pytest.raises(DomainError) as err:
        surveys.create_survey(
            session,
            staff=world.cs,
            community=world.community,
            title="空问卷",
            closes_at=NOW + timedelta(days=3),
            questions=surveys.parse_questions(questions) if questions.strip() else [],
            now=NOW,
        )
    assert err.value.code == "no_questions"


def test_complaint_about_a_unit_of_another_community(client: FlaskClient, session: Session) -> None:
    """Owners only complain about their own units; staff only record complaints about units
    of the community they chose, even when the owner also owns a unit elsewhere."""
    world, elsewhere = _two_community_owner(session)
    session.commit()
    before = snapshot(session)
    with pytest.raises(DomainError) as err:
        complaints.file_complaint(
            session,
            owner=world.owner,
            unit_id=elsewhere.other_unit.id,  # in the other community, not theirs
            category_code="c_cleaning",
            description="楼道没打扫",
            now=NOW,
        )
    assert err.value.field == "unit_id"
    with pytest.raises(DomainError) as err:
        complaints.file_complaint(
            session,
            owner=world.owner,
            unit_id=world.unit.id,
            category_code="c_cleaning",
            description="点名另一个小区的员工",
            about_staff_id=elsewhere.cs.id,
            now=NOW,
        )
    with pytest.raises(DomainError) as err:
        complaints.record_complaint(
            session,
            staff=world.cs,
            community=world.community,
            unit=elsewhere.unit,  # the same owner's unit, but of another community
            category_code="c_attitude",
            description="电话投诉",
            now=NOW,
        )
    assert err.value.code == "other_community"
    session.rollback()
    assert snapshot(session) == before
    login(client, world.owner)
    page = client.post(
        "/feedback/complaints/new",
        data={"unit_id": elsewhere.other_unit.id, "category": "c_noise", "description": "x"},
    )
    assert page.status_code == 200
    session.expire_all()
    after = snapshot(session)
    # Logging in writes its session and audit rows, and the form lists the community's
    # complaint categories, created with their SLA defaults when first read; no ticket.
    assert after["tickets"] == before["tickets"]
    assert {t for t in after if after[t] != before[t]} <= {
        "audit_log",
        "login_attempts",
        "user_sessions",
        "ticket_categories",
        "ticket_sla_targets",
        "cache_versions",  # creating the categories bumps the public pages' version
    }
