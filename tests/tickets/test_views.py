import io
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry
from portal.tickets import aftercare, setup, workflow
from portal.tickets.models import (
    SlaTarget,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketPhoto,
    TicketRating,
    TicketStatus,
)
from tests import factories
from tests.factories import NOW
from tests.tickets.util import jpeg_bytes, make_ticket, make_world, resolved_ticket


def _login(client: FlaskClient, user: Any) -> None:
    client.post("/logout")
    response = client.post("/login", data=factories.login_fields(user.username))
    assert response.status_code == 302


def _count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _form(world: Any, **changes: Any) -> dict[str, Any]:
    data = {
        "unit_id": str(world.unit.id),
        "category": "plumbing_electric",
        "location_type": "in_home",
        "building_id": "",
        "floor": "",
        "area": "",
        "description": "厨房水龙头一直滴水",
        "urgency": "normal",
        "preferred_on": "",
        "preferred_slot": "morning",
        "contact_phone": "",
    }
    data.update(changes)
    return data


def test_owner_files_with_a_photo_and_follows_it(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="VIEW")
    session.commit()
    _login(client, world.owner)
    page = client.get("/tickets/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "水电" in html
    assert "电梯" in html
    data = _form(world)
    data["photos"] = [(io.BytesIO(jpeg_bytes()), "drip.jpg")]
    response = client.post("/tickets/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    ticket = session.scalar(select(Ticket))
    assert response.headers["Location"].endswith(f"/tickets/{ticket.id}")
    detail = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "VIEW-00001" in detail
    assert "厨房水龙头一直滴水" in detail
    photo = session.scalar(select(TicketPhoto))
    with client.get(f"/tickets/{ticket.id}/photos/{photo.id}") as image:
        assert image.status_code == 200
        assert image.content_type == "image/jpeg"
        assert b"SpyPhone" not in image.data
        assert image.headers["Cache-Control"] == "private, no-store"
        assert image.headers["X-Content-Type-Options"] == "nosniff"
    listing = client.get("/tickets/").get_data(as_text=True)
    assert "VIEW-00001" in listing


def test_bad_form_rerenders_and_writes_nothing(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    session.commit()
    _login(client, world.owner)
    cases = [
        (_form(world, description=""), "请描述需要维修的问题"),
        (_form(world, location_type="common_area"), "公共区域报修请填写楼栋或具体位置"),
        (_form(world, category="pool"), "field-error"),
        (_form(world, preferred_on="9999-12-31"), "日期须在 2000-01-01 至 2036-12-31 之间"),
    ]
    for data, message in cases:
        response = client.post("/tickets/new", data=data)
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    disguised = _form(world)
    disguised["photos"] = [(io.BytesIO(b"MZ\x90" + b"\0" * 400), "cat.jpg")]
    response = client.post("/tickets/new", data=disguised, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "cat.jpg" in response.get_data(as_text=True)
    assert _count(session, Ticket) == 0
    assert _count(session, TicketPhoto) == 0


def test_other_owner_gets_404_everywhere(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    ticket = resolved_ticket(session, world)
    session.commit()
    _login(client, world.other_owner)
    assert client.get(f"/tickets/{ticket.id}").status_code == 404
    for action in ("comment", "cancel", "reopen", "confirm", "rate"):
        response = client.post(f"/tickets/{ticket.id}/{action}", data={"score": "1", "body": "x"})
        assert response.status_code == 404, action
    assert _count(session, TicketRating) == 0
    assert client.get(f"/staff/tickets/{ticket.id}").status_code == 403


def test_owner_rates_confirms_and_sees_errors(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    ticket = resolved_ticket(session, world)
    open_one = make_ticket(session, world)
    session.commit()
    _login(client, world.owner)
    early = client.post(f"/tickets/{open_one.id}/rate", data={"score": "5"}, follow_redirects=True)
    assert "工单解决后才能评价" in early.get_data(as_text=True)
    bad = client.post(f"/tickets/{ticket.id}/rate", data={"score": "9"}, follow_redirects=True)
    assert "请选择 1 到 5 分" in bad.get_data(as_text=True)
    assert _count(session, TicketRating) == 0
    client.post(f"/tickets/{ticket.id}/rate", data={"score": "2", "comment": "太慢"})
    twice = client.post(f"/tickets/{ticket.id}/rate", data={"score": "5"}, follow_redirects=True)
    assert "该工单已评价过" in twice.get_data(as_text=True)
    assert session.scalar(select(TicketRating.score)) == 2
    client.post(f"/tickets/{ticket.id}/confirm")
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == TicketStatus.CLOSED
    client.post(f"/tickets/{ticket.id}/comment", data={"body": "谢谢师傅"})
    assert (
        session.scalar(select(func.count(TicketEvent.id)).where(TicketEvent.kind == "comment")) == 1
    )


def test_owner_reopens_and_cancels(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    ticket = resolved_ticket(session, world, now=NOW)
    other = make_ticket(session, world)
    session.commit()
    _login(client, world.owner)
    response = client.post(f"/tickets/{ticket.id}/reopen", data={"reason": "又开始漏了"})
    assert response.status_code == 302
    client.post(f"/tickets/{other.id}/cancel", data={"reason": ""})
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == TicketStatus.REOPENED
    assert session.get(Ticket, other.id).status == TicketStatus.CANCELLED


def test_recheck_answer_from_the_list(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    ticket = resolved_ticket(session, world, now=NOW - timedelta(days=20))
    aftercare.run_followups(session, day=NOW.date(), now=NOW)
    session.commit()
    _login(client, world.owner)
    page = client.get("/tickets/").get_data(as_text=True)
    assert "现在还正常吗" in page
    prompt = aftercare.pending_rechecks(session, user=world.owner)[0]
    response = client.post(
        f"/tickets/rechecks/{prompt.id}", data={"not_fixed": "1", "note": "又坏"}
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == TicketStatus.REOPENED
    _login(client, world.other_owner)
    assert client.post(f"/tickets/rechecks/{prompt.id}", data={"fixed": "1"}).status_code == 404


def test_staff_board_filters_and_bulk_acknowledge(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="BRD")
    first = make_ticket(session, world)
    second = make_ticket(session, world, category="elevator")
    late = make_ticket(session, world, now=NOW - timedelta(days=5))
    session.commit()
    _login(client, world.cs)
    board = client.get("/staff/tickets").get_data(as_text=True)
    for t in (first, second, late):
        assert t.number in board
    assert "tk-row-overdue" in board
    elevator = setup.find_category(session, community=world.community, code="elevator")
    filtered = client.get(f"/staff/tickets?category={elevator.id}").get_data(as_text=True)
    assert second.number in filtered
    assert first.number not in filtered
    response = client.post(
        "/staff/tickets/acknowledge", data={"ticket_ids": [str(first.id), str(second.id)]}
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Ticket, first.id).status == TicketStatus.ACKNOWLEDGED
    assert session.get(Ticket, late.id).status == TicketStatus.SUBMITTED
    assert (
        session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "ticket.bulk_acknowledge")
        )
        == 1
    )
    other = make_world(session)
    foreign = make_ticket(session, other)
    session.commit()
    refused = client.post("/staff/tickets/acknowledge", data={"ticket_ids": [str(foreign.id)]})
    assert refused.status_code == 302
    session.expire_all()
    assert session.get(Ticket, foreign.id).status == TicketStatus.SUBMITTED
    assert client.get(f"/staff/tickets/{foreign.id}").status_code == 404


def test_dispatch_and_engineer_queue(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    session.commit()
    _login(client, world.cs)
    client.post(f"/staff/tickets/{ticket.id}/acknowledge", data={"note": "马上安排"})
    client.post(f"/staff/tickets/{ticket.id}/assign", data={"assignee_id": str(world.engineer.id)})
    session.expire_all()
    assert session.get(Ticket, ticket.id).assignee_id == world.engineer.id
    _login(client, world.engineer)
    queue = client.get("/staff/tickets/mine").get_data(as_text=True)
    assert ticket.number in queue
    client.post(f"/staff/tickets/{ticket.id}/start", data={"next": "queue"})
    resolved = client.post(
        f"/staff/tickets/{ticket.id}/resolve",
        data={"note": "已更换水龙头", "photos": [(io.BytesIO(jpeg_bytes()), "done.jpg")]},
        content_type="multipart/form-data",
    )
    assert resolved.status_code == 302
    session.expire_all()
    done = session.get(Ticket, ticket.id)
    assert done.status == TicketStatus.RESOLVED
    assert [p.stage for p in done.photos] == ["resolution"]


def test_engineer_cannot_change_someone_elses_ticket(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    workflow.assign(session, ticket=ticket, actor=world.cs, assignee=world.engineer, now=NOW)
    session.commit()
    events = _count(session, TicketEvent)
    _login(client, world.engineer2)
    page = client.get(f"/staff/tickets/{ticket.id}").get_data(as_text=True)
    assert "此工单未派给您" in page
    for action, data in (
        ("start", {}),
        ("resolve", {"note": "修好了"}),
        ("comment", {"body": "看看"}),
        ("assign", {"assignee_id": str(world.engineer2.id)}),
        ("cancel", {"reason": "不修了"}),
    ):
        response = client.post(
            f"/staff/tickets/{ticket.id}/{action}", data=data, follow_redirects=True
        )
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "该工单未派给您" in html or "只有客服或管理处负责人" in html, action
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == TicketStatus.ASSIGNED
    assert _count(session, TicketEvent) == events


def test_cs_files_on_behalf_and_records_phone_rating(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="PHONE")
    session.commit()
    _login(client, world.cs)
    assert client.get("/staff/tickets/new").status_code == 200
    missing = client.post(
        "/staff/tickets/new",
        data={
            "community": "PHONE",
            "channel": "phone",
            "unit_code": "NOPE",
            "category": "doors_windows",
            "location_type": "in_home",
            "description": "窗户漏风",
            "urgency": "normal",
            "preferred_slot": "any",
            "building_id": "",
        },
    )
    assert "本小区没有这个房号" in missing.get_data(as_text=True)
    response = client.post(
        "/staff/tickets/new",
        data={
            "community": "PHONE",
            "channel": "phone",
            "unit_code": world.unit.code,
            "category": "doors_windows",
            "location_type": "in_home",
            "description": "窗户漏风",
            "urgency": "normal",
            "preferred_slot": "any",
            "building_id": "",
        },
    )
    assert response.status_code == 302
    ticket = session.scalar(select(Ticket))
    assert ticket.reporter_id == world.owner.id
    assert ticket.channel == "phone"
    workflow.acknowledge(session, ticket=ticket, actor=world.cs, now=NOW)
    workflow.resolve(session, ticket=ticket, actor=world.cs, now=NOW, note="电话指导业主复位")
    session.commit()
    client.post(f"/staff/tickets/{ticket.id}/rate", data={"score": "1", "comment": "不满意"})
    rating = session.scalar(select(TicketRating))
    assert (rating.score, rating.channel) == (1, "phone")
    tasks = client.get("/staff/tickets/followups").get_data(as_text=True)
    assert ticket.number in tasks
    followup = aftercare.open_service_tasks(session, staff=world.cs)[0]
    client.post(f"/staff/tickets/followups/{followup.id}", data={"note": "已上门复查"})
    assert aftercare.open_service_tasks(session, staff=world.cs) == []


def test_manager_settings(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="SETS")
    session.commit()
    _login(client, world.manager)
    assert client.get("/staff/tickets/settings/SETS").status_code == 200
    client.post(
        "/staff/tickets/settings/SETS",
        data={
            "kind": "category",
            "cat-code": "pool",
            "cat-name": "泳池",
            "cat-position": "20",
            "cat-active": "y",
        },
    )
    assert session.scalar(select(TicketCategory).where(TicketCategory.code == "pool")) is not None
    client.post(
        "/staff/tickets/settings/SETS",
        data={
            "kind": "sla",
            "sla-category_id": "",
            "sla-urgency": "normal",
            "sla-first_response_hours": "2",
            "sla-resolution_hours": "24",
        },
    )
    target = session.scalar(select(SlaTarget))
    assert (target.first_response_minutes, target.resolution_minutes) == (120, 1440)
    bad = client.post(
        "/staff/tickets/settings/SETS",
        data={
            "kind": "sla",
            "sla-category_id": "",
            "sla-urgency": "urgent",
            "sla-first_response_hours": "5",
            "sla-resolution_hours": "1",
        },
        follow_redirects=True,
    )
    assert "解决时限不能短于首次响应时限" in bad.get_data(as_text=True)
    client.post(
        "/staff/tickets/settings/SETS",
        data={
            "kind": "hours",
            "hours-business_hours": "y",
            "hours-work_start": "09:00",
            "hours-work_end": "17:30",
            "hours-work_days": ["1", "2", "3", "4", "5"],
        },
    )
    settings = setup.get_settings(session, world.community.id)
    session.refresh(settings)
    assert (settings.business_hours, settings.work_start_min, settings.work_end_min) == (
        True,
        540,
        1050,
    )
    assert settings.work_days == "12345"
    _login(client, world.cs)
    assert client.get("/staff/tickets/settings/SETS").status_code == 403
    other = make_world(session, code="ELSE")
    session.commit()
    _login(client, other.manager)
    assert client.get("/staff/tickets/settings/SETS").status_code == 404


def test_common_area_list_hides_the_reporter(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="COMM")
    make_ticket(
        session,
        world,
        location_type="common_area",
        area="地下车库 B2",
        category="parking",
        description="车位地锁坏了",
    )
    make_ticket(session, world, description="我家马桶堵了")
    outsider = make_world(session)
    session.commit()
    _login(client, world.other_owner)
    page = client.get("/tickets/community/COMM").get_data(as_text=True)
    assert "车位地锁坏了" in page
    assert "地下车库 B2" in page
    assert "马桶" not in page
    assert world.owner.display_name not in page
    assert world.unit.code not in page
    _login(client, outsider.owner)
    assert client.get("/tickets/community/COMM").status_code == 404


def test_responsiveness_page_public_and_private(client: FlaskClient, session: Session) -> None:
    world = make_world(session, code="PUBR", is_public=True)
    for hours in (1, 2, 3, 4, 5):
        resolved_ticket(session, world, now=NOW - timedelta(days=3), hours=hours)
    make_ticket(session, world, category="elevator")
    hidden = make_world(session, code="HIDR", is_public=False)
    session.commit()
    page = client.get("/c/PUBR/responsiveness?months=6")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "样本不足" in html
    assert "chart-category-data" in html
    assert "3 小时" in html  # median resolution time of the water category, in words
    assert "<script>" not in html.replace("<script src=", "")
    assert client.get("/c/HIDR/responsiveness").status_code == 404
    _login(client, hidden.owner)
    assert client.get("/c/HIDR/responsiveness").status_code == 200
    index = client.get("/responsiveness").get_data(as_text=True)
    assert "PUBR" in index
    assert "HIDR" in index


def test_open311_key_page(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    session.commit()
    _login(client, world.owner)
    page = client.post("/tickets/open311-keys", data={"label": "我的 App"})
    html = page.get_data(as_text=True)
    assert "o311_" in html
    from portal.tickets import keys

    key = keys.user_keys(session, user=world.owner)[0]
    _login(client, world.other_owner)
    assert client.post(f"/tickets/open311-keys/{key.id}/revoke").status_code == 404
    _login(client, world.owner)
    assert client.post(f"/tickets/open311-keys/{key.id}/revoke").status_code == 302
    session.refresh(key)
    assert key.revoked_at is not None
