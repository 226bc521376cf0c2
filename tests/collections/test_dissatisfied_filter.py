"""The arrears list filter "in arrears and dissatisfied" (score < 60 or an open complaint):
the case list page, the JSON API, the arrears-list export, and the collections run, all read
the satisfaction profiles of many units at once."""

from __future__ import annotations

from datetime import date, timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.collections import cases, signals
from portal.feedback import complaints, surveys
from portal.feedback.surveys import QuestionSpec
from tests import factories
from tests.collections.helpers import case_of, make_world, run
from tests.factories import NOW
from tests.feedback.test_profiles_batch import count_statements

DAY = date(2026, 11, 20)


def _survey(session: Session, world, owner, unit, score: int) -> None:
    survey = surveys.create_survey(
        session,
        staff=world.cs,
        community=world.community,
        title=f"调查 {unit.code}",
        closes_at=NOW + timedelta(days=7),
        questions=[QuestionSpec(kind="rating", text="总体满意度")],
        now=NOW - timedelta(days=2),
    )
    surveys.submit_response(
        session,
        survey_id=survey.id,
        owner=owner,
        unit_id=unit.id,
        answers={"q1": score},
        now=NOW - timedelta(days=1),
    )


def _world(session: Session, *, other_score: int = 5):
    """Two owners in arrears: one with an open complaint, the other answered a survey."""
    world = make_world(session, code="DA")
    complaints.file_complaint(
        session,
        owner=world.owner,
        unit_id=world.unit.id,
        category_code="c_cleaning",
        description="楼道三天没打扫",
        now=NOW - timedelta(days=1),
    )
    _survey(session, world, world.other_owner, world.other_unit, other_score)
    other = make_world(session, code="DB")  # another community: never in DA's lists
    complaints.file_complaint(
        session,
        owner=other.owner,
        unit_id=other.unit.id,
        category_code="c_noise",
        description="夜间施工",
        now=NOW - timedelta(days=1),
    )
    run(session, DAY)
    return world, other


def _login(client: FlaskClient, user) -> None:
    response = client.post("/login", data=factories.login_fields(user.username))
    assert response.status_code == 302


def _token(client: FlaskClient, user) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json=factories.login_fields(user.username))
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _listed(session: Session, world, **filters) -> list[int]:
    page = cases.list_cases(
        session,
        filters=cases.CaseFilters(community_ids={world.community.id}, **filters),
        day=DAY,
        now=NOW,
    )
    return [c.unit_id for c in page.cases]


def test_open_complaint_or_low_score_is_dissatisfied(session: Session) -> None:
    world, _other = _world(session, other_score=5)
    assert sorted(_listed(session, world)) == sorted([world.unit.id, world.other_unit.id])
    assert _listed(session, world, dissatisfied=True) == [world.unit.id]
    page = cases.list_cases(
        session,
        filters=cases.CaseFilters(community_ids={world.community.id}, dissatisfied=True),
        day=DAY,
        now=NOW,
    )
    assert page.total == 1
    assert page.profiles[world.unit.id].open_complaints == 1


def test_low_survey_score_without_complaint_is_dissatisfied(session: Session) -> None:
    world, _other = _world(session, other_score=1)  # 1/5 → 0/100
    assert sorted(_listed(session, world, dissatisfied=True)) == sorted(
        [world.unit.id, world.other_unit.id]
    )
    # It combines with the other filters.
    assert _listed(session, world, dissatisfied=True, tier="L4") == []


def test_filter_needs_the_clock(session: Session) -> None:
    world, _other = _world(session)
    try:
        cases.list_cases(
            session,
            filters=cases.CaseFilters(community_ids={world.community.id}, dissatisfied=True),
            day=DAY,
        )
    except ValueError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the dissatisfied filter ran without `now`")


