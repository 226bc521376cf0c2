"""Queuing, the policy at queue and send time, retries, fallback, receipts, the inbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry
from portal.billing.models import Bill
from portal.errors import DomainError
from portal.notify import inbox as notify_inbox
from portal.notify import outbox as notify_outbox
from portal.notify import sending as notify_sending
from portal.notify import service
from portal.notify import templates as tpl
from portal.notify.models import ContactAttempt, Message, MessageStatus
from tests import factories
from tests.notify.helpers import (
    SHANGHAI_1030,
    SHANGHAI_2230,
    FakeChannel,
    by_channel,
    channels,
    make_world,
    queue,
)


def _send(session: Session, now: datetime, **fakes: FakeChannel) -> notify_sending.SendReport:
    return notify_sending.send_due(
        session, now=now, channels=channels(**fakes), commit=session.flush
    )


def _count(session: Session) -> int:
    return session.scalar(select(func.count(Message.id))) or 0


def test_default_channels_are_inbox_and_sms_for_money(session: Session, configured: Flask) -> None:
    world = make_world(session)
    messages = by_channel(queue(session, world))
    assert set(messages) == {"inbox", "sms"}
    assert messages["sms"].address == "13812341234"
    assert "王先生" in messages["inbox"].text
    assert "¥250.00" in messages["inbox"].text
    assert messages["inbox"].status == MessageStatus.QUEUED


def test_wechat_replaces_sms_when_bound(session: Session, configured: Flask) -> None:
    world = make_world(session, wechat_openid="oABCDEF12345")
    assert set(by_channel(queue(session, world))) == {"inbox", "wechat"}


def test_unconfigured_channels_are_not_chosen(session: Session) -> None:
    world = make_world(session)
    assert set(by_channel(queue(session, world))) == {"inbox"}


def test_queue_is_idempotent(session: Session, configured: Flask) -> None:
    world = make_world(session)
    first = queue(session, world)
    again = queue(session, world)
    assert [m.id for m in first] == [m.id for m in again]
    assert _count(session) == 2


def test_unit_outside_the_community_is_refused_and_writes_nothing(session: Session) -> None:
    world = make_world(session)
    other = factories.make_community(session)
    with pytest.raises(DomainError) as caught:
        service.queue_message(
            session,
            event_key="x",
            recipient=world.owner,
            community_id=other.id,
            unit_id=world.unit.id,
            reason="bill_issued",
            category="money",
            template_key="bill_issued",
            context={},
            now=SHANGHAI_1030,
        )
    assert caught.value.code == "unit_not_in_community"
    assert _count(session) == 0


def test_money_message_to_someone_not_owning_the_unit_is_refused(session: Session) -> None:
    world = make_world(session)
    stranger = factories.make_user(session, role="owner")
    with pytest.raises(DomainError) as caught:
        service.queue_message(
            session,
            event_key="x",
            recipient=stranger,
            community_id=world.community.id,
            unit_id=world.unit.id,
            reason="bill_issued",
            category="money",
            template_key="bill_issued",
            context={},
            now=SHANGHAI_1030,
        )
    assert caught.value.code == "not_owner_of_unit"
    assert _count(session) == 0


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("reason", "shouting", "unknown_reason"),
        ("category", "spam", "unknown_category"),
        ("template_key", "nope", "unknown_template"),
        ("event_key", "", "bad_event_key"),
    ],
)
def test_bad_arguments_are_refused(session: Session, field: str, value: str, code: str) -> None:
    world = make_world(session)
    args = {
        "event_key": "k",
        "reason": "bill_issued",
        "category": "money",
        "template_key": "bill_issued",
        field: value,
    }
    with pytest.raises(DomainError) as caught:
        service.queue_message(
            session,
            recipient=world.owner,
            community_id=world.community.id,
            unit_id=world.unit.id,
            context={},
            now=SHANGHAI_1030,
            **args,
        )
    assert caught.value.code == code
    assert _count(session) == 0


def test_no_phone_is_a_recorded_suppression(session: Session, configured: Flask) -> None:
    world = make_world(session, phone=None)
    sms = by_channel(queue(session, world, channels=["inbox", "sms"]))["sms"]
    assert (sms.status, sms.suppressed_reason) == ("suppressed", "no_address")


def test_explicit_channel_opted_out_is_suppressed(session: Session, configured: Flask) -> None:
    world = make_world(session)
    service.set_preferences(
        session, user=world.owner, choices={"money": ([], True)}, now=SHANGHAI_1030
    )
    assert set(by_channel(queue(session, world))) == {"inbox"}
    sms = by_channel(queue(session, world, key="other", channels=["inbox", "sms"]))["sms"]
    assert (sms.status, sms.suppressed_reason) == ("suppressed", "opted_out")


def test_written_notice_cannot_be_opted_out_of(session: Session) -> None:
    world = make_world(session)
    with pytest.raises(DomainError) as caught:
        service.set_preferences(
            session, user=world.owner, choices={"legal": ([], True)}, now=SHANGHAI_1030
        )
    assert caught.value.code == "required_by_law"
    assert not service.preferences(session, world.owner)["legal"].opted_out
    letters = by_channel(
        queue(
            session,
            world,
            key="l2:1",
            reason="written_notice",
            category="legal",
            template="written_notice",
        )
    )
    assert set(letters) == {"inbox", "letter"}


def test_disputed_amount_is_suppressed_not_dropped(session: Session, configured: Flask) -> None:
    world = make_world(session)
    messages = queue(session, world, amount_fen=0, held_fen=25000)
    assert {m.status for m in messages} == {"suppressed"}
    assert {m.suppressed_reason for m in messages} == {"disputed"}


def test_suppress_pending_when_a_hold_is_placed(session: Session, configured: Flask) -> None:
    world = make_world(session)
    queue(session, world)
    queue(
        session,
        world,
        key="svc",
        reason="ticket_updated",
        category="service",
        template="ticket_updated",
        amount_fen=None,
    )
    changed = service.suppress_pending(session, unit_id=world.unit.id, now=SHANGHAI_1030)
    assert changed == 2
    rows = session.scalars(select(Message)).all()
    assert {(m.category, m.status) for m in rows} == {
        ("money", "suppressed"),
        ("service", "queued"),
    }
    assert _send(session, SHANGHAI_1030).outcomes["delivered"] == 1  # only the service one


def test_a_run_at_2230_sends_nothing_and_defers_to_0800(
    session: Session, configured: Flask
) -> None:
    world = make_world(session)
    queue(session, world, now=SHANGHAI_2230)
    sms = FakeChannel("sms")
    report = _send(session, SHANGHAI_2230, sms=sms)
    assert report.outcomes.get("delivered", 0) == 0
    assert sms.sent == []
    eight = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    rows = session.scalars(select(Message)).all()
    assert {(m.status, m.defer_reason, m.not_before) for m in rows} == {
        ("deferred", "quiet_hours", eight)
    }
    assert _send(session, eight - timedelta(minutes=1), sms=sms).outcomes == {}
    report = _send(session, eight, sms=sms)
    assert report.outcomes == {"delivered": 1, "sent": 1}
    assert len(sms.sent) == 1


def test_retries_back_off_then_sms_falls_back_to_inbox(session: Session, configured: Flask) -> None:
    world = make_world(session)
    queue(session, world, channels=["sms"])
    sms = FakeChannel("sms", fail=99)
    now = SHANGHAI_1030
    assert _send(session, now, sms=sms).outcomes == {"retry": 1}
    message = session.scalar(select(Message).where(Message.channel == "sms"))
    assert message.not_before == now + timedelta(minutes=5)
    assert message.attempts == 1
    assert _send(session, now + timedelta(minutes=4), sms=sms).outcomes == {}
    assert _send(session, now + timedelta(minutes=5), sms=sms).outcomes == {"retry": 1}
    session.refresh(message)
    assert message.not_before == now + timedelta(minutes=15)  # 5 then 10 minutes
    report = _send(session, now + timedelta(minutes=15), sms=sms)
    assert report.outcomes == {"failed": 1, "delivered": 1}  # the inbox copy
    session.refresh(message)
    assert (message.status, message.attempts) == ("failed", 3)
    inbox = session.scalar(select(Message).where(Message.channel == "inbox"))
    assert inbox.fallback_of_id == message.id
    assert inbox.status == "delivered"
    assert notify_inbox.unread_count(session, world.owner) == 1
    # A failed SMS never reached the owner: it is not a contact attempt.
    assert session.scalar(select(func.count(ContactAttempt.id))) == 0


def test_permanent_failure_is_not_retried(session: Session, configured: Flask) -> None:
    world = make_world(session)
    queue(session, world)
    sms = FakeChannel("sms", fail=1, retryable=False)
    report = _send(session, SHANGHAI_1030, sms=sms)
    assert report.outcomes == {"failed": 1, "delivered": 1}
    assert sms.calls == 1
    # The inbox already had the message: the fallback adds no second copy.
    assert session.scalar(select(func.count(Message.id)).where(Message.channel == "inbox")) == 1


def test_sending_twice_sends_once(session: Session, configured: Flask) -> None:
    world = make_world(session)
    queue(session, world)
    sms = FakeChannel("sms")
    _send(session, SHANGHAI_1030, sms=sms)
    assert _send(session, SHANGHAI_1030, sms=sms).outcomes == {}
    assert len(sms.sent) == 1


def test_channel_cap_defers_a_second_money_sms(session: Session, configured: Flask) -> None:
    world = make_world(session)
    sms = FakeChannel("sms")
    queue(session, world, channels=["sms"])
    _send(session, SHANGHAI_1030, sms=sms)
    later = SHANGHAI_1030 + timedelta(days=1)
    second = queue(
        session,
        world,
        key="due_soon:bill:1",
        reason="due_soon",
        template="due_soon",
        channels=["sms"],
        now=later,
    )[0]
    assert (second.status, second.defer_reason) == ("deferred", "cap_channel")
    assert second.not_before == SHANGHAI_1030 + timedelta(days=3)
    assert _send(session, later, sms=sms).outcomes == {}
    assert _send(session, SHANGHAI_1030 + timedelta(days=3), sms=sms).outcomes == {"sent": 1}


def test_service_messages_are_not_capped(session: Session, configured: Flask) -> None:
    world = make_world(session)
    sms = FakeChannel("sms")
    for n in range(3):
        queue(
            session,
            world,
            key=f"t{n}",
            reason="ticket_updated",
            category="service",
            template="ticket_updated",
            channels=["sms"],
            amount_fen=None,
        )
    assert _send(session, SHANGHAI_1030, sms=sms).outcomes == {"sent": 3}


def test_receipts_set_delivered_or_failed_once(session: Session, configured: Flask) -> None:
    world = make_world(session)
    queue(session, world)
    _send(session, SHANGHAI_1030, sms=FakeChannel("sms"))
    sms = session.scalar(select(Message).where(Message.channel == "sms"))
    got = notify_sending.record_delivery_receipt(
        session,
        channel="sms",
        message_id=sms.id,
        provider_id=sms.provider_id,
        status="delivered",
        now=SHANGHAI_1030,
    )
    assert got.status == "delivered"
    again = notify_sending.record_delivery_receipt(
        session, channel="sms", message_id=sms.id, status="failed", now=SHANGHAI_1030
    )
    assert again.status == "delivered"  # a late contrary receipt changes nothing
    with pytest.raises(DomainError):
        notify_sending.record_delivery_receipt(
            session,
            channel="sms",
            message_id=sms.id,
            provider_id="other",
            status="delivered",
            now=SHANGHAI_1030,
        )
    with pytest.raises(DomainError):
        notify_sending.record_delivery_receipt(
            session, channel="wechat", message_id=sms.id, status="delivered", now=SHANGHAI_1030
        )


def test_failed_receipt_falls_back_to_inbox(session: Session, configured: Flask) -> None:
    world = make_world(session)
    queue(session, world, channels=["sms"])
    _send(session, SHANGHAI_1030, sms=FakeChannel("sms"))
    sms = session.scalar(select(Message).where(Message.channel == "sms"))
    notify_sending.record_delivery_receipt(
        session,
        channel="sms",
        message_id=sms.id,
        status="failed",
        error="号码停机",
        now=SHANGHAI_1030,
    )
    assert sms.status == "failed"
    assert sms.last_error == "号码停机"
    inbox = session.scalar(select(Message).where(Message.channel == "inbox"))
    assert inbox is not None
    assert inbox.fallback_of_id == sms.id


def test_inbox_read_and_unread(session: Session, configured: Flask) -> None:
    world = make_world(session)
    stranger = factories.make_user(session, role="owner")
    queue(session, world)
    queue(session, world, key="second")
    _send(session, SHANGHAI_1030, sms=FakeChannel("sms", fail=0))
    assert notify_inbox.unread_count(session, world.owner) == 2
    page = notify_inbox.inbox(session, world.owner)
    assert page.total == 2
    first = page.items[0]
    assert (
        notify_inbox.mark_read(session, user=stranger, message_id=first.id, now=SHANGHAI_1030)
        is None
    )
    assert notify_inbox.mark_read(session, user=world.owner, message_id=first.id, now=SHANGHAI_1030)
    assert notify_inbox.unread_count(session, world.owner) == 1
    assert notify_inbox.mark_all_read(session, user=world.owner, now=SHANGHAI_1030) == 1
    assert notify_inbox.unread_count(session, world.owner) == 0


def test_resend_after_fixing_the_phone_is_audited(session: Session, configured: Flask) -> None:
    world = make_world(session, phone=None)
    staff = factories.make_user(session, role="cs", community=world.community)
    sms = by_channel(queue(session, world, channels=["sms"]))["sms"]
    assert sms.suppressed_reason == "no_address"
    with pytest.raises(DomainError) as caught:
        notify_outbox.resend(session, message=sms, actor=staff, now=SHANGHAI_1030)
    assert caught.value.code == "no_address"
    service.update_contact(
        session,
        user=world.owner,
        phone="138 1234 5678",
        email="",
        wechat_openid="",
        language="zh",
        now=SHANGHAI_1030,
    )
    notify_outbox.resend(session, message=sms, actor=staff, now=SHANGHAI_1030)
    assert (sms.status, sms.address) == ("queued", "13812345678")
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "notify.resend"))
    fake = FakeChannel("sms")
    assert _send(session, SHANGHAI_1030, sms=fake).outcomes == {"sent": 1}
    with pytest.raises(DomainError):
        notify_outbox.resend(session, message=sms, actor=staff, now=SHANGHAI_1030)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "12345"),
        ("email", "not-an-email"),
        ("wechat_openid", "<script>"),
        ("language", "fr"),
    ],
)
def test_bad_contact_details_are_refused(session: Session, field: str, value: str) -> None:
    world = make_world(session)
    args = {"phone": "", "email": "", "wechat_openid": "", "language": "zh", field: value}
    with pytest.raises(DomainError) as caught:
        service.update_contact(session, user=world.owner, now=SHANGHAI_1030, **args)
    assert caught.value.field == field
    assert world.owner.phone == "13812341234"


def test_english_readers_get_the_english_text(session: Session) -> None:
    world = make_world(session)
    service.update_contact(
        session,
        user=world.owner,
        phone="13812341234",
        email="",
        wechat_openid="",
        language="en",
        now=SHANGHAI_1030,
    )
    inbox = queue(
        session,
        world,
        context={"period": "2026年12月", "period_en": "2026-12", "amount_fen": 25000},
    )[0]
    assert inbox.language == "en"
    assert inbox.text.startswith("Dear 王先生, the 2026-12")


def test_template_with_unknown_placeholder_is_refused(session: Session) -> None:
    manager = factories.make_user(session, role="manager")
    with pytest.raises(DomainError) as caught:
        tpl.save_version(
            session,
            key="due_soon",
            subject_zh="提醒",
            body_zh="请缴纳 {amout}",
            subject_en="Reminder",
            body_en="Please pay {amount}",
            note="",
            actor_id=manager.id,
            now=SHANGHAI_1030,
        )
    assert caught.value.code == "unknown_placeholder"
    assert "{amout}" in caught.value.message
    assert tpl.current(session, "due_soon").version == 0


def test_templates_are_versioned_and_messages_record_the_version(session: Session) -> None:
    manager = factories.make_user(session, role="manager")
    for n in (1, 2):
        tpl.save_version(
            session,
            key="bill_issued",
            subject_zh=f"账单 v{n}",
            body_zh=f"{{name}}，第{n}版",
            subject_en="Bill",
            body_en="{name}",
            note="",
            actor_id=manager.id,
            now=SHANGHAI_1030,
        )
    assert [t.version for t in tpl.history(session, "bill_issued")] == [2, 1]
    world = make_world(session)
    message = queue(session, world)[0]
    assert (message.template_version, message.text) == (2, "王先生，第2版")


def test_missing_context_leaves_no_raw_placeholder() -> None:
    text = tpl.fill("应缴 {amount}，{period}", {"amount_fen": 100}, "zh")
    assert text == "应缴 ¥1.00，"


def test_mask_address() -> None:
    assert service.mask_address("sms", "13812341234") == "138****1234"
    assert service.mask_address("email", "wang@example.com") == "w***@example.com"


def test_naive_instants_are_refused(session: Session) -> None:
    world = make_world(session)
    with pytest.raises(ValueError, match="naive"):
        queue(session, world, now=datetime(2026, 11, 20, 10, 0))  # noqa: DTZ001


def test_utc_constant_is_ten_thirty_shanghai() -> None:
    assert SHANGHAI_1030.astimezone(UTC).hour == 2


def test_a_hold_suppresses_the_reminders_queued_for_its_bill(
    session: Session, configured: Flask
) -> None:
    """Placing a hold (a dispute opens on a line) withdraws what was queued about that bill,
    since it names an amount now under dispute; the other bill's messages stay queued."""
    from portal.billing import holds
    from portal.billing import runs as billing_runs

    world = make_world(session)
    factories.make_standard(session, community=world.community)
    for period in ("2026-10", "2026-11"):
        billing_runs.generate_bills(
            session,
            community=world.community,
            period=billing_runs.period_start(period),
            now=factories.NOW,
        )
    bills = session.scalars(select(Bill).where(Bill.unit_id == world.unit.id)).all()
    assert len(bills) == 2
    pending = session.scalars(select(Message).where(Message.related_type == "bill")).all()
    assert {m.related_id for m in pending} == {b.id for b in bills}
    assert {m.status for m in pending} <= {"queued", "deferred"}

    disputed, _other = bills
    holds.place_hold(
        session,
        line=disputed.lines[0],
        source_type="dispute",
        source_id=1,
        requested_fen=None,
        now=factories.NOW,
    )
    for message in session.scalars(select(Message).where(Message.related_type == "bill")):
        if message.related_id == disputed.id:
            assert (message.status, message.suppressed_reason) == ("suppressed", "disputed")
        else:
            assert message.status in ("queued", "deferred")
