"""The votes JSON contract (DESIGN.md §3)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.governance.models import Ballot
from tests import factories
from tests.governance.conftest import Place, make_vote


def bearer(client: FlaskClient, user: Any) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json=factories.login_fields(user.username))
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_list_vote_and_result(
    client: FlaskClient, session: Session, place: Place, clock: Any
) -> None:
    vote = make_vote(session, place)
    headers = bearer(client, place.owners[0])
    listed = client.get("/api/v1/votes?community=GOV1", headers=headers).get_json()
    assert listed["votes"][0]["kind"] == "ordinary"
    assert listed["votes"][0]["status"] == "open"
    assert [o["code"] for o in listed["votes"][0]["options"]] == ["o1", "o2", "o3"]
    url = f"/api/v1/votes/{vote.id}/ballots"
    first = client.post(url, json={"unit": place.units[0].code, "option": "o1"}, headers=headers)
    assert first.status_code == 201
    again = client.post(url, json={"unit": place.units[0].code, "option": "o2"}, headers=headers)
    assert again.status_code == 201
    assert again.get_json()["receipt"] != first.get_json()["receipt"]
    assert session.scalar(select(func.count(Ballot.id))) == 1
    other = client.post(url, json={"unit": place.units[1].code, "option": "o1"}, headers=headers)
    assert other.status_code == 403
    assert other.get_json()["error"]["code"] == "not_eligible"
    bad = client.post(url, json={"unit": place.units[0].code, "option": "zz"}, headers=headers)
    assert bad.status_code == 422
    assert client.get(f"/api/v1/votes/{vote.id}/result", headers=headers).status_code == 409
    clock.set(vote.closes_at)
    headers = bearer(client, place.owners[0])  # a week later: a fresh token
    closed = client.post(url, json={"unit": place.units[0].code, "option": "o1"}, headers=headers)
    assert closed.status_code == 409
    from portal.extensions import db
    from portal.governance import service

    service.close_due(db.session, now=vote.closes_at)
    db.session.commit()
    result = client.get(f"/api/v1/votes/{vote.id}/result", headers=headers).get_json()
    assert result["valid"] is False
    assert result["passed"] is False
    assert result["area_participation"] == "0.2995"
    assert result["options"][1] | {"units": 1} == result["options"][1]
    assert {"code", "units", "area_m2"} <= set(result["options"][0])


def test_another_community_is_404(client: FlaskClient, session: Session, place: Place) -> None:
    vote = make_vote(session, place)
    stranger = factories.make_user(session)
    session.commit()
    headers = bearer(client, stranger)
    assert client.get("/api/v1/votes?community=GOV1", headers=headers).status_code == 404
    response = client.post(
        f"/api/v1/votes/{vote.id}/ballots",
        json={"unit": place.units[0].code, "option": "o1"},
        headers=headers,
    )
    assert response.status_code == 404
    assert client.get("/api/v1/votes?community=GOV1").status_code == 401
