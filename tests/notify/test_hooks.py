"""The first users of the outbox: each domain queues its own messages through notify."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing import runs as billing
from portal.billing.models import Bill
from portal.disputes import decisions, intake
from portal.notices import service as notices
from portal.notify.models import Message
from portal.payments import autodebit as payments
from portal.tickets import workflow as tickets
from tests import factories
from tests.disputes.helpers import make_world as dispute_world
from tests.factories import NOW
from tests.tickets.util import make_ticket
from tests.tickets.util import make_world as ticket_world


def _messages(session: Session, reason: str) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.reason == reason)))


def test_billing_run_queues_bill_issued_once_per_owner(session: Session) -> None:
    community = factories.make_community(session, code="BILL1")
    factories.make_standard(session, community=community, rate="2.50")
    unit = factories.make_unit(session, community=community, area_m2=Decimal("100.00"))
    owner = factories.make_user(session, role="owner", unit=unit, display_name="李女士")
    factories.make_unit(session, community=community)  # no owner: nobody to tell
    period = billing.period_start("2026-11")
    billing.generate_bills(session, community=community, period=period, now=NOW)
    billing.generate_bills(session, community=community, period=period, now=NOW)
    inbox = _messages(session, "bill_issued")
    assert [(m.recipient_id, m.channel) for m in inbox] == [(owner.id, "inbox")]
    text = inbox[0].text
    assert "2026年11月" in text
    assert "¥250.00" in text
    bill = session.scalar(select(Bill).where(Bill.unit_id == unit.id))
    assert f"http://127.0.0.1:5000/bills/{bill.id}" in text
    assert bill.due_date.isoformat() in text
    assert "http://127.0.0.1:5000/c/BILL1/spending" in text
    assert "10月" in text  # what the fees paid for last month


def test_announce_false_queues_nothing(session: Session) -> None:
    unit, _ = factories.make_billed_unit(session)
    factories.make_user(session, role="owner", unit=unit)
    billing.generate_bills(
        session,
        community=unit.community,
        period=billing.period_start("2026-12"),
        now=NOW,
        announce=False,
    )
    assert _messages(session, "bill_issued") == []


def test_due_soon_job_is_idempotent(session: Session, runner: FlaskCliRunner) -> None:
    unit, bills = factories.make_billed_unit(session, periods=("2026-11",))
    factories.make_user(session, role="owner", unit=unit)
    session.commit()
    day = bills[0].due_date - timedelta(days=3)
    for _ in range(2):
        result = runner.invoke(args=["notify", "due-soon", "--date", day.isoformat()])
        assert result.exit_code == 0, result.output
        assert "due_soon" in result.output
    assert len(_messages(session, "due_soon")) == 1
    other_day = runner.invoke(
        args=["notify", "due-soon", "--date", (day - timedelta(1)).isoformat()]
    )
    assert "0 messages" in other_day.output


def test_autodebit_success_and_over_cap(session: Session) -> None:
    unit, _bills = factories.make_billed_unit(session, periods=("2026-11",))
    owner = factories.make_user(session, role="owner", unit=unit)
    payments.set_mandate(
        session,
        user=owner,
        unit=unit,
        max_amount_fen=30_000,
        bank_account="6222021234567890",
        now=NOW,
    )
    count = payments.debit_due_bills(
        session, community=unit.community, on=date(2026, 11, 30), now=NOW
    )
    assert count == 1
    [ok] = _messages(session, "autodebit_succeeded")
    assert "¥250.00" in ok.text
    assert "7890" in ok.text
    assert ok.category == "service"
    unit2, _ = factories.make_billed_unit(
        session, community=unit.community, area_m2=Decimal("200.00"), periods=("2026-11",)
    )
    owner2 = factories.make_user(session, role="owner", unit=unit2)
    payments.set_mandate(
        session,
        user=owner2,
        unit=unit2,
        max_amount_fen=10_000,
        bank_account="6222021234560000",
        now=NOW,
    )
    payments.debit_due_bills(session, community=unit.community, on=date(2026, 11, 30), now=NOW)
    payments.debit_due_bills(session, community=unit.community, on=date(2026, 11, 30), now=NOW)
    [failed] = _messages(session, "autodebit_failed")
    assert failed.recipient_id == owner2.id
    assert "¥100.00" in failed.text
    assert len(_messages(session, "autodebit_succeeded")) == 1


def test_outage_notice_reaches_only_its_building(session: Session) -> None:
    community = factories.make_community(session)
    b1 = factories.make_building(session, community=community)
    b2 = factories.make_building(session, community=community)
    inside = factories.make_user(
        session, role="owner", unit=factories.make_unit(session, building=b1)
    )
    factories.make_user(session, role="owner", unit=factories.make_unit(session, building=b2))
    cs = factories.make_user(session, role="cs", community=community)
    starts = NOW + timedelta(days=2)
    notice = notices.create_notice(
        session,
        community=community,
        data=notices.NoticeInput(
            category="outage",
            title="A区停水检修",
            body="二次供水水箱清洗。",
            outage_type="water",
            outage_starts_at=starts,
            outage_ends_at=starts + timedelta(hours=6),
            building_ids=(b1.id,),
        ),
        actor=cs,
        now=NOW,
    )
    notices.publish_notice(session, notice=notice, actor=cs, now=NOW)
    sent = _messages(session, "notice_published")
    assert [m.recipient_id for m in sent] == [inside.id]
    assert "A区停水检修" in sent[0].text
    assert "时间：" in sent[0].text


def test_ticket_acknowledged_assigned_resolved(session: Session) -> None:
    world = ticket_world(session)
    ticket = make_ticket(session, world)
    tickets.acknowledge(session, ticket=ticket, actor=world.cs, now=NOW)
    tickets.assign(session, ticket=ticket, actor=world.cs, assignee=world.engineer, now=NOW)
    tickets.resolve(session, ticket=ticket, actor=world.engineer, now=NOW, note="已更换阀门")
    texts = [m.text for m in _messages(session, "ticket_updated")]
    assert len(texts) == 3
    assert all(m.recipient_id == world.owner.id for m in _messages(session, "ticket_updated"))
    assert "已受理" in texts[0]
    assert "已派单" in texts[1]
    assert "已更换阀门" in texts[2]


def test_dispute_answered(session: Session) -> None:
    world = dispute_world(session)
    dispute = intake.open_dispute(
        session,
        owner=world.owner,
        target_type="bill_line",
        target_id=world.line(0).id,
        reason="wrong_area",
        statement="房产证面积 95.00㎡，账单按 100㎡ 计。",
        requested_outcome="credit",
        requested_amount_fen=1_250,
        now=NOW,
    )
    decisions.acknowledge(session, dispute=dispute, actor=world.cs, now=NOW, message="已收到")
    decisions.start_review(session, dispute=dispute, actor=world.cs, now=NOW)
    decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="面积核实有误，减免差额",
        amount_fen=1_250,
        now=NOW,
    )
    [answered] = _messages(session, "dispute_answered")
    assert answered.recipient_id == world.owner.id
    assert "面积核实有误" in answered.text
    assert f"/disputes/{dispute.id}" in answered.text


def test_bill_messages_of_a_fully_disputed_bill_are_suppressed(session: Session) -> None:
    """A due-soon reminder for a bill whose whole amount is on hold is recorded, not sent."""
    world = dispute_world(session, periods=("2026-11",))
    bill = world.bills[0]
    for line in bill.lines:
        intake.open_dispute(
            session,
            owner=world.owner,
            target_type="bill_line",
            target_id=line.id,
            reason="wrong_area",
            statement="面积有误，请核实后再收取。",
            requested_outcome="credit",
            requested_amount_fen=line.outstanding_fen,
            now=NOW,
        )
    from portal.billing.messages import queue_due_soon

    queue_due_soon(
        session, bill.due_date - timedelta(days=3), datetime(2026, 11, 20, 2, tzinfo=UTC)
    )
    mine = [m for m in _messages(session, "due_soon") if m.recipient_id == world.owner.id]
    assert mine
    assert {(m.status, m.suppressed_reason) for m in mine} == {("suppressed", "disputed")}
