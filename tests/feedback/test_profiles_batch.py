"""The set-based satisfaction profile: equal to the single-unit one, constant query count."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.disputes import intake as disputes
from portal.feedback import surveys
from portal.feedback.profile import satisfaction_profile, satisfaction_profiles
from portal.feedback.surveys import QuestionSpec
from portal.tickets import aftercare, workflow
from portal.tickets.models import LocationType
from tests import factories
from tests.factories import NOW
from tests.feedback.util import answered_complaint, make_complaint, make_world
from tests.tickets.util import World, make_ticket, resolved_ticket


@contextmanager
def count_statements(session: Session) -> Iterator[list[str]]:
    """Every SQL statement the session's engine runs inside the block."""
    statements: list[str] = []
    engine = session.get_bind()

    def before(_conn, _cursor, statement, _params, _context, _many) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _owner_world(session: Session, world: World, unit) -> World:
    """The same world seen from another unit's owner (the helpers act as `world.owner`)."""
    owner = factories.make_user(session, role="owner", unit=unit)
    return World(
        community=world.community,
        unit=unit,
        owner=owner,
        other_unit=world.unit,
        other_owner=world.owner,
        cs=world.cs,
        engineer=world.engineer,
        engineer2=world.engineer2,
        manager=world.manager,
    )


def _rate(session: Session, world: World, score: int, *, at) -> None:
    ticket = resolved_ticket(session, world, now=at)
    aftercare.rate(
        session, ticket=ticket, actor=world.owner, now=at + timedelta(hours=4), score=score
    )


def _answer(session: Session, world: World, survey, score: int, *, at) -> None:
    surveys.submit_response(
        session,
        survey_id=survey.id,
        owner=world.owner,
        unit_id=world.unit.id,
        answers={"q1": score, "q2": min(5, score + 1)},
        now=at,
    )


def _varied(session: Session) -> tuple[list[int], int]:
    """Units with every kind of input: ratings old and new (a trend), complaints open and
    answered, survey answers, a service dispute, an overdue ticket in the unit and in the
    building's common area, a unit with nothing, and a unit of another building and
    community. Returns (unit ids, the id of a unit in a second building)."""
    base = make_world(session)
    building = base.unit.building
    building2 = factories.make_building(session, community=base.community)
    units = [factories.make_unit(session, building=building) for _ in range(5)]
    far = factories.make_unit(session, building=building2)
    empty = factories.make_unit(session, building=building2)  # nothing known: no score
    worlds = [base, *(_owner_world(session, base, u) for u in units)]
    far_world = _owner_world(session, base, far)
    old = NOW - timedelta(days=150)
    recent = NOW - timedelta(days=20)
    survey_old = surveys.create_survey(
        session,
        staff=base.cs,
        community=base.community,
        title="年度调查",
        closes_at=old + timedelta(days=30),
        questions=[
            QuestionSpec(kind="rating", text="保洁", dimension="cleaning"),
            QuestionSpec(kind="rating", text="安保", dimension="security"),
        ],
        now=old - timedelta(days=1),
    )
    survey_new = surveys.create_survey(
        session,
        staff=base.cs,
        community=base.community,
        title="快速调查",
        closes_at=NOW + timedelta(days=7),
        questions=[
            QuestionSpec(kind="rating", text="保洁", dimension="cleaning"),
            QuestionSpec(kind="rating", text="安保", dimension="security"),
        ],
        now=recent - timedelta(days=1),
    )
    w0, w1, w2, w3, w4, _w5 = worlds
    # w0: good repairs long ago, bad ones lately (worsening), a low survey answer.
    _rate(session, w0, 5, at=old)
    _rate(session, w0, 4, at=old + timedelta(days=2))
    _rate(session, w0, 1, at=recent)
    _answer(session, w0, survey_old, 4, at=old + timedelta(days=1))
    _answer(session, w0, survey_new, 1, at=recent)
    # w1: an open complaint and an answered, rated one; an open service dispute.
    make_complaint(session, w1, now=NOW - timedelta(days=2))
    answered_complaint(session, w1, now=NOW - timedelta(days=40), score=2)
    disputes.open_dispute(
        session,
        owner=w1.owner,
        target_type="service",
        target_id=None,
        reason="service_quality",
        statement="电梯三个月坏了五次",
        now=NOW - timedelta(days=3),
    )
    # w2: an overdue repair in the unit (never acknowledged) and good survey answers.
    make_ticket(session, w2, now=NOW - timedelta(days=10))
    _answer(session, w2, survey_new, 5, at=recent)
    # w3: an overdue common-area repair of its building (counts for w0..w4 too).
    make_ticket(
        session,
        w3,
        now=NOW - timedelta(days=8),
        unit=None,
        actor=base.cs,
        on_behalf=True,
        location_type=LocationType.COMMON_AREA,
        building_id=building.id,
        area="大堂",
    )
    # w4: a rating outside the window and an acknowledged open ticket not yet overdue.
    _rate(session, w4, 2, at=NOW - timedelta(days=400))
    fresh = make_ticket(session, w4, now=NOW - timedelta(minutes=5))
    workflow.acknowledge(session, ticket=fresh, actor=base.cs, now=NOW - timedelta(minutes=1))
    # w5: nothing at all except the building's overdue common-area ticket.
    # far (other building): a high rating and a closed complaint; the common area is not its.
    _rate(session, far_world, 5, at=recent)
    answered_complaint(session, far_world, now=NOW - timedelta(days=30), score=4)
    # Another community's unit with its own complaint: never mixed in.
    other = make_world(session)
    make_complaint(session, other)
    session.flush()
    ids = [w.unit.id for w in worlds] + [far.id, empty.id, other.unit.id]
    return ids, far.id


def test_batch_equals_single_unit_profiles(session: Session) -> None:
    ids, _far = _varied(session)
    many = satisfaction_profiles(session, ids, NOW)
    assert sorted(many) == sorted(ids)
    for unit_id in ids:
        assert many[unit_id] == satisfaction_profile(session, unit_id=unit_id, now=NOW), unit_id
    # The data set is varied: scores, no score, penalties, trends and evidence all occur.
    profiles = list(many.values())
    assert {p.score is None for p in profiles} == {True, False}
    assert any(p.trend == "worsening" for p in profiles)
    assert any(p.open_complaints for p in profiles)
    assert {pen.signal for p in profiles for pen in p.penalties} == {
        "open_complaints",
        "open_service_disputes",
        "overdue_tickets",
    }
    assert {"low_rating", "low_survey"} <= {e["signal"] for p in profiles for e in p.evidence}
    assert sum(p.dissatisfied for p in profiles) >= 3


def test_batch_of_a_unit_subset_and_of_nothing(session: Session) -> None:
    ids, far = _varied(session)
    part = satisfaction_profiles(session, [ids[3], far, ids[3]], NOW)
    assert sorted(part) == sorted({ids[3], far})
    assert part[far] == satisfaction_profile(session, unit_id=far, now=NOW)
    assert satisfaction_profiles(session, [], NOW) == {}


def test_query_count_does_not_grow_with_units(session: Session) -> None:
    ids, _far = _varied(session)
    session.commit()
    with count_statements(session) as few:
        satisfaction_profiles(session, ids[:2], NOW)
    with count_statements(session) as all_units:
        satisfaction_profiles(session, ids, NOW)
    # More units with data each: still the same handful of grouped statements.
    assert len(all_units) == len(few) <= 6
    with count_statements(session) as single:
        for unit_id in ids:
            satisfaction_profile(session, unit_id=unit_id, now=NOW)
    assert len(single) > 3 * len(all_units)  # what it replaces: a query set per unit