def test_case_list_page_filters_and_shows_the_score(session: Session, client: FlaskClient) -> None:
    world, _other = _world(session)
    _login(client, world.collector)
    everything = client.get("/collections/cases?community=DA").get_data(as_text=True)
    assert world.unit.code in everything
    assert world.other_unit.code in everything
    assert 'name="dissatisfied"' in everything
    assert "100/100" in everything  # the satisfied owner's score beside the case
    page = client.get("/collections/cases?community=DA&dissatisfied=1").get_data(as_text=True)
    assert world.unit.code in page
    assert f">{world.other_unit.code}<" not in page
    assert "1 件投诉未办结" in page
    english = client.get("/collections/cases?community=DA&dissatisfied=1&lang=en")
    assert "1 open complaint" in english.get_data(as_text=True)
    assert client.get("/collections/cases?community=DB&dissatisfied=1").status_code == 404
    lists = client.get("/collections/lists/DA").get_data(as_text=True)
    assert "dissatisfied=1" in lists


def test_api_filter(session: Session, client: FlaskClient) -> None:
    world, _other = _world(session)
    headers = _token(client, world.collector)
    body = client.get("/api/v1/collections/cases?community=DA", headers=headers).json
    assert len(body["cases"]) == 2
    by_unit = {c["unit"]: c for c in body["cases"]}
    assert by_unit[world.unit.code]["satisfaction"]["dissatisfied"] is True
    assert by_unit[world.other_unit.code]["satisfaction"]["score"] == 100
    for value in ("1", "true"):
        body = client.get(
            f"/api/v1/collections/cases?community=DA&dissatisfied={value}", headers=headers
        ).json
        assert [c["unit"] for c in body["cases"]] == [world.unit.code]
        assert body["total"] == 1
    body = client.get("/api/v1/collections/cases?community=DA&dissatisfied=0", headers=headers).json
    assert len(body["cases"]) == 2
    bad = client.get("/api/v1/collections/cases?community=DA&dissatisfied=maybe", headers=headers)
    assert bad.status_code == 422
    assert bad.json["error"]["code"]
    spec = client.get("/api/v1/openapi.json").json
    names = [p["name"] for p in spec["paths"]["/collections/cases"]["get"]["parameters"]]
    assert "dissatisfied" in names


def test_arrears_export_filtered_with_satisfaction_columns(
    session: Session, client: FlaskClient
) -> None:
    world, _other = _world(session)
    _login(client, world.collector)
    body = client.get("/collections/lists/DA/arrears.csv").get_data(as_text=True)
    assert "满意度（0-100）" in body.splitlines()[0]
    assert world.unit.code in body
    assert world.other_unit.code in body
    only = client.get("/collections/lists/DA/arrears.csv?dissatisfied=1").get_data(as_text=True)
    rows = only.splitlines()[1:]
    assert len(rows) == 1
    assert rows[0].startswith(world.unit.code)
    assert rows[0].endswith(",是")


def test_run_and_list_read_profiles_set_based(session: Session) -> None:
    """The daily run's prefetch carries every unit's profile; the list's statement count does
    not grow with the number of cases."""
    world, _other = _world(session)
    units = [world.unit.id, world.other_unit.id]
    cache = signals.prefetch(session, unit_ids=units, day=DAY, now=NOW)
    assert sorted(cache["profiles"]) == sorted(units)
    case = case_of(session, world.unit)
    found = signals.gather(session, case=case, unit=world.unit, day=DAY, now=NOW, cache=cache)
    assert found.open_complaints
    assert found.suggested == "dissatisfied"

    def statements(per_page: int) -> int:
        session.expire_all()
        with count_statements(session) as seen:
            cases.list_cases(
                session,
                filters=cases.CaseFilters(community_ids={world.community.id}, dissatisfied=False),
                day=DAY,
                now=NOW,
                per_page=per_page,
            )
        return len(seen)

    assert statements(1) == statements(2)


def test_a_low_score_alone_suggests_dissatisfied(session: Session) -> None:
    """A middling survey answer (3/5 → 50/100) is no "low survey" evidence item (those are
    2.5/5 or less), but the score is under 60: the classifier agrees with the list filter and
    suggests service recovery."""
    world, _other = _world(session, other_score=3)
    case = case_of(session, world.other_unit)
    found = signals.gather(session, case=case, unit=world.other_unit, day=DAY, now=NOW)
    assert found.satisfaction_score == 50
    assert not found.low_surveys
    assert any(e["signal"] == "satisfaction" for e in found.evidence)
    assert found.suggested == "dissatisfied"
    assert case.suggested_reason == "dissatisfied"  # the daily run wrote the same
