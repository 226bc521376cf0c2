"""Votes end to end at the service level: eligibility, ballots, closing, publication."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.errors import Conflict, DomainError, PermissionDenied
from portal.governance import service
from portal.governance.models import Ballot, Matter, Vote, VoteKind, VoteStatus, VoteUnit
from portal.notify.models import Message
from portal.publication import service as publication
from tests import factories
from tests.governance.conftest import NOW, Place, co_own, make_vote


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_matter_decides_the_majority(session: Session, place: Place) -> None:
    assert make_vote(session, place, open_it=False).kind == VoteKind.ORDINARY  # fund use
    raise_fund = make_vote(session, place, open_it=False, matter=Matter.FUND_RAISE)
    assert raise_fund.kind == VoteKind.MAJOR


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"options": []}, "no_options"),
        ({"options": ["同意", " "]}, "no_options"),
        ({"options": ["同意", "同意"]}, "option_duplicate"),
        ({"closes_at": NOW - timedelta(minutes=1)}, "closes_at_in_past"),
        ({"closes_at": NOW}, "closes_at_in_past"),
        ({"closes_at": None}, "closes_at_missing"),
        ({"title": "  "}, "bad_title"),
        ({"matter": "nonsense"}, "bad_matter"),
    ],
)
def test_bad_votes_are_refused_and_nothing_is_written(
    session: Session, place: Place, fields: dict[str, object], code: str
) -> None:
    with pytest.raises(DomainError) as exc:
        make_vote(session, place, open_it=False, **fields)
    session.rollback()
    assert exc.value.code == code
    assert exc.value.message
    assert count(session, Vote) == 0


def test_opening_fixes_eligibility_and_invites_owners(session: Session, place: Place) -> None:
    vote = make_vote(session, place)
    assert vote.status == VoteStatus.OPEN
    assert vote.eligible_units == 3
    assert vote.eligible_persons == 3
    assert vote.eligible_area_m2 == Decimal("300.50")
    assert count(session, VoteUnit) == 3
    invites = session.scalars(select(Message).where(Message.reason == "vote_invite")).all()
    assert {m.recipient_id for m in invites} == {o.id for o in place.owners}
    # A unit added later is not eligible for this vote.
    late = factories.make_unit(session, community=place.community)
    late_owner = factories.make_user(session, unit=late)
    session.commit()
    with pytest.raises(PermissionDenied):
        service.cast_ballot(
            session, vote=vote, user=late_owner, unit_id=late.id, option_code="o1", now=NOW
        )


def test_open_twice_and_open_after_closing_time_are_refused(session: Session, place: Place) -> None:
    vote = make_vote(session, place)
    with pytest.raises(Conflict):
        service.open_vote(session, vote=vote, actor=place.manager, now=NOW)
    session.rollback()
    draft = make_vote(session, place, open_it=False)
    with pytest.raises(DomainError) as exc:
        service.open_vote(session, vote=draft, actor=place.manager, now=NOW + timedelta(days=8))
    session.rollback()
    assert exc.value.code == "closes_at_in_past"
    assert session.get(Vote, draft.id).status == VoteStatus.DRAFT


def test_second_ballot_replaces_the_first(session: Session, place: Place) -> None:
    vote = make_vote(session, place)
    owner, unit = place.owners[0], place.units[0]
    first = service.cast_ballot(
        session, vote=vote, user=owner, unit_id=unit.id, option_code="o1", now=NOW
    )
    receipt1 = first.receipt
    session.commit()
    second = service.cast_ballot(
        session, vote=vote, user=owner, unit_id=unit.id, option_code="o2", now=NOW
    )
    session.commit()
    assert count(session, Ballot) == 1
    assert second.receipt != receipt1
    assert second.changes == 1
    assert service.compute_tally(session, vote=vote).options[1].units == 1


def test_bad_ballots_are_refused_and_nothing_is_written(session: Session, place: Place) -> None:
    vote = make_vote(session, place)
    owner = place.owners[0]
    manager = place.manager
    cases = [
        ({"user": owner, "unit_id": place.units[1].id, "option_code": "o1"}, "not_eligible"),
        ({"user": manager, "unit_id": place.units[0].id, "option_code": "o1"}, "not_eligible"),
        ({"user": owner, "unit_id": place.units[0].id, "option_code": "o9"}, "bad_option"),
    ]
    for kwargs, code in cases:
        with pytest.raises(DomainError) as exc:
            service.cast_ballot(session, vote=vote, now=NOW, **kwargs)  # type: ignore[arg-type]
        session.rollback()
        assert exc.value.code == code
    with pytest.raises(Conflict) as closed:
        service.cast_ballot(
            session,
            vote=vote,
            user=owner,
            unit_id=place.units[0].id,
            option_code="o1",
            now=vote.closes_at,
        )
    session.rollback()
    assert closed.value.code == "vote_closed"
    assert count(session, Ballot) == 0


def test_closing_publishes_the_tally_and_receipts_verify(session: Session, place: Place) -> None:
    vote = make_vote(session, place)
    receipts = []
    for owner, unit, code in zip(place.owners, place.units, ("o1", "o1", "o2"), strict=True):
        ballot = service.cast_ballot(
            session, vote=vote, user=owner, unit_id=unit.id, option_code=code, now=NOW
        )
        receipts.append((ballot.receipt, code))
    session.commit()
    assert service.published_result(session, vote=vote) is None  # hidden while open
    with pytest.raises(Conflict) as early:
        service.close_vote(session, vote=vote, actor=place.manager, now=NOW + timedelta(days=1))
    session.rollback()
    assert early.value.code == "not_due"
    closed = service.close_due(session, now=vote.closes_at)
    session.commit()
    assert [v.id for v in closed] == [vote.id]
    assert service.close_due(session, now=vote.closes_at) == []  # idempotent
    result = service.published_result(session, vote=vote)
    assert result is not None
    assert result["valid"]
    assert result["passed"]
    assert result["participating"] == {"units": 3, "persons": 3, "area_m2": "300.50"}
    assert result["options"][0]["area_m2"] == "180.00"
    assert result["area_participation"] == "1.0000"
    assert len(result["ballot_hashes"]) == 3
    assert result["seq"] >= 1
    assert publication.verify(session, place.community).ok
    for receipt, code in receipts:
        assert service.verify_receipt(session, vote=vote, receipt=receipt.lower(), option_code=code)
        other = "o3" if code != "o3" else "o1"
        assert not service.verify_receipt(session, vote=vote, receipt=receipt, option_code=other)
    with pytest.raises(Conflict):
        service.cast_ballot(
            session,
            vote=vote,
            user=place.owners[0],
            unit_id=place.units[0].id,
            option_code="o2",
            now=vote.closes_at,
        )


def test_co_owners_share_one_vote_and_an_owner_votes_for_each_unit(
    session: Session, place: Place
) -> None:
    co_own(session, place.owners[1], place.units[0])  # owners 0 and 1 co-own unit 0
    vote = make_vote(session, place)
    # owner 1 owns units 0 and 1 → with owner 0, one person; unit 2 another: two persons.
    assert vote.eligible_persons == 2
    service.cast_ballot(
        session,
        vote=vote,
        user=place.owners[0],
        unit_id=place.units[0].id,
        option_code="o1",
        now=NOW,
    )
    service.cast_ballot(
        session,
        vote=vote,
        user=place.owners[1],
        unit_id=place.units[0].id,
        option_code="o2",
        now=NOW,
    )
    service.cast_ballot(
        session,
        vote=vote,
        user=place.owners[1],
        unit_id=place.units[1].id,
        option_code="o2",
        now=NOW,
    )
    session.commit()
    counted = service.compute_tally(session, vote=vote)
    assert counted.units == 2  # unit 0 counted once: the co-owner's later ballot replaced it
    assert counted.options[1].persons == 1
    assert counted.persons == 1
    assert not counted.valid  # 1 of 2 persons < 2/3


def test_turnout_shows_participation_only(session: Session, place: Place) -> None:
    vote = make_vote(session, place)
    service.cast_ballot(
        session,
        vote=vote,
        user=place.owners[2],
        unit_id=place.units[2].id,
        option_code="o1",
        now=NOW,
    )
    session.commit()
    seen = service.turnout(session, vote=vote)
    assert (seen.units, seen.area_m2, seen.area_ratio) == (1, Decimal("120.50"), "0.4010")


def test_reminders_go_only_to_units_that_have_not_voted(session: Session, place: Place) -> None:
    vote = make_vote(session, place)
    service.cast_ballot(
        session,
        vote=vote,
        user=place.owners[0],
        unit_id=place.units[0].id,
        option_code="o1",
        now=NOW,
    )
    queued = service.remind_non_voters(session, vote=vote, actor=place.manager, now=NOW)
    session.commit()
    assert queued >= 2
    reminded = session.scalars(
        select(Message.recipient_id).where(Message.event_key.like(f"vote:{vote.id}:remind-%"))
    ).all()
    assert place.owners[0].id not in reminded
    assert place.owners[1].id in reminded
