"""The survey API contract: list, 201, second answer 409, closed 409, out of range 422."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from portal.feedback import surveys
from portal.feedback.models import SurveyResponse
from portal.feedback.surveys import QuestionSpec
from tests import factories
from tests.factories import NOW
from tests.feedback.util import make_world


def _token(client, user) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json=factories.login_fields(user.username))
    return {"Authorization": f"Bearer {response.json['token']}"}


def _count(session) -> int:
    return session.scalar(select(func.count(SurveyResponse.id)))


def test_survey_api(client, session) -> None:
    world = make_world(session)
    survey = surveys.create_survey(
        session,
        staff=world.cs,
        community=world.community,
        title="快速调查",
        closes_at=NOW + timedelta(days=7),
        questions=[
            QuestionSpec(kind="rating", text="保洁", dimension="cleaning"),
            QuestionSpec(kind="rating", text="安保", dimension="security"),
        ],
        now=NOW,
    )
    closed = surveys.create_survey(
        session,
        staff=world.cs,
        community=world.community,
        title="已结束",
        closes_at=NOW + timedelta(days=7),
        questions=[QuestionSpec(kind="rating", text="总体")],
        now=NOW,
    )
    surveys.close_survey(session, survey=closed, staff=world.cs, now=NOW)
    session.commit()
    headers = _token(client, world.owner)
    listed = client.get(f"/api/v1/surveys?community={world.community.code}", headers=headers)
    assert listed.status_code == 200
    (only,) = listed.json["surveys"]
    assert only["id"] == survey.id
    assert [q["code"] for q in only["questions"]] == ["q1", "q2"]
    url = f"/api/v1/surveys/{survey.id}/responses"
    body = {"unit": world.unit.code, "answers": {"q1": 4, "q2": 5}, "comment": "不错"}
    out_of_range = client.post(url, json={**body, "answers": {"q1": 6, "q2": 5}}, headers=headers)
    assert out_of_range.status_code == 422
    assert out_of_range.json["error"]["field"] == "q1"
    other = client.post(url, json={**body, "unit": world.other_unit.code}, headers=headers)
    assert other.status_code == 404
    assert _count(session) == 0
    assert client.post(url, json=body, headers=headers).status_code == 201
    assert client.post(url, json=body, headers=headers).status_code == 409
    late = client.post(
        f"/api/v1/surveys/{closed.id}/responses",
        json={"unit": world.unit.code, "answers": {"q1": 3}},
        headers=headers,
    )
    assert late.status_code == 409
    assert _count(session) == 1
    assert (
        client.post("/api/v1/surveys/9999/responses", json=body, headers=headers).status_code == 404
    )
