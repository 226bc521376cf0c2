"""Surveys: creation rules, invitations, one answer per unit, ranges, k-anonymous results."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.errors import Conflict, DomainError, NotFound, PermissionDenied
from portal.feedback import surveys
from portal.feedback.models import Survey, SurveyAnswer, SurveyResponse
from portal.feedback.surveys import QuestionSpec
from portal.notify.models import Message
from tests import factories
from tests.factories import NOW
from tests.feedback.util import login, make_world

QUESTIONS = [
    QuestionSpec(kind="rating", text="保洁满意度", dimension="cleaning"),
    QuestionSpec(kind="choice", text="最希望改进", options=("保洁", "安保")),
    QuestionSpec(kind="text", text="其他意见", required=False),
]


def _survey(session, world, **kw):
    return surveys.create_survey(
        session,
        staff=world.cs,
        community=world.community,
        title="2026 快速调查",
        closes_at=NOW + timedelta(days=14),
        questions=kw.pop("questions", QUESTIONS),
        now=NOW,
        **kw,
    )


def _count(session, model) -> int:
    return session.scalar(select(func.count(model.id)))


def _answer(session, survey, owner, unit, **answers):
    data = {"q1": 4, "q2": "保洁", **answers}
    return surveys.submit_response(
        session, survey_id=survey.id, owner=owner, unit_id=unit.id, answers=data, now=NOW
    )


def test_parse_questions_from_the_form() -> None:
    specs = surveys.parse_questions("评分|保洁|cleaning\n\n选择|改进|保洁，安保\n文字|意见")
    assert [s.kind for s in specs] == ["rating", "choice", "text"]
    assert specs[0].dimension == "cleaning"
    assert specs[1].options == ("保洁", "安保")
    with pytest.raises(DomainError):
        surveys.parse_questions("问题一")


def test_a_survey_with_no_questions_is_refused(session) -> None:
    world = make_world(session)
    with pytest.raises(DomainError) as err:
        _survey(session, world, questions=[])
    assert err.value.code == "no_questions"
    assert _count(session, Survey) == 0


@pytest.mark.parametrize(
    "bad",
    [
        [QuestionSpec(kind="choice", text="只有一个选项", options=("A",))],
        [QuestionSpec(kind="slider", text="题型不存在")],
        [QuestionSpec(kind="rating", text=" ")],
        [QuestionSpec(kind="rating", text="维度", dimension="nope")],
    ],
)
def test_bad_questions_are_refused(session, bad) -> None:
    world = make_world(session)
    with pytest.raises(DomainError):
        _survey(session, world, questions=bad)
    assert _count(session, Survey) == 0


def test_survey_rules_on_who_when_and_where(session) -> None:
    world = make_world(session)
    with pytest.raises(PermissionDenied):
        surveys.create_survey(
            session,
            staff=world.engineer,
            community=world.community,
            title="x",
            closes_at=NOW + timedelta(days=1),
            questions=QUESTIONS,
            now=NOW,
        )
    with pytest.raises(DomainError):
        surveys.create_survey(
            session,
            staff=world.cs,
            community=world.community,
            title="x",
            closes_at=NOW - timedelta(days=1),
            questions=QUESTIONS,
            now=NOW,
        )
    other = factories.make_building(session)
    with pytest.raises(DomainError):
        _survey(session, world, building_ids=[other.id])
    assert _count(session, Survey) == 0


def test_owners_are_invited_through_the_outbox_once(session) -> None:
    world = make_world(session)
    survey = _survey(session, world)
    assert surveys.invite_owners(session, survey=survey, now=NOW) >= 2  # inbox at least
    queued = _count(session, Message)
    surveys.invite_owners(session, survey=survey, now=NOW)
    assert _count(session, Message) == queued
    reasons = set(session.scalars(select(Message.reason)))
    assert reasons == {"survey_invite"}


def test_answer_once_per_unit(session) -> None:
    world = make_world(session)
    survey = _survey(session, world)
    response = _answer(session, survey, world.owner, world.unit, q3="加油")
    assert response.mean_x100 == 400
    with pytest.raises(Conflict) as err:
        _answer(session, survey, world.owner, world.unit)
    assert err.value.code == "already_answered"
    assert _count(session, SurveyResponse) == 1
    assert _count(session, SurveyAnswer) == 3
    listed = surveys.owner_surveys(session, owner=world.owner, now=NOW)
    assert [(o.survey.id, o.answered) for o in listed] == [(survey.id, True)]


def test_answering_for_another_owners_unit_is_refused(session) -> None:
    world = make_world(session)
    survey = _survey(session, world)
    with pytest.raises(NotFound):
        _answer(session, survey, world.owner, world.other_unit)
    assert _count(session, SurveyResponse) == 0


@pytest.mark.parametrize("score", [0, 6, "6", 3.5, True, "x"])
def test_rating_out_of_range_is_refused(session, score) -> None:
    world = make_world(session)
    survey = _survey(session, world)
    with pytest.raises(DomainError) as err:
        _answer(session, survey, world.owner, world.unit, q1=score)
    assert err.value.field == "q1"
    assert _count(session, SurveyResponse) == 0
    assert _count(session, SurveyAnswer) == 0


def test_missing_and_bad_choice_and_unknown_question(session) -> None:
    world = make_world(session)
    survey = _survey(session, world)
    for answers in ({"q1": None}, {"q2": "绿化"}, {"q9": 3}):
        with pytest.raises(DomainError):
            _answer(session, survey, world.owner, world.unit, **answers)
    assert _count(session, SurveyResponse) == 0


def test_answering_a_closed_survey_is_refused(session) -> None:
    world = make_world(session)
    survey = _survey(session, world)
    surveys.close_survey(session, survey=survey, staff=world.cs, now=NOW)
    with pytest.raises(Conflict) as err:
        _answer(session, survey, world.owner, world.unit)
    assert err.value.code == "closed"
    late = _survey(session, world)
    with pytest.raises(Conflict):
        surveys.submit_response(
            session,
            survey_id=late.id,
            owner=world.owner,
            unit_id=world.unit.id,
            answers={"q1": 4, "q2": "保洁"},
            now=NOW + timedelta(days=15),
        )
    assert _count(session, SurveyResponse) == 0


def test_results_are_k_anonymous(session) -> None:
    world = make_world(session)
    building = world.unit.building
    survey = _survey(session, world)
    owners = [(world.owner, world.unit), (world.other_owner, world.other_unit)]
    for score, (owner, unit) in zip([5, 4], owners, strict=True):
        _answer(session, survey, owner, unit, q1=score, q3="很好")
    few = surveys.results(session, survey=survey)
    assert few.responses == 2
    assert all(q.suppressed for q in few.questions)
    assert few.questions[0].mean is None
    assert few.questions[2].texts == []
    for score in (3, 2, 1):
        unit = factories.make_unit(session, building=building)
        owner = factories.make_user(session, role="owner", unit=unit)
        _answer(session, survey, owner, unit, q1=score, q3="一般")
    full = surveys.results(session, survey=survey)
    rating = full.questions[0]
    assert not rating.suppressed
    assert rating.mean == 3
    assert rating.score_100 == 50
    assert rating.counts == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}
    assert rating.by_building[0]["mean"] == 3
    assert full.questions[1].counts == {"保洁": 5, "安保": 0}
    assert len(full.questions[2].texts) == 5
    assert full.response_rate == 1


def test_owner_answers_on_the_page_and_not_for_others(client, session) -> None:
    world = make_world(session)
    survey = _survey(session, world)
    session.commit()
    login(client, world.owner)
    url = f"/feedback/surveys/{survey.id}"
    assert client.get(f"{url}?unit_id={world.unit.id}").status_code == 200
    assert client.get(f"{url}?unit_id={world.other_unit.id}").status_code == 404
    other = client.post(url, data={"unit_id": world.other_unit.id, "q1": "4", "q2": "保洁"})
    assert other.status_code == 404
    bad = client.post(url, data={"unit_id": world.unit.id, "q1": "9", "q2": "保洁"})
    assert bad.status_code == 200
    assert "1 到 5" in bad.get_data(as_text=True)
    assert _count(session, SurveyResponse) == 0
    ok = client.post(url, data={"unit_id": world.unit.id, "q1": "4", "q2": "保洁"})
    assert ok.status_code == 302
    again = client.post(url, data={"unit_id": world.unit.id, "q1": "4", "q2": "保洁"})
    assert again.status_code == 200
    assert _count(session, SurveyResponse) == 1


def test_staff_create_a_survey_on_the_page(app, client, session) -> None:
    world = make_world(session)
    session.commit()
    login(client, world.cs)
    empty = client.post(
        "/feedback/staff/surveys/new",
        data={
            "community_id": world.community.id,
            "title": "空问卷",
            "kind": "pulse",
            "closes_on": "2026-12-31",
            "questions": "",
        },
    )
    assert empty.status_code == 200
    assert "至少需要一个问题" in empty.get_data(as_text=True)
    assert _count(session, Survey) == 0
    made = client.post(
        "/feedback/staff/surveys/new",
        data={
            "community_id": world.community.id,
            "title": "快速调查",
            "kind": "pulse",
            "closes_on": "2026-12-31",
            "questions": "评分|保洁|cleaning\n文字|意见",
        },
    )
    assert made.status_code == 302
    survey = session.scalar(select(Survey))
    assert client.get(f"/feedback/staff/surveys/{survey.id}").status_code == 200
    owner = app.test_client()
    login(owner, world.owner)
    assert owner.get(f"/feedback/staff/surveys/{survey.id}").status_code in (403, 404)


def test_the_staff_survey_list_paginates_instead_of_stopping(session, client) -> None:
    world = make_world(session)
    made = [_survey(session, world) for _n in range(53)]
    session.commit()
    page = surveys.staff_surveys(session, community_ids={world.community.id}, per_page=50)
    assert (page.total, page.pages, len(page.items)) == (53, 2, 50)
    login(client, world.cs)
    first = client.get("/feedback/staff/surveys").get_data(as_text=True)
    second = client.get("/feedback/staff/surveys?page=2").get_data(as_text=True)
    assert "第 1 / 2 页" in first
    shown = {s.id for s in made if f'/feedback/staff/surveys/{s.id}"' in first + second}
    assert shown == {s.id for s in made}


def test_inviting_a_large_community_takes_a_fixed_number_of_statements(session) -> None:
    """Invitations go through the outbox in batches: ten times the owners, the same
    statements (one by one, each owner cost about eight)."""
    from tests.feedback.test_profiles_batch import count_statements

    counts = []
    for owners in (2, 20):
        world = make_world(session)
        for i in range(owners - 1):
            unit = factories.make_unit(session, community=world.community)
            factories.make_user(session, role="owner", unit=unit, phone=f"1380000{i:04d}")
        survey = _survey(session, world)
        session.flush()
        with count_statements(session) as seen:
            queued = surveys.invite_owners(session, survey=survey, now=NOW)
        assert queued >= owners
        counts.append(len(seen))
    assert counts[1] == counts[0], counts
