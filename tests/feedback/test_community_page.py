"""The community page's satisfaction section (k-anonymous by dimension and building, from the
latest published survey; the complaint rate beside repair responsiveness) and the owner's
links to last year's results, on the community page and the owner's home."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.feedback import complaints, surveys
from portal.feedback.community import community_satisfaction, latest_published_survey
from portal.feedback.surveys import QuestionSpec
from tests import factories
from tests.factories import NOW
from tests.feedback.util import login, make_world

QUESTIONS = [
    QuestionSpec(kind="rating", text="保洁满意度", dimension="cleaning"),
    QuestionSpec(kind="rating", text="楼道保洁", dimension="cleaning"),
    QuestionSpec(kind="rating", text="安保满意度", dimension="security"),
    QuestionSpec(kind="text", text="意见", required=False),
]


def _published(session: Session, world, *, start, building_scores) -> object:
    """A survey answered per building with the given (cleaning, security) scores, closed and
    published; returns it."""
    survey = surveys.create_survey(
        session,
        staff=world.cs,
        community=world.community,
        title=f"{start.year} 年度满意度调查",
        closes_at=start + timedelta(days=20),
        questions=QUESTIONS,
        now=start,
    )
    for building, rows in building_scores:
        for cleaning, security in rows:
            unit = factories.make_unit(session, building=building)
            owner = factories.make_user(session, role="owner", unit=unit)
            surveys.submit_response(
                session,
                survey_id=survey.id,
                owner=owner,
                unit_id=unit.id,
                answers={"q1": cleaning, "q2": cleaning, "q3": security},
                now=start + timedelta(days=1),
            )
    surveys.close_survey(
        session, survey=survey, staff=world.cs, now=start + timedelta(days=20), publish=True
    )
    return survey


def _world(session: Session):
    world = make_world(session, code="SAT1", is_public=True)
    big = world.unit.building
    small = factories.make_building(session, community=world.community)
    old = _published(
        session,
        world,
        start=NOW - timedelta(days=700),
        building_scores=[(big, [(1, 1)] * 5)],
    )
    latest = _published(
        session,
        world,
        start=NOW - timedelta(days=330),
        building_scores=[(big, [(5, 4), (4, 4), (4, 3), (3, 3), (4, 5)]), (small, [(2, 2)] * 2)],
    )
    # An open survey is not the published one, whatever its date.
    surveys.create_survey(
        session,
        staff=world.cs,
        community=world.community,
        title="进行中的快速调查",
        closes_at=NOW + timedelta(days=5),
        questions=QUESTIONS[:1],
        now=NOW - timedelta(days=1),
    )
    complaints.file_complaint(
        session,
        owner=world.owner,
        unit_id=world.unit.id,
        category_code="c_cleaning",
        description="楼道没扫",
        now=NOW - timedelta(days=10),
    )
    complaints.file_complaint(  # the same unit again: one unit complained
        session,
        owner=world.owner,
        unit_id=world.unit.id,
        category_code="c_noise",
        description="夜间施工",
        now=NOW - timedelta(days=5),
    )
    session.commit()
    return world, old, latest, small


def test_figures_by_dimension_and_building_are_k_anonymous(session: Session) -> None:
    world, _old, latest, small = _world(session)
    assert latest_published_survey(session, community_id=world.community.id).id == latest.id
    data = community_satisfaction(session, community=world.community, now=NOW)
    assert data.survey.id == latest.id
    assert data.responses == 7
    cleaning, security = data.dimensions
    # Cleaning pools two questions: 2 × (5+4+4+3+4+2+2) = 48 over 14 answers → mean 24/7.
    assert (cleaning.label, cleaning.answers) == ("保洁", 14)
    assert cleaning.score == Decimal("60.7")  # (24/7 − 1) × 25 = 60.71…
    assert (security.label, security.answers, security.score) == ("安保", 7, Decimal("57.1"))
    by_building = {b.label: b for b in data.buildings}
    assert by_building[small.name].answers == 2
    assert by_building[small.name].score is None  # under 5 answers: no figure
    big = by_building[world.unit.building.name]
    assert big.answers == 5
    # Response means: 4.67, 4, 3.67, 3, 4.33 (×100 rounded) → 19.67 / 5 = 3.934 → 73.4
    assert big.score == Decimal("73.4")
    # 2 + 5 + 7 = 14 units (the world's two, each survey's respondents), 1 complained.
    assert data.units == 14
    assert data.complaint_units == 1
    assert data.complaint_rate == Decimal("0.0714")


def test_no_published_survey(session: Session) -> None:
    world = make_world(session)
    data = community_satisfaction(session, community=world.community, now=NOW)
    assert data.survey is None
    assert data.dimensions == []
    assert data.complaint_rate is None  # two units: fewer than k


def test_community_page_shows_the_section_to_everyone(
    client: FlaskClient, session: Session
) -> None:
    _w, _old, latest, _small = _world(session)
    page = client.get("/c/SAT1").get_data(as_text=True)
    assert "业主满意度与投诉" in page
    assert latest.title in page
    assert "60.7" in page
    assert "73.4" in page
    assert "不足 5 份回答，不显示" in page
    assert "7.14%" in page  # the complaint rate
    assert "/c/SAT1/responsiveness" in page
    # No names, no unit numbers, and no results link for a visitor.
    assert f"/feedback/surveys/{latest.id}/results" not in page
    english = client.get("/c/SAT1?lang=en").get_data(as_text=True)
    assert "Satisfaction and complaints" in english
    assert "Complaint rate" in english


def test_owner_sees_last_years_results_from_the_page_and_home(
    app, client: FlaskClient, session: Session
) -> None:
    world, old, latest, _small = _world(session)
    login(client, world.owner)
    page = client.get("/c/SAT1").get_data(as_text=True)
    results = f"/feedback/surveys/{latest.id}/results"
    assert results in page
    home = client.get("/").get_data(as_text=True)
    assert results in home
    assert "进行中的快速调查" in home  # the open survey the owner has not answered
    shown = client.get(results)
    assert shown.status_code == 200
    assert latest.title in shown.get_data(as_text=True)
    assert client.get(f"/feedback/surveys/{old.id}/results").status_code == 200
    outsider = make_world(session)
    session.commit()
    other = app.test_client()
    login(other, outsider.owner)
    assert other.get(results).status_code == 404  # not their community
    assert results not in other.get("/").get_data(as_text=True)
