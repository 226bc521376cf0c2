"""Proposals for the common revenue: propose, support, shortlist, vote, chosen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.errors import DomainError
from portal.governance import proposals, service
from portal.governance.models import Matter, Proposal, ProposalStatus, ProposalSupport, Vote
from tests import factories
from tests.governance.conftest import NOW, Place
from tests.governance.test_views import login


def propose(
    session: Session, place: Place, title: str = "小区健身器材更新", cost: int = 1_200_000
) -> Proposal:
    proposal = proposals.submit_proposal(
        session,
        community=place.community,
        author=place.owners[0],
        title=title,
        description="更换 8 件老化器材",
        estimated_cost_fen=cost,
        now=NOW,
    )
    session.commit()
    return proposal


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("-100", "cost_not_positive"),
        ("0", "cost_not_positive"),
        ("abc", "bad_cost"),
        ("1.005", "bad_cost"),
        ("", "bad_cost"),
    ],
)
def test_bad_costs_are_refused(text: str, code: str) -> None:
    with pytest.raises(DomainError) as exc:
        proposals.parse_cost(text)
    assert exc.value.code == code


def test_negative_cost_and_non_owner_write_nothing(session: Session, place: Place) -> None:
    with pytest.raises(DomainError):
        propose(session, place, cost=-500)
    session.rollback()
    with pytest.raises(DomainError) as exc:
        proposals.submit_proposal(
            session,
            community=place.community,
            author=place.manager,
            title="x",
            description="",
            estimated_cost_fen=100,
            now=NOW,
        )
    session.rollback()
    assert exc.value.code == "not_owner"
    assert session.scalar(select(func.count(Proposal.id))) == 0


def test_support_once_shortlist_vote_and_chosen(session: Session, place: Place) -> None:
    gym = propose(session, place)
    lights = propose(session, place, "地下车库照明改 LED", 800_000)
    propose(session, place, "外墙彩绘", 3_000_000)
    proposals.support_proposal(session, proposal=gym, user=place.owners[1], now=NOW)
    session.commit()
    with pytest.raises(DomainError) as twice:
        proposals.support_proposal(session, proposal=gym, user=place.owners[1], now=NOW)
    session.rollback()
    assert twice.value.code == "already_supported"
    assert session.scalar(select(func.count(ProposalSupport.id))) == 1
    assert session.get(Proposal, gym.id).supporters == 1
    with pytest.raises(DomainError):  # nothing shortlisted yet
        proposals.vote_on_shortlist(
            session,
            community=place.community,
            actor=place.manager,
            title="公共收益使用",
            closes_at=NOW + timedelta(days=7),
            now=NOW,
        )
    session.rollback()
    proposals.shortlist(session, proposal=gym, actor=place.manager, now=NOW)
    proposals.shortlist(session, proposal=lights, actor=place.manager, now=NOW)
    with pytest.raises(DomainError) as no_reason:
        proposals.decline(session, proposal=lights, actor=place.manager, note=" ", now=NOW)
    assert no_reason.value.code == "note_required"
    session.commit()
    vote = proposals.vote_on_shortlist(
        session,
        community=place.community,
        actor=place.manager,
        title="2027 年公共收益使用",
        closes_at=NOW + timedelta(days=7),
        now=NOW,
    )
    session.commit()
    assert vote.matter == Matter.REVENUE_USE
    assert [o.approves for o in vote.options] == [True, True, False]
    service.open_vote(session, vote=vote, actor=place.manager, now=NOW)
    for owner, unit in zip(place.owners, place.units, strict=True):
        service.cast_ballot(
            session, vote=vote, user=owner, unit_id=unit.id, option_code="o1", now=NOW
        )
    service.close_vote(session, vote=vote, actor=place.manager, now=vote.closes_at)
    session.commit()
    session.expire_all()
    assert session.get(Proposal, gym.id).status == ProposalStatus.CHOSEN
    assert session.get(Proposal, lights.id).status == ProposalStatus.NOT_CHOSEN
    assert proposals.vote_of(session, proposal=gym).id == vote.id


def test_proposal_pages(client: FlaskClient, session: Session, place: Place) -> None:
    login(client, place.owners[0])
    bad = client.post("/c/GOV1/proposals", data={"title": "健身器材", "estimated_cost": "-5"})
    assert bad.status_code == 422
    assert "估算费用必须大于零" in bad.get_data(as_text=True)
    assert session.scalar(select(func.count(Proposal.id))) == 0
    good = client.post("/c/GOV1/proposals", data={"title": "健身器材", "estimated_cost": "12,000"})
    assert good.status_code == 302
    proposal = session.scalar(select(Proposal))
    assert proposal.estimated_cost_fen == 1_200_000
    client.post("/logout")
    login(client, place.owners[1])
    client.post(f"/c/GOV1/proposals/{proposal.id}/support")
    again = client.post(f"/c/GOV1/proposals/{proposal.id}/support", follow_redirects=True)
    assert "已支持过" in again.get_data(as_text=True)
    client.post("/logout")
    login(client, place.manager)
    assert client.get("/governance/GOV1/proposals").status_code == 200
    client.post(f"/governance/GOV1/proposals/{proposal.id}/shortlist")
    session.expire_all()
    assert session.get(Proposal, proposal.id).status == ProposalStatus.SHORTLISTED
    made = client.post(
        "/governance/GOV1/proposals",
        data={"title": "公共收益使用", "closes_at": "2026-11-30T20:00"},
    )
    assert made.status_code == 302
    assert session.scalar(select(func.count(Vote.id))) == 1


def test_other_community_cannot_support_or_decide(
    client: FlaskClient, session: Session, place: Place
) -> None:
    proposal = propose(session, place)
    stranger: Any = factories.make_user(session)
    other_manager = factories.make_user(session, role="manager")
    session.commit()
    login(client, stranger)
    assert client.post(f"/c/GOV1/proposals/{proposal.id}/support").status_code == 404
    client.post("/logout")
    login(client, other_manager)
    assert client.post(f"/governance/GOV1/proposals/{proposal.id}/shortlist").status_code == 404
    assert session.scalar(select(func.count(ProposalSupport.id))) == 0
