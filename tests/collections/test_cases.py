"""A person's steps on a case: reasons, contacts, escalation, tasks, plans — and every bad input
refused with a clear message and nothing written."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing.models import Bill
from portal.collections import cases, plans
from portal.collections.models import CollectionTask, TaskKind, TaskStatus, Tier
from portal.disputes import intake
from portal.errors import DomainError
from portal.notify.models import Message
from portal.tickets import intake as tickets_intake
from portal.tickets import setup as tickets_setup
from tests.collections.helpers import (
    case_of,
    enable_late_fees,
    jpeg_bytes,
    make_world,
    pay,
    run,
    snapshot,
)
from tests.factories import NOW

DAY = date(2026, 11, 20)


def _case_at(session: Session, world, tier: str = "L1"):
    run(session, DAY)
    case = case_of(session, world.unit)
    assert case.tier == "L1"
    return case


def _deliver_l2(session: Session, world, case) -> None:
    cases.escalate_case(session, case=case, actor=world.collector, tier="L2", now=NOW)
    cases.log_contact(
        session,
        case=case,
        actor=world.collector,
        channel="letter",
        outcome="delivered",
        at=NOW,
        now=NOW,
        mail_number="XA123456789CN",
    )
    session.commit()


def refused(session: Session, code: str | None, call, *args, **kwargs) -> DomainError:
    before = snapshot(session)
    with pytest.raises(DomainError) as info:
        call(*args, **kwargs)
    session.rollback()
    assert info.value.message
    if code:
        assert info.value.code == code, info.value.message
    assert snapshot(session) == before
    return info.value


def test_escalating_past_a_missing_tier_is_refused(session: Session) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    refused(
        session,
        "tier_skipped",
        cases.escalate_case,
        session,
        case=case,
        actor=world.collector,
        tier="L3",
        now=NOW,
    )


def test_l3_needs_a_delivered_l2_notice(session: Session) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    cases.escalate_case(session, case=case, actor=world.collector, tier="L2", now=NOW)
    session.commit()
    error = refused(
        session,
        "tier_skipped",
        cases.escalate_case,
        session,
        case=case,
        actor=world.collector,
        tier="L3",
        now=NOW,
    )
    assert "送达" in error.message
    _deliver_l2_only(session, world, case)
    cases.escalate_case(session, case=case, actor=world.collector, tier="L3", now=NOW)
    assert case.tier == "L3"


def _deliver_l2_only(session: Session, world, case) -> None:
    cases.log_contact(
        session,
        case=case,
        actor=world.collector,
        channel="letter",
        outcome="delivered",
        at=NOW,
        now=NOW,
        mail_number="XA123456789CN",
    )
    session.commit()


def test_l4_needs_an_l3_talk_and_a_manager(session: Session) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    _deliver_l2(session, world, case)
    cases.escalate_case(session, case=case, actor=world.collector, tier="L3", now=NOW)
    session.commit()
    refused(
        session,
        "tier_skipped",
        cases.escalate_case,
        session,
        case=case,
        actor=world.manager,
        tier="L4",
        now=NOW,
    )
    cases.log_contact(
        session,
        case=case,
        actor=world.collector,
        channel="visit",
        outcome="refused",
        refusal_reason="认为物业费太贵",
        at=NOW,
        now=NOW,
        second_staff_id=world.collector2.id,
    )
    session.commit()
    refused(
        session,
        "needs_approval",
        cases.escalate_case,
        session,
        case=case,
        actor=world.collector,
        tier="L4",
        now=NOW,
    )
    cases.escalate_case(session, case=case, actor=world.manager, tier="L4", now=NOW)
    assert case.tier == "L4"


def test_a_visit_needs_two_staff(session: Session) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    refused(
        session,
        None,
        cases.log_contact,
        session,
        case=case,
        actor=world.collector,
        channel="visit",
        outcome="no_answer",
        at=NOW,
        now=NOW,
    )
    refused(
        session,
        None,
        cases.log_contact,
        session,
        case=case,
        actor=world.collector,
        channel="visit",
        outcome="no_answer",
        at=NOW,
        now=NOW,
        second_staff_id=world.owner.id,
    )


def test_a_promise_date_in_the_past_is_refused(session: Session) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    refused(
        session,
        "promise_in_past",
        cases.log_contact,
        session,
        case=case,
        actor=world.collector,
        channel="phone",
        outcome="promised",
        at=NOW,
        now=NOW,
        promised_on=DAY - timedelta(days=1),
    )


def test_a_planned_call_in_quiet_hours_is_refused_and_a_late_one_flagged(
    session: Session,
) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    night = datetime(2026, 11, 20, 14, 30, tzinfo=NOW.tzinfo)  # 22:30 in Shanghai
    refused(
        session,
        "quiet_hours",
        cases.log_contact,
        session,
        case=case,
        actor=world.collector,
        channel="phone",
        outcome="no_answer",
        at=night,
        now=night,
        planned=True,
    )
    contact = cases.log_contact(
        session,
        case=case,
        actor=world.collector,
        channel="phone",
        outcome="no_answer",
        at=night,
        now=night + timedelta(minutes=10),
    )
    assert contact.flagged
    assert contact.flag_reason == "quiet_hours"


def test_posted_notice_needs_a_photo(session: Session) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    cases.escalate_case(session, case=case, actor=world.collector, tier="L2", now=NOW)
    session.commit()
    refused(
        session,
        None,
        cases.log_contact,
        session,
        case=case,
        actor=world.collector,
        channel="posted",
        outcome="delivered",
        at=NOW,
        now=NOW,
    )
    contact = cases.log_contact(
        session,
        case=case,
        actor=world.collector,
        channel="posted",
        outcome="delivered",
        at=NOW,
        now=NOW,
        proof=cases.Proof(jpeg_bytes(), "门上张贴.jpg"),
    )
    assert contact.notice_delivered
    assert contact.proof_file_id


def test_a_promise_pauses_until_the_date_then_asks_for_a_call(session: Session) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    cases.log_contact(
        session,
        case=case,
        actor=world.collector,
        channel="phone",
        outcome="promised",
        at=NOW,
        now=NOW,
        promised_on=date(2026, 12, 5),
    )
    session.commit()
    run(session, date(2026, 12, 1))
    assert case_of(session, world.unit).status == "paused"
    assert not session.scalars(
        select(CollectionTask).where(CollectionTask.case_id == case.id)
    ).all()
    run(session, date(2026, 12, 6))
    kinds = {
        t.kind
        for t in session.scalars(select(CollectionTask).where(CollectionTask.case_id == case.id))
    }
    assert TaskKind.PROMISE_DUE in kinds
    assert case_of(session, world.unit).status == "open"


def test_override_of_the_suggested_reason_needs_a_note_and_is_kept(session: Session) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    assert case.suggested_reason == "forgot"
    refused(
        session,
        "note_required",
        cases.confirm_reason,
        session,
        case=case,
        actor=world.collector,
        reason="wilful",
        note="",
        now=NOW,
    )
    cases.confirm_reason(
        session,
        case=case,
        actor=world.collector,
        reason="wilful",
        note="电话中明确表示不交",
        now=NOW,
    )
    assert case.reason == "wilful"
    assert case.suggested_reason == "forgot"


def _overdue_repair(session: Session, world) -> None:
    tickets_setup.ensure_categories(session, world.community)
    tickets_intake.create_ticket(
        session,
        community=world.community,
        actor=world.owner,
        now=NOW - timedelta(days=20),
        category_code="plumbing_electric",
        description="卫生间漏水到楼下，一直没人来修",
        unit=world.unit,
    )
    session.commit()


def test_dissatisfied_owner_gets_service_recovery_and_no_l2(session: Session) -> None:
    world = make_world(session)
    _overdue_repair(session, world)
    run(session, DAY)
    case = case_of(session, world.unit)
    assert case.suggested_reason == "dissatisfied"
    assert any(e["signal"] == "overdue_ticket" for e in case.evidence)
    run(session, date(2026, 12, 1))
    tasks = session.scalars(select(CollectionTask).where(CollectionTask.case_id == case.id)).all()
    assert [t.kind for t in tasks] == [TaskKind.SERVICE_RECOVERY]
    assert "漏水" in tasks[0].title
    refused(
        session,
        "service_recovery_pending",
        cases.escalate_case,
        session,
        case=case,
        actor=world.manager,
        tier="L2",
        now=NOW,
    )
    assert cases.next_action(session, case=case, day=date(2026, 12, 1))["kind"] == (
        "service_recovery"
    )
    cases.complete_task(session, task=tasks[0], actor=world.cs, note="已更换防水层", now=NOW)
    session.commit()
    run(session, date(2026, 12, 2))
    assert case_of(session, world.unit).tier == "L1"
    kinds = {
        t.kind
        for t in session.scalars(
            select(CollectionTask).where(
                CollectionTask.case_id == case.id, CollectionTask.status == TaskStatus.PROPOSED
            )
        )
    }
    assert kinds == {TaskKind.ESCALATE}


def test_open_service_dispute_keeps_the_case_at_l1(session: Session) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    intake.open_dispute(
        session,
        owner=world.owner,
        target_type="service",
        target_id=None,
        reason="service_quality",
        statement="电梯三个月坏了五次",
        now=NOW,
    )
    session.commit()
    refused(
        session,
        "dispute_open",
        cases.escalate_case,
        session,
        case=case,
        actor=world.manager,
        tier="L2",
        now=NOW,
    )
    run(session, date(2026, 12, 10))
    assert not session.scalars(
        select(CollectionTask).where(
            CollectionTask.case_id == case.id, CollectionTask.kind == TaskKind.ESCALATE
        )
    ).all()


def test_hold_pauses_everything_but_aging(session: Session) -> None:
    world = make_world(session)
    cases.place_hold(
        session,
        community=world.community,
        actor=world.manager,
        reason="电梯更换期间暂停催缴",
        starts_on=DAY,
        ends_on=None,
        now=NOW,
    )
    session.commit()
    run(session, DAY)
    case = case_of(session, world.unit)
    assert case.status == "paused"
    assert case.tier == Tier.NONE
    assert case.overdue_fen == 100000
    refused(
        session,
        None,
        cases.place_hold,
        session,
        community=world.community,
        actor=world.collector,
        reason="x",
        starts_on=DAY,
        ends_on=None,
        now=NOW,
    )


def test_plan_that_does_not_add_up_or_goes_backwards_is_refused(session: Session) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    refused(
        session,
        "sum_mismatch",
        plans.propose_plan,
        session,
        case=case,
        actor=world.collector,
        instalments=[
            {"due_on": "2026-12-01", "amount_fen": 50000},
            {"due_on": "2027-01-01", "amount_fen": 40000},
        ],
        now=NOW,
    )
    refused(
        session,
        "dates_not_ascending",
        plans.propose_plan,
        session,
        case=case,
        actor=world.collector,
        instalments=[
            {"due_on": "2027-01-01", "amount_fen": 50000},
            {"due_on": "2026-12-01", "amount_fen": 50000},
        ],
        now=NOW,
    )
    refused(
        session,
        "date_in_past",
        plans.propose_plan,
        session,
        case=case,
        actor=world.collector,
        instalments=[
            {"due_on": "2026-11-01", "amount_fen": 100000},
        ],
        now=NOW,
    )


def test_plan_accepted_pauses_and_a_missed_instalment_reopens(session: Session) -> None:
    world = make_world(session)
    case = _case_at(session, world)
    plan = plans.propose_plan(
        session,
        case=case,
        actor=world.collector,
        now=NOW,
        down_payment_fen=20000,
        instalments=[
            {"due_on": "2026-12-20", "amount_fen": 40000},
            {"due_on": "2027-01-20", "amount_fen": 40000},
        ],
    )
    session.commit()
    told = session.scalars(
        select(Message).where(Message.reason == "plan_proposed", Message.related_id == plan.id)
    ).all()
    assert {m.recipient_id for m in told} == {world.owner.id}
    inbox = next(m for m in told if m.channel == "inbox")
    assert "共 ¥1,000.00，分 3 期" in inbox.text
    assert "/collections/my-plans" in inbox.text
    assert plans.get_owned_plan(session, owner=world.other_owner, plan_id=plan.id) is None
    plans.accept_plan(session, plan=plan, owner=world.owner, now=NOW)
    session.commit()
    pay(session, world, world.unit, 20000, "DP1")
    run(session, date(2026, 12, 1))
    assert case_of(session, world.unit).status == "paused"
    pay(session, world, world.unit, 40000, "I1", now=NOW + timedelta(days=25))
    run(session, date(2026, 12, 21))
    assert case_of(session, world.unit).status == "paused"
    run(session, date(2027, 1, 21))
    case = case_of(session, world.unit)
    assert case.status == "open"
    session.refresh(plan)
    assert plan.status == "broken"
    assert [i.paid_fen for i in plan.instalments] == [20000, 40000, 0]


def test_no_late_fee_accrues_on_the_planned_amount(session: Session) -> None:
    from portal.billing import late_fees
    from portal.billing.models import BillLine, LineKind

    world = make_world(session)
    case = _case_at(session, world)
    plan = plans.propose_plan(
        session,
        case=case,
        actor=world.collector,
        now=NOW,
        instalments=[
            {"due_on": "2026-12-20", "amount_fen": 50000},
            {"due_on": "2027-01-20", "amount_fen": 50000},
        ],
    )
    plans.accept_plan(session, plan=plan, owner=world.owner, now=NOW)
    enable_late_fees(session, world)
    late_fees.assess_late_fees(session, community=world.community, on=date(2026, 11, 30), now=NOW)
    fee_units = set(
        session.scalars(
            select(Bill.unit_id)
            .join(BillLine, BillLine.bill_id == Bill.id)
            .where(BillLine.kind == LineKind.LATE_FEE)
        )
    )
    assert world.other_unit.id in fee_units
    assert world.unit.id not in fee_units
