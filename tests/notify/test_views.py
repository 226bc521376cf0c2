"""Owner inbox and 通知设置, the staff outbox, letters and templates, the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts import service as accounts
from portal.audit.models import AuditEntry
from portal.notify import sending as notify_sending
from portal.notify import service
from portal.notify.models import Message, MessageTemplate, Preference
from tests import factories
from tests.notify.helpers import SHANGHAI_1030, channels, make_world, queue


def _deliver(session: Session) -> None:
    notify_sending.send_due(session, now=SHANGHAI_1030, channels=channels(), commit=session.commit)


def _login(client: FlaskClient, user: Any) -> None:
    response = client.post("/login", data=factories.login_fields(user.username))
    assert response.status_code == 302


def test_inbox_shows_messages_and_unread_count(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    queue(session, world)
    _deliver(session)
    _login(client, world.owner)
    page = client.get("/notify/inbox").get_data(as_text=True)
    assert "1 条未读" in page
    assert 'class="count-badge">1<' in page  # the nav badge
    home = client.get("/").get_data(as_text=True)
    assert "1 条未读" in home
    message = session.scalar(select(Message))
    detail = client.get(f"/notify/inbox/{message.id}").get_data(as_text=True)
    assert "¥250.00" in detail
    assert "没有未读消息" in client.get("/notify/inbox").get_data(as_text=True)


def test_another_owners_message_is_404(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    queue(session, world)
    _deliver(session)
    other = factories.make_user(session, role="owner")
    session.commit()
    _login(client, other)
    message = session.scalar(select(Message))
    assert client.get(f"/notify/inbox/{message.id}").status_code == 404
    assert message.read_at is None


def test_owner_changes_how_they_hear(
    client: FlaskClient, session: Session, configured: Flask
) -> None:
    world = make_world(session)
    session.commit()
    _login(client, world.owner)
    assert "通知设置" in client.get("/notify/settings").get_data(as_text=True)
    response = client.post(
        "/notify/settings",
        data={
            "phone": "139 0000 1111",
            "email": "wang@example.com",
            "wechat_openid": "",
            "language": "en",
            "money_channels": ["email"],
            "service_channels": ["sms"],
            "notice_opted_out": "y",
        },
    )
    assert response.status_code == 302
    session.expire_all()
    assert world.owner.phone == "13900001111"
    prefs = service.preferences(session, world.owner)
    assert prefs["money"].channels == ("email",)
    assert prefs["notice"].opted_out
    assert {m.channel for m in queue(session, world)} == {"inbox", "email"}


def test_opting_out_of_written_notices_is_refused(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    session.commit()
    _login(client, world.owner)
    response = client.post(
        "/notify/settings", data={"phone": "13812341234", "language": "zh", "legal_opted_out": "y"}
    )
    assert response.status_code == 200
    assert "不能退订" in response.get_data(as_text=True)
    assert session.scalar(select(Preference)) is None


def test_bad_phone_rerenders_with_the_message(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    session.commit()
    _login(client, world.owner)
    response = client.post("/notify/settings", data={"phone": "12345", "language": "zh"})
    assert "请输入 11 位手机号码" in response.get_data(as_text=True)
    session.expire_all()
    assert world.owner.phone == "13812341234"


def test_staff_outbox_is_scoped_and_masks_phones(
    client: FlaskClient, session: Session, configured: Flask, login_as: Callable[..., Any]
) -> None:
    world = make_world(session)
    queue(session, world)
    session.commit()
    outsider_world = make_world(session)
    session.commit()
    login_as("cs", community=world.community)
    page = client.get(f"/notify/staff/{world.community.code}/outbox").get_data(as_text=True)
    assert "138****1234" in page
    assert "13812341234" not in page
    assert client.get(f"/notify/staff/{outsider_world.community.code}/outbox").status_code == 404
    filtered = client.get(
        f"/notify/staff/{world.community.code}/outbox?channel=sms&status=queued"
    ).get_data(as_text=True)
    assert "共 1 条" in filtered
    other = session.scalar(select(Message).where(Message.channel == "sms"))
    assert client.get(f"/notify/staff/messages/{other.id}").status_code == 200


def test_staff_of_another_community_cannot_see_or_resend(
    client: FlaskClient, session: Session, login_as: Callable[..., Any]
) -> None:
    world = make_world(session, phone=None)
    message = queue(session, world, channels=["sms"])[0]
    session.commit()
    login_as("cs")
    assert client.get(f"/notify/staff/messages/{message.id}").status_code == 404
    assert client.post(f"/notify/staff/messages/{message.id}/resend").status_code == 404


def test_owner_cannot_open_the_outbox(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    session.commit()
    _login(client, world.owner)
    assert client.get(f"/notify/staff/{world.community.code}/outbox").status_code == 403


def test_resend_from_the_staff_page_is_audited(
    client: FlaskClient, session: Session, configured: Flask, login_as: Callable[..., Any]
) -> None:
    world = make_world(session, phone=None)
    message = queue(session, world, channels=["sms"])[0]
    world.owner.phone = "13812345678"
    session.commit()
    staff = login_as("cs", community=world.community)
    response = client.post(f"/notify/staff/messages/{message.id}/resend")
    assert response.status_code == 302
    session.expire_all()
    assert message.status == "queued"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "notify.resend"))
    assert entry is not None
    assert entry.actor_id == staff.id


def test_letters_batch_print_and_posting(
    client: FlaskClient, session: Session, login_as: Callable[..., Any]
) -> None:
    world = make_world(session)
    queue(
        session,
        world,
        key="l2:9",
        reason="written_notice",
        category="legal",
        template="written_notice",
        context={"period": "2026-05 – 2026-08", "amount_fen": 100140},
    )
    _deliver(session)
    login_as("cs", community=world.community)
    page = client.get(f"/notify/staff/{world.community.code}/letters").get_data(as_text=True)
    assert world.unit.code in page
    pdf = client.get(f"/notify/staff/{world.community.code}/letters/{world.unit.building_id}.pdf")
    assert pdf.status_code == 200
    assert pdf.data.startswith(b"%PDF")
    letter = session.scalar(select(Message).where(Message.channel == "letter"))
    session.expire_all()
    assert letter.printed_at is not None
    response = client.post(f"/notify/staff/messages/{letter.id}/delivered", data={"how": "posted"})
    assert response.status_code == 302
    session.expire_all()
    assert letter.status == "delivered"
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "notify.letter_delivered"))


def test_letter_pdf_embeds_the_chinese_font() -> None:
    import io
    from datetime import UTC, datetime

    from pypdf import PdfReader

    from portal.notify.letters import Letter, render_letters_pdf

    pdf = render_letters_pdf(
        [
            Letter(
                1,
                "明账花园",
                "王先生",
                "A-1-402",
                "物业服务费催缴通知书",
                "请于 12 月 15 日前缴纳。",
                datetime(2026, 11, 20, 2, tzinfo=UTC),
            )
        ]
    )
    reader = PdfReader(io.BytesIO(pdf))
    fonts = {
        str(font["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].get_object().values()
    }
    assert all("NotoSansSC" in f for f in fonts), fonts  # embedded subsets, no Helvetica
    assert "催缴通知书" in reader.pages[0].extract_text()


def test_template_new_version_preview_and_unknown_placeholder(
    client: FlaskClient, session: Session, login_as: Callable[..., Any]
) -> None:
    world = make_world(session)
    session.commit()
    login_as("manager", community=world.community)
    page = client.get("/notify/staff/templates/due_soon").get_data(as_text=True)
    assert "{amount}" in page
    choice = f"{world.unit.id}:{world.owner.id}"
    form = {
        "subject_zh": "缴费提醒",
        "body_zh": "尊敬的{name}业主，{unit} 物业费 {amount} 将于 {due_date} 到期。",
        "subject_en": "Reminder",
        "body_en": "Dear {name}, {amount} is due on {due_date}.",
        "preview_unit": choice,
    }
    preview = client.post("/notify/staff/templates/due_soon", data={**form, "action": "preview"})
    text = preview.get_data(as_text=True)
    assert "尊敬的王先生业主" in text
    assert world.unit.code in text
    assert session.scalar(select(MessageTemplate)) is None
    bad = client.post(
        "/notify/staff/templates/due_soon",
        data={**form, "body_zh": "请缴纳 {amout}", "action": "save"},
    )
    assert "未知的占位符" in bad.get_data(as_text=True)
    assert session.scalar(select(MessageTemplate)) is None
    saved = client.post("/notify/staff/templates/due_soon", data={**form, "action": "save"})
    assert saved.status_code == 302
    assert session.scalar(select(MessageTemplate)).version == 1


def test_cs_may_preview_but_not_save_templates(
    client: FlaskClient, session: Session, login_as: Callable[..., Any]
) -> None:
    login_as("cs")
    form = {"subject_zh": "a", "body_zh": "b", "subject_en": "c", "body_en": "d", "action": "save"}
    assert client.post("/notify/staff/templates/due_soon", data=form).status_code == 403
    assert client.get("/notify/staff/templates/nope").status_code == 404


def test_api_inbox(client: FlaskClient, session: Session) -> None:
    world = make_world(session)
    queue(session, world)
    _deliver(session)
    token = accounts.issue_token(
        session, user=world.owner, now=SHANGHAI_1030, ttl=__import__("datetime").timedelta(hours=1)
    ).token
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    data = client.get("/api/v1/me/messages", headers=headers).json
    assert set(data["messages"][0]) >= {"id", "reason", "text", "created_at", "read"}
    assert data["messages"][0]["reason"] == "bill_issued"
    assert data["messages"][0]["read"] is False
    message_id = data["messages"][0]["id"]
    assert client.post(f"/api/v1/me/messages/{message_id}/read", headers=headers).json["read"]
    assert client.get("/api/v1/me/messages").status_code == 401
    other = factories.make_user(session, role="owner")
    other_token = accounts.issue_token(
        session, user=other, now=SHANGHAI_1030, ttl=__import__("datetime").timedelta(hours=1)
    ).token
    session.commit()
    other_headers = {"Authorization": f"Bearer {other_token}"}
    assert client.get("/api/v1/me/messages", headers=other_headers).json["messages"] == []
    assert (
        client.post(f"/api/v1/me/messages/{message_id}/read", headers=other_headers).status_code
        == 404
    )
