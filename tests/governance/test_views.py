"""Vote pages: owners vote for their own units only; staff open, remind, close, export."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.governance.models import Ballot, Vote, VoteStatus
from tests import factories
from tests.governance.conftest import NOW, Place, make_vote


def login(client: FlaskClient, user: Any) -> None:
    response = client.post("/login", data=factories.login_fields(user.username))
    assert response.status_code == 302


def ballots(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(Ballot.id))) or 0


def test_owner_votes_on_the_phone_page_and_gets_a_receipt(
    client: FlaskClient, session: Session, place: Place
) -> None:
    vote = make_vote(session, place)
    login(client, place.owners[0])
    page = client.get(f"/c/GOV1/votes/{vote.id}")
    assert page.status_code == 200
    assert vote.title in page.get_data(as_text=True)
    response = client.post(
        f"/c/GOV1/votes/{vote.id}/ballot", data={"unit_id": place.units[0].id, "option": "o1"}
    )
    assert response.status_code == 302
    ballot = session.scalar(select(Ballot))
    assert ballot is not None
    page = client.get(f"/c/GOV1/votes/{vote.id}").get_data(as_text=True)
    assert ballot.receipt in page
    assert client.get("/votes").status_code == 200


def test_another_owners_unit_is_404_and_writes_nothing(
    client: FlaskClient, session: Session, place: Place
) -> None:
    vote = make_vote(session, place)
    login(client, place.owners[0])
    response = client.post(
        f"/c/GOV1/votes/{vote.id}/ballot", data={"unit_id": place.units[1].id, "option": "o1"}
    )
    assert response.status_code == 404
    response = client.post(f"/c/GOV1/votes/{vote.id}/ballot", data={"unit_id": "x", "option": "o1"})
    assert response.status_code == 404
    assert ballots(session) == 0


def test_an_owner_of_another_community_sees_nothing(
    client: FlaskClient, session: Session, place: Place
) -> None:
    vote = make_vote(session, place)
    stranger = factories.make_user(session)
    session.commit()
    login(client, stranger)
    assert client.get(f"/c/GOV1/votes/{vote.id}").status_code == 404
    assert client.get("/c/GOV1/votes").status_code == 404


def test_bad_option_and_closed_vote_rerender_with_a_message(
    client: FlaskClient, session: Session, place: Place, clock: Any
) -> None:
    vote = make_vote(session, place)
    login(client, place.owners[0])
    url = f"/c/GOV1/votes/{vote.id}/ballot"
    response = client.post(url, data={"unit_id": place.units[0].id, "option": "o9"})
    assert response.status_code == 422
    assert "有效的选项" in response.get_data(
        as_text=True
    ) or "Not a valid choice" in response.get_data(as_text=True)
    clock.set(vote.closes_at)
    login(client, place.owners[0])  # days later: a new session
    response = client.post(url, data={"unit_id": place.units[0].id, "option": "o1"})
    assert response.status_code == 422
    assert "已截止" in response.get_data(as_text=True)
    assert ballots(session) == 0


def test_result_hidden_until_closed_then_published_and_verifiable(
    client: FlaskClient, session: Session, place: Place, clock: Any
) -> None:
    vote = make_vote(session, place)
    login(client, place.owners[0])
    client.post(
        f"/c/GOV1/votes/{vote.id}/ballot", data={"unit_id": place.units[0].id, "option": "o1"}
    )
    receipt = session.scalar(select(Ballot.receipt))
    assert client.get(f"/c/GOV1/votes/{vote.id}/result").status_code == 302
    manager = place.manager
    client.post("/logout")
    login(client, manager)
    staff = client.get(f"/governance/GOV1/votes/{vote.id}").get_data(as_text=True)
    assert "1 / 3" in staff  # turnout, not the choice
    assert client.get(f"/governance/GOV1/votes/{vote.id}/ballots.csv").status_code == 409
    refused = client.post(f"/governance/GOV1/votes/{vote.id}/close", follow_redirects=True)
    assert "未到截止时间" in refused.get_data(as_text=True)
    clock.set(vote.closes_at + timedelta(minutes=1))
    login(client, manager)  # days later: a new session
    client.post(f"/governance/GOV1/votes/{vote.id}/close")
    session.expire_all()
    assert session.get(Vote, vote.id).status == VoteStatus.CLOSED
    export = client.get(f"/governance/GOV1/votes/{vote.id}/ballots.csv")
    assert export.status_code == 200
    assert place.units[0].code in export.get_data(as_text=True)
    client.post("/logout")
    # The verify page is public: anyone holding a receipt can check it.
    page = client.post(f"/c/GOV1/votes/{vote.id}/verify", data={"receipt": receipt, "option": "o1"})
    assert "已核验" in page.get_data(as_text=True)
    page = client.post(f"/c/GOV1/votes/{vote.id}/verify", data={"receipt": receipt, "option": "o2"})
    assert "未找到" in page.get_data(as_text=True)
    login(client, place.owners[1])
    result = client.get(f"/c/GOV1/votes/{vote.id}/result")
    assert result.status_code == 200
    assert "表决无效" in result.get_data(as_text=True)  # 1 of 3 took part


def test_manager_creates_and_opens_a_vote(
    client: FlaskClient, session: Session, place: Place
) -> None:
    login(client, place.manager)
    data = {
        "title": "更换 3 号楼电梯",
        "matter": "fund_use",
        "closes_at": "2026-11-30T20:00",
        "options": "同意\n反对\n弃权",
    }
    response = client.post("/governance/GOV1/votes/new", data=data)
    assert response.status_code == 302
    vote = session.scalar(select(Vote))
    assert vote is not None
    assert vote.status == VoteStatus.DRAFT
    assert [o.label for o in vote.options] == ["同意", "反对", "弃权"]
    client.post(f"/governance/GOV1/votes/{vote.id}/open")
    session.expire_all()
    assert session.get(Vote, vote.id).status == VoteStatus.OPEN


def test_manager_bad_votes_rerender_and_write_nothing(
    client: FlaskClient, session: Session, place: Place
) -> None:
    login(client, place.manager)
    base = {"title": "表决", "matter": "fund_use", "closes_at": "2026-11-30T20:00"}
    for extra, message in (
        ({"options": ""}, "至少需要两个选项"),
        ({"options": "同意"}, "至少需要两个选项"),
        ({"options": "同意\n反对", "closes_at": "2026-11-19T20:00"}, "截止时间必须晚于现在"),
    ):
        response = client.post("/governance/GOV1/votes/new", data={**base, **extra})
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert session.scalar(select(func.count(Vote.id))) == 0


def test_staff_of_another_community_gets_404(
    client: FlaskClient, session: Session, place: Place
) -> None:
    vote = make_vote(session, place)
    other = factories.make_user(session, role="manager")
    session.commit()
    login(client, other)
    assert client.get(f"/governance/GOV1/votes/{vote.id}").status_code == 404
    assert client.post(f"/governance/GOV1/votes/{vote.id}/close").status_code == 404
    assert client.get("/governance/GOV1/votes/new").status_code == 404


def test_owner_cannot_reach_staff_pages(
    client: FlaskClient, session: Session, place: Place
) -> None:
    vote = make_vote(session, place)
    login(client, place.owners[0])
    assert client.get(f"/governance/GOV1/votes/{vote.id}").status_code == 403
    assert NOW  # the clock is pinned by the place fixture


def test_vote_documents_are_attached_and_shown_to_members_only(
    client: FlaskClient, session: Session, place: Place
) -> None:
    import io

    login(client, place.manager)
    base = {
        "title": "更换电梯",
        "matter": "fund_use",
        "closes_at": "2026-11-30T20:00",
        "options": "同意\n反对",
    }
    bad = client.post(
        "/governance/GOV1/votes/new",
        data={**base, "document": (io.BytesIO(b"not a pdf"), "plan.pdf")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert session.scalar(select(func.count(Vote.id))) == 0
    from tests.uploads.corpus import page_pdf

    pdf = page_pdf()
    ok = client.post(
        "/governance/GOV1/votes/new",
        data={**base, "document": (io.BytesIO(pdf), "plan.pdf")},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302
    vote = session.scalar(select(Vote))
    client.post(f"/governance/GOV1/votes/{vote.id}/open")
    client.post("/logout")
    login(client, place.owners[0])
    document = client.get(f"/c/GOV1/votes/{vote.id}/document")
    assert document.status_code == 200
    assert document.data.startswith(b"%PDF")
    assert document.headers["Content-Disposition"].startswith("attachment")
    assert document.headers["Cache-Control"] == "private, no-store"  # members only
    client.post("/logout")
    stranger = factories.make_user(session)
    session.commit()
    login(client, stranger)
    assert client.get(f"/c/GOV1/votes/{vote.id}/document").status_code == 404
