import io
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.notices import service
from portal.notices.models import Notice, NoticeAttachment, NoticeRead
from portal.timeutil import now_utc
from portal.uploads.models import StoredFile
from tests import factories
from tests.factories import PASSWORD
from tests.transparency.helpers import EXE_AS_JPG, SVG_WITH_SCRIPT, count, png_bytes


def _published(session: Session, community: Any, **changes: Any) -> Notice:
    actor = factories.make_user(session, role="cs", community=community)
    data = {"category": "general", "title": "消防演练通知", "body": "周六上午 **9:30** 演练"}
    data.update(changes)
    notice = service.create_notice(
        session, community=community, data=service.NoticeInput(**data), actor=actor, now=now_utc()
    )
    return service.publish_notice(session, notice=notice, actor=actor, now=now_utc())


def _form(**changes: Any) -> dict[str, Any]:
    data = {"category": "general", "title": "垃圾分类投放时间调整", "body": "湿垃圾 7:00–9:00"}
    data.update(changes)
    return data


def test_public_board_detail_and_feed(client: FlaskClient, session: Session) -> None:
    community = factories.make_community(session, code="NB", name="明账花园")
    notice = _published(session, community, pinned=True)
    session.commit()
    html = client.get("/c/NB/notices").get_data(as_text=True)
    assert "消防演练通知" in html
    assert "置顶" in html
    detail = client.get(f"/c/NB/notices/{notice.id}").get_data(as_text=True)
    assert "<strong>9:30</strong>" in detail
    feed = client.get("/c/NB/notices.atom")
    assert feed.mimetype == "application/atom+xml"
    root = ET.fromstring(feed.data)  # noqa: S314 - our own feed
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.find("a:title", ns).text == "明账花园 · 公告"
    entry = root.find("a:entry", ns)
    assert entry.find("a:title", ns).text == "消防演练通知"
    assert entry.find("a:link", ns).get("href").endswith(f"/c/NB/notices/{notice.id}")
    assert "<strong>9:30</strong>" in entry.find("a:content", ns).text
    assert entry.find("a:id", ns).text.startswith("tag:clearfee,")


def test_owners_only_board(client: FlaskClient, session: Session, login_as: Any) -> None:
    community = factories.make_community(session, code="NBP", is_public=False)
    notice = _published(session, community)
    session.commit()
    for path in (
        "/c/NBP/notices",
        f"/c/NBP/notices/{notice.id}",
        "/c/NBP/notices.atom",
        "/api/v1/notices?community=NBP",
    ):
        assert client.get(path).status_code == 404, path
    login_as("owner", unit=factories.make_unit(session, community=community))
    assert client.get("/c/NBP/notices").status_code == 200


