"""The notice board and the notices API list every notice, a page at a time."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.notices import service
from tests import factories
from tests.factories import NOW


def test_board_and_api_list_every_notice_a_page_at_a_time(
    client: FlaskClient, session: Session
) -> None:
    community = factories.make_community(session)
    cs = factories.make_user(session, role="cs", community=community)
    for n in range(35):
        notice = service.create_notice(
            session,
            community=community,
            actor=cs,
            now=NOW - timedelta(days=n + 1),
            data=service.NoticeInput(category="general", title=f"通知第{n}号", body="内容"),
        )
        service.publish_notice(session, notice=notice, actor=cs, now=NOW - timedelta(days=n + 1))
    session.commit()
    code = community.code
    first = client.get(f"/c/{code}/notices").get_data(as_text=True)
    second = client.get(f"/c/{code}/notices?page=2").get_data(as_text=True)
    assert "第 1 / 2 页" in first
    titles = set(re.findall(r"通知第\d+号", first + second))
    assert titles == {f"通知第{n}号" for n in range(35)}
    api = client.get(f"/api/v1/notices?community={code}&per_page=10&page=4").json
    assert (api["total"], api["pages"], len(api["notices"])) == (35, 4, 5)
    assert client.get(f"/api/v1/notices?community={code}&page=0").status_code == 422
