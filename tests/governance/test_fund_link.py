"""A maintenance-fund draw cites a passed vote of the right kind (issue 15 item 4)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.errors import DomainError
from portal.governance import service
from portal.governance.models import Matter, Vote
from portal.publication import service as publication
from portal.transparency import funds
from portal.transparency.models import FundMovement
from tests import factories
from tests.governance.conftest import NOW, Place, make_vote


def decided(session: Session, place: Place, *, matter: str = Matter.FUND_USE, yes: int = 3) -> Vote:
    vote = make_vote(session, place, matter=matter)
    for index, (owner, unit) in enumerate(zip(place.owners, place.units, strict=True)):
        code = "o1" if index < yes else "o2"
        service.cast_ballot(
            session, vote=vote, user=owner, unit_id=unit.id, option_code=code, now=NOW
        )
    service.close_vote(session, vote=vote, actor=place.manager, now=vote.closes_at)
    session.commit()
    return vote


def draw(session: Session, place: Place, **values: Any) -> FundMovement:
    fields: dict[str, Any] = {
        "account": "maintenance_fund",
        "direction": "out",
        "kind": "repair",
        "occurred_on": date(2026, 11, 19),
        "amount_fen": 52_000_000,
        "counterparty": "电梯公司",
        "description": "更换 3 号楼电梯",
        "approval_ref": "",
    }
    fields.update(values)
    finance = factories.make_user(session, role="finance", community=place.community)
    movement = funds.create_movement(
        session,
        community=place.community,
        actor=finance,
        now=NOW,
        today=date(2026, 11, 20),
        **fields,
    )
    session.commit()
    return movement


def movements(session: Session) -> int:
    return session.scalar(select(func.count(FundMovement.id))) or 0


def test_a_draw_citing_a_passed_fund_vote_is_recorded_and_published(
    session: Session, place: Place
) -> None:
    vote = decided(session, place)
    movement = draw(session, place, vote_id=vote.id)
    assert movement.vote_id == vote.id
    funds.publish_movement(
        session, movement=movement, community=place.community, actor=place.manager, now=NOW
    )
    session.commit()
    assert funds.movement_payload(movement)["vote_id"] == vote.id
    assert publication.verify(session, place.community).ok


@pytest.mark.parametrize(
    ("setup", "values", "code"),
    [
        ("failed", {}, "vote_failed"),
        ("open", {}, "vote_not_closed"),
        ("ordinary_for_raise", {"direction": "in", "kind": "topup"}, "wrong_matter"),
        ("other_community", {}, "vote_not_found"),
    ],
)
def test_bad_citations_are_refused_and_nothing_is_written(
    session: Session, place: Place, setup: str, values: dict[str, Any], code: str
) -> None:
    if setup == "failed":
        vote = decided(session, place, yes=1)
    elif setup == "open":
        vote = make_vote(session, place)
    elif setup == "ordinary_for_raise":
        vote = decided(session, place)  # a passed fund-use vote cannot raise the fund
    else:
        other = factories.make_community(session)
        manager = factories.make_user(session, role="manager", community=other)
        vote = service.create_vote(
            session,
            community=other,
            actor=manager,
            title="别处的表决",
            matter=Matter.FUND_USE,
            closes_at=NOW + timedelta(days=1),
            now=NOW,
        )
        session.commit()
    with pytest.raises(DomainError) as exc:
        draw(session, place, vote_id=vote.id, **values)
    session.rollback()
    assert exc.value.code == code
    assert exc.value.field == "vote_id"
    assert movements(session) == 0


def test_a_draw_without_a_vote_needs_the_emergency_filing(session: Session, place: Place) -> None:
    with pytest.raises(DomainError) as exc:
        draw(session, place)
    session.rollback()
    assert exc.value.field == "vote_id"
    assert movements(session) == 0
    assert draw(session, place, approval_ref="应急备案〔2026〕7 号").vote_id is None


def test_raising_the_fund_cites_a_three_quarter_vote(session: Session, place: Place) -> None:
    vote = decided(session, place, matter=Matter.FUND_RAISE)
    assert draw(session, place, vote_id=vote.id, direction="in", kind="topup").vote_id == vote.id


def test_the_staff_fund_form_refuses_a_failed_vote(
    client: Any, session: Session, place: Place
) -> None:
    from tests.governance.test_views import login

    failed = decided(session, place, yes=1)
    passed = decided(session, place)
    login(client, place.manager)
    data = {
        "direction": "out",
        "kind": "repair",
        "occurred_on": "2026-11-19",
        "amount": "520000",
        "counterparty": "电梯公司",
        "description": "更换 3 号楼电梯",
        "approval_ref": "",
    }
    url = "/staff/transparency/GOV1/funds/new?account=maintenance_fund"
    refused = client.post(url, data={**data, "vote_id": str(failed.id)})
    assert refused.status_code in (200, 422)
    assert "未通过" in refused.get_data(as_text=True)
    assert movements(session) == 0
    accepted = client.post(url, data={**data, "vote_id": str(passed.id)})
    assert accepted.status_code == 302
    session.expire_all()
    assert session.scalar(select(FundMovement.vote_id)) == passed.id