def test_unread_markers_and_acknowledgement(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    community = factories.make_community(session, code="ACK")
    important = _published(session, community, title="停水通知", important=True)
    plain = _published(session, community, title="活动通知")
    owner = login_as("owner", unit=factories.make_unit(session, community=community))
    html = client.get("/c/ACK/notices").get_data(as_text=True)
    assert html.count('class="unread-dot"') == 2
    assert "待确认" in html
    assert client.get("/notices").status_code == 302  # one community: straight to its board
    detail = client.get(f"/c/ACK/notices/{important.id}").get_data(as_text=True)
    assert "我已阅读并知悉" in detail
    assert client.post(f"/c/ACK/notices/{important.id}/ack").status_code == 302
    receipt = session.scalar(select(NoticeRead).where(NoticeRead.notice_id == important.id))
    assert receipt.user_id == owner.id
    assert receipt.acknowledged_at is not None
    html = client.get("/c/ACK/notices").get_data(as_text=True)
    assert html.count('class="unread-dot"') == 1
    assert "已确认" in html
    response = client.post(f"/c/ACK/notices/{plain.id}/ack", follow_redirects=True)
    assert "无需确认" in response.get_data(as_text=True)


def test_outsiders_cannot_acknowledge(client: FlaskClient, session: Session, login_as: Any) -> None:
    community = factories.make_community(session, code="ACK2")
    notice = _published(session, community, important=True)
    login_as("owner")  # owns a unit elsewhere
    assert client.post(f"/c/ACK2/notices/{notice.id}/ack").status_code == 404
    client.get(f"/c/ACK2/notices/{notice.id}")  # public page: reading is fine, but no receipt
    assert count(session, NoticeRead) == 0


def test_staff_write_publish_and_see_rates(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    community = factories.make_community(session, code="STF")
    building = factories.make_building(session, community=community)
    owner = factories.make_user(
        session, role="owner", unit=factories.make_unit(session, community=community)
    )
    login_as("cs", community=community)
    assert client.get("/staff/notices").status_code == 302
    assert client.get("/staff/notices/STF/new?category=outage").status_code == 200
    response = client.post(
        "/staff/notices/STF/new",
        data=_form(
            category="outage",
            title="二次供水水箱清洗",
            body="请提前储水",
            outage_type="water",
            outage_starts_at="2030-05-01T09:00",
            outage_ends_at="2030-05-01T15:00",
            building_ids=[str(building.id)],
            important="y",
            files=[(io.BytesIO(png_bytes()), "停水范围.png")],
        ),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    notice = session.scalar(select(Notice))
    assert notice.outage_starts_at.hour == 1  # 09:00 in Shanghai is 01:00 UTC
    assert len(notice.attachments) == 1
    client.post(f"/staff/notices/n/{notice.id}/publish")
    session.expire_all()
    assert session.get(Notice, notice.id).status == "published"
    session.add(NoticeRead(notice_id=notice.id, user_id=owner.id, read_at=now_utc()))
    session.commit()
    html = client.get("/staff/notices/STF").get_data(as_text=True)
    assert "1/1" in html
    detail = client.get(f"/staff/notices/n/{notice.id}").get_data(as_text=True)
    assert "100%" in detail
    board = client.get(f"/c/STF/notices/{notice.id}").get_data(as_text=True)
    assert building.name in board
    attachment = client.get(f"/c/STF/notices/{notice.id}/files/{notice.attachments[0].id}")
    assert attachment.status_code == 200
    attachment.close()
    # Published text is frozen.
    response = client.post(
        f"/staff/notices/n/{notice.id}/edit", data=_form(title="偷改"), follow_redirects=True
    )
    assert "不能修改正文" in response.get_data(as_text=True)
    client.post(f"/staff/notices/n/{notice.id}/withdraw")
    assert client.get(f"/c/STF/notices/{notice.id}").status_code == 404


def test_bad_notice_input_writes_nothing(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    community = factories.make_community(session, code="BADN")
    login_as("cs", community=community)
    cases = [
        (_form(body="<script>alert(1)</script>"), "脚本"),
        (_form(body="[x](javascript:alert(1))"), "脚本"),
        (_form(category="outage"), "检修类型"),
        (_form(category="nonsense"), "不是有效的选择"),
        (_form(title=""), "field-error"),
        ({**_form(), "files": [(io.BytesIO(EXE_AS_JPG), "notice.jpg")]}, "notice.jpg"),
        ({**_form(), "files": [(io.BytesIO(SVG_WITH_SCRIPT), "map.svg")]}, "map.svg"),
    ]
    for data, message in cases:
        response = client.post(
            "/staff/notices/BADN/new", data=data, content_type="multipart/form-data"
        )
        assert response.status_code == 200
        assert message in response.get_data(as_text=True), message
    assert count(session, Notice) == 0
    assert count(session, NoticeAttachment) == 0
    assert count(session, StoredFile) == 0


def test_staff_scoping(client: FlaskClient, session: Session, login_as: Any) -> None:
    mine = factories.make_community(session, code="MINE")
    other = factories.make_community(session, code="THEIRS")
    theirs = _published(session, other)
    login_as("cs", community=mine)
    assert client.get("/staff/notices/THEIRS").status_code == 404
    assert client.get(f"/staff/notices/n/{theirs.id}").status_code == 404
    assert client.post(f"/staff/notices/n/{theirs.id}/withdraw").status_code == 404
    client.post("/logout")
    login_as("finance", community=mine)
    assert client.get("/staff/notices/MINE").status_code == 403


def test_api_notices(client: FlaskClient, session: Session) -> None:
    community = factories.make_community(session, code="APIN")
    a = factories.make_building(session, community=community)
    start = now_utc() + timedelta(days=1)
    outage = _published(
        session,
        community,
        category="outage",
        title="停电检修",
        body="配电房检修",
        outage_type="power",
        outage_starts_at=start,
        outage_ends_at=start + timedelta(hours=2),
        building_ids=(a.id,),
    )
    _published(
        session,
        community,
        category="fee_change",
        title="收费标准调整公告",
        body="新标准",
        fee_property_type="residential",
        fee_item_code="garbage",
        fee_rate=Decimal("10.00"),
    )
    owner = factories.make_user(
        session, role="owner", unit=factories.make_unit(session, community=community)
    )
    session.commit()
    assert client.get("/api/v1/notices").status_code == 400
    assert client.get("/api/v1/notices?community=NOPE").status_code == 404
    body = client.get("/api/v1/notices?community=APIN").json
    assert body["community"] == "APIN"
    by_title = {n["title"]: n for n in body["notices"]}
    assert by_title["停电检修"]["outage"]["buildings"] == [a.code]
    assert by_title["停电检修"]["id"] == outage.id
    assert by_title["收费标准调整公告"]["category"] == "fee_change"
    assert by_title["收费标准调整公告"]["important"] is True
    assert by_title["收费标准调整公告"]["fee_change"] == {
        "property_type": "residential",
        "item": "garbage",
        "rate": "10.0000",
    }
    assert "read" not in by_title["停电检修"]
    token = client.post(
        "/api/v1/auth/token", json={"username": owner.username, "password": PASSWORD}
    ).json
    mine = client.get(
        "/api/v1/notices?community=APIN", headers={"Authorization": f"Bearer {token['token']}"}
    ).json
    assert all(n["read"] is False for n in mine["notices"])


def test_fee_change_notice_names_item_and_rate(
    client: FlaskClient, session: Session, login_as: Any
) -> None:
    community = factories.make_community(session, code="FEEV")
    login_as("cs", community=community)
    form = client.get("/staff/notices/FEEV/new?category=fee_change").get_data(as_text=True)
    assert 'name="fee_item_code"' in form
    assert 'name="fee_rate"' in form
    missing = client.post(
        "/staff/notices/FEEV/new",
        data=_form(category="fee_change", fee_property_type="residential", fee_item_code=""),
    )
    assert missing.status_code == 200
    assert "请选择调整的收费项目" in missing.get_data(as_text=True)
    assert count(session, Notice) == 0
    response = client.post(
        "/staff/notices/FEEV/new",
        data=_form(
            category="fee_change",
            title="关于调整生活垃圾清运费的公告",
            fee_property_type="residential",
            fee_item_code="garbage",
            fee_rate="10.00",
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    notice = session.scalar(select(Notice))
    assert (notice.fee_property_type, notice.fee_item_code) == ("residential", "garbage")
    assert notice.fee_rate == Decimal("10.0000")
    client.post(f"/staff/notices/n/{notice.id}/publish")
    page = client.get(f"/c/FEEV/notices/{notice.id}").get_data(as_text=True)
    assert "生活垃圾清运费" in page
    assert "10 元" in page
