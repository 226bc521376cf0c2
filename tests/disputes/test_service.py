"""Disputes as a service: opening with its checks, the workflow, holds, credits in the ledger."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry
from portal.billing import holds, ledger
from portal.billing import late_fees as billing_late_fees
from portal.billing import queries as billing_queries
from portal.billing.models import FeeStandard, JournalEntry
from portal.disputes import base, decisions, intake, lifecycle, overview
from portal.disputes.models import (
    Dispute,
    DisputeEvent,
    DisputeEvidence,
    DisputeProposal,
    DisputeStatus,
)
from portal.errors import Conflict, DomainError, NotFound, PermissionDenied
from portal.payments import crediting as payments_crediting
from tests import factories
from tests.disputes.helpers import (
    LATER,
    World,
    count,
    make_world,
    other_bill_line,
    png_bytes,
    spending_item,
)
from tests.factories import NOW


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def _open(session: Session, world: World, **kwargs: Any) -> Dispute:
    args: dict[str, Any] = {
        "owner": world.owner,
        "target_type": "bill_line",
        "target_id": world.line(0).id,
        "reason": "wrong_area",
        "statement": "房产证面积 95.00㎡，账单按 100㎡ 计。",
        "requested_outcome": "credit",
        "requested_amount_fen": 1_250,
        "now": NOW,
    }
    args.update(kwargs)
    return intake.open_dispute(session, **args)


def _snapshot(session: Session) -> tuple[int, ...]:
    return tuple(
        count(session, m)
        for m in (Dispute, DisputeEvent, DisputeProposal, DisputeEvidence, JournalEntry)
    )


# ---------------------------------------------------------------- opening


def test_open_on_own_line_puts_requested_amount_on_hold(session: Session, world: World) -> None:
    dispute = _open(session, world)
    assert dispute.status == DisputeStatus.SUBMITTED
    assert dispute.reference == f"D{dispute.id:06d}"
    assert dispute.unit_id == world.unit.id
    # NOW is Friday 2026-11-20 10:00 in Shanghai: 2 and 10 working days later.
    assert dispute.first_response_due_on == date(2026, 11, 24)
    assert dispute.proposal_due_on == date(2026, 12, 4)
    assert holds.held_amounts(session, unit_ids=[world.unit.id]) == {world.line(0).id: 1_250}
    outstanding = sum(b.outstanding_fen for b in world.bills)
    assert holds.collectable_fen(session, unit_id=world.unit.id) == outstanding - 1_250
    assert [e.kind for e in dispute.events] == ["submitted"]


def test_correction_holds_the_whole_line(session: Session, world: World) -> None:
    line = world.line(0)
    _open(session, world, requested_outcome="correction", requested_amount_fen=None)
    assert holds.held_amounts(session, unit_ids=[world.unit.id]) == {line.id: line.outstanding_fen}


def test_explanation_ignores_an_amount_and_holds_the_line(session: Session, world: World) -> None:
    dispute = _open(session, world, requested_outcome="explanation", requested_amount_fen=500)
    assert dispute.requested_amount_fen is None
    assert holds.held_amounts(session, unit_ids=[world.unit.id])[world.line(0).id] == 25_000


def test_evidence_is_stored_and_linked(session: Session, world: World) -> None:
    dispute = _open(session, world, uploads=[base.Upload(png_bytes(), "房产证.png")])
    assert len(dispute.evidence) == 1
    assert dispute.evidence[0].file.content_type == "image/png"


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"target_id": 999_999}, NotFound, "target_id"),
        ({"target_id": "abc"}, DomainError, "target_id"),
        ({"target_type": "parking"}, DomainError, "target_type"),
        ({"reason": "amount_questioned"}, DomainError, "reason"),
        ({"statement": "太贵"}, DomainError, "statement"),
        ({"requested_amount_fen": 25_001}, DomainError, "requested_amount"),
        ({"requested_amount_fen": 0}, DomainError, "requested_amount"),
        ({"requested_amount_fen": -5}, DomainError, "requested_amount"),
        ({"requested_amount_fen": 12.5}, DomainError, "requested_amount"),
        ({"requested_amount_fen": None}, DomainError, "requested_amount"),
        ({"requested_outcome": "refund_everything"}, DomainError, "requested_outcome"),
        (
            {"uploads": [base.Upload(b"<svg onload=alert(1)>", "x.svg")]},
            DomainError,
            "file",
        ),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    session: Session, world: World, change: dict[str, Any], error: type, field: str
) -> None:
    before = _snapshot(session)
    with pytest.raises(error) as caught, session.begin_nested():
        _open(session, world, **change)
    assert caught.value.field == field
    assert _snapshot(session) == before


def test_another_owners_bill_line_is_not_found(session: Session, world: World) -> None:
    before = _snapshot(session)
    with pytest.raises(NotFound):
        _open(session, world, target_id=other_bill_line(session, world).id)
    assert _snapshot(session) == before


def test_requested_credit_above_the_disputed_amount(session: Session, world: World) -> None:
    with pytest.raises(DomainError, match=r"不能超过有异议的金额 250\.00 元") as caught:
        _open(session, world, requested_amount_fen=25_001)
    assert caught.value.code == "amount_exceeds"
    assert count(session, Dispute) == 0


def test_second_open_dispute_on_the_same_line_is_refused(session: Session, world: World) -> None:
    _open(session, world)
    before = _snapshot(session)
    with pytest.raises(Conflict) as caught:
        _open(session, world, reason="wrong_rate")
    assert caught.value.code == "duplicate"
    assert _snapshot(session) == before
    # A co-owner cannot open a parallel one either: one open dispute per line.
    co_owner = factories.make_user(session, role="owner", unit=world.unit)
    with pytest.raises(Conflict):
        _open(session, world, owner=co_owner)


def test_a_closed_dispute_frees_the_line_for_a_new_one(session: Session, world: World) -> None:
    first = _open(session, world)
    lifecycle.withdraw(session, dispute=first, owner=world.owner, now=NOW)
    second = _open(session, world)
    assert second.id != first.id
    assert first.open_key is None


def test_unpublished_or_unknown_records_are_not_found(session: Session, world: World) -> None:
    draft = spending_item(session, world, publish=False)
    before = _snapshot(session)
    for target_type, target_id in (
        ("spending", draft.id),
        ("spending", 999_999),
        ("fee_standard", 999_999),
        ("service", 999_999),  # a ticket that does not exist
    ):
        with pytest.raises(NotFound):
            _open(
                session,
                world,
                target_type=target_type,
                target_id=target_id,
                reason="other",
                requested_outcome="explanation",
            )
    assert _snapshot(session) == before


def test_records_of_another_community_are_not_found(session: Session, world: World) -> None:
    elsewhere = factories.make_community(session)
    standard = factories.make_standard(session, community=elsewhere)
    with pytest.raises(NotFound):
        _open(
            session,
            world,
            target_type="fee_standard",
            target_id=standard.id,
            reason="rate_unreasonable",
            requested_outcome="correction",
        )


def test_records_cannot_be_refunded_to_one_owner(session: Session, world: World) -> None:
    item = spending_item(session, world)
    with pytest.raises(DomainError) as caught:
        _open(session, world, target_type="spending", target_id=item.id, reason="amount_questioned")
    assert caught.value.field == "requested_outcome"


def test_objection_to_a_published_spending_item(session: Session, world: World) -> None:
    item = spending_item(session, world)
    dispute = _open(
        session,
        world,
        target_type="spending",
        target_id=item.id,
        reason="amount_questioned",
        requested_outcome="explanation",
    )
    assert dispute.bill_line_id is None
    assert holds.held_amounts(session, unit_ids=[world.unit.id]) == {}
    # The same owner cannot open a second one on it; another owner can.
    with pytest.raises(Conflict):
        _open(
            session,
            world,
            target_type="spending",
            target_id=item.id,
            reason="other",
            requested_outcome="explanation",
        )
    _open(
        session,
        world,
        owner=world.other_owner,
        target_type="spending",
        target_id=item.id,
        reason="other",
        requested_outcome="explanation",
    )
    counts = overview.public_objections(
        session, community_id=world.community.id, target_type="spending"
    )
    assert counts == {
        item.id: {"open": 2, "closed": 0, "upheld": 0, "rejected": 0, "latest_outcome": None}
    }


# ---------------------------------------------------------------- the workflow


def test_credit_accepted_posts_an_adjustment_and_closes(session: Session, world: World) -> None:
    line = world.line(0)
    dispute = _open(session, world)
    decisions.acknowledge(session, dispute=dispute, actor=world.cs, now=NOW, message="已收到")
    decisions.start_review(session, dispute=dispute, actor=world.cs, now=NOW)
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="面积核实有误，减免差额",
        amount_fen=1_250,
        now=NOW,
    )
    assert proposal.status == "offered"
    assert dispute.status == DisputeStatus.PROPOSED
    decisions.accept_proposal(
        session, dispute=dispute, owner=world.owner, proposal_id=proposal.id, now=LATER
    )
    session.refresh(line)
    assert dispute.status == DisputeStatus.CLOSED
    assert dispute.outcome == "upheld"
    assert dispute.credited_fen == 1_250
    assert line.outstanding_fen == 25_000 - 1_250
    assert line.waived_fen == 1_250
    assert holds.held_amounts(session, unit_ids=[world.unit.id]) == {}
    assert ledger.check(session).ok
    history = billing_queries.unit_history(session, unit_id=world.unit.id)
    credit = [row for row in history if row["kind"] == "adjustment"]
    assert len(credit) == 1
    assert credit[0]["amount_fen"] == -1_250
    assert dispute.reference in credit[0]["memo"]
    entry = session.get(JournalEntry, credit[0]["entry_id"])
    assert entry.created_by_id == world.finance.id
    kinds = [e.kind for e in dispute.events]
    assert kinds == [
        "submitted",
        "acknowledged",
        "review_started",
        "proposed",
        "accepted",
        "credit_posted",
        "closed",
    ]
    assert dispute.first_response_at == NOW
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"dispute.acknowledge", "dispute.propose", "dispute.credit"} <= actions


def test_smaller_credit_than_requested_is_partly_upheld(session: Session, world: World) -> None:
    dispute = _open(session, world, requested_amount_fen=5_000)
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="减免一半",
        amount_fen=2_500,
        now=NOW,
    )
    decisions.accept_proposal(
        session, dispute=dispute, owner=world.owner, proposal_id=proposal.id, now=NOW
    )
    assert dispute.outcome == "partly_upheld"


def test_credit_on_a_paid_line_becomes_credit_balance(session: Session, world: World) -> None:
    payments_crediting.record_offline_payment(
        session,
        unit=world.unit,
        channel="cash",
        reference="R-1",
        amount_fen=25_000,
        received_on=date(2026, 11, 19),
        actor=world.finance,
        now=NOW,
    )
    line = world.line(0)
    session.refresh(line)
    assert line.outstanding_fen == 0
    dispute = _open(session, world)
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="退还多收部分",
        amount_fen=1_250,
        now=NOW,
    )
    decisions.accept_proposal(
        session, dispute=dispute, owner=world.owner, proposal_id=proposal.id, now=NOW
    )
    # The credit settles the unit's next open bill first (October), nothing is lost.
    october = world.line(1)
    session.refresh(october)
    assert october.outstanding_fen == 25_000 - 1_250
    assert ledger.prepayment_balance(session, unit_id=world.unit.id) == 0
    assert ledger.check(session).ok


def test_credit_above_threshold_waits_for_the_manager(session: Session, world: World) -> None:
    dispute = _open(session, world, requested_amount_fen=25_000)
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="全额减免",
        amount_fen=25_000,
        now=NOW,
    )
    assert proposal.status == "awaiting_approval"
    assert dispute.status == DisputeStatus.UNDER_REVIEW
    assert dispute.current_proposal is None
    assert all(
        not e.kind.startswith("proposal") for e in intake.visible_events(dispute, for_owner=True)
    )
    before = _snapshot(session)
    with pytest.raises(Conflict):  # the owner cannot accept what was never offered
        decisions.accept_proposal(
            session, dispute=dispute, owner=world.owner, proposal_id=proposal.id, now=NOW
        )
    assert _snapshot(session) == before
    with pytest.raises(PermissionDenied):
        decisions.approve_proposal(
            session, dispute=dispute, proposal_id=proposal.id, actor=world.finance, now=NOW
        )
    decisions.approve_proposal(
        session, dispute=dispute, proposal_id=proposal.id, actor=world.manager, now=NOW
    )
    assert dispute.status == DisputeStatus.PROPOSED
    decisions.accept_proposal(
        session, dispute=dispute, owner=world.owner, proposal_id=proposal.id, now=NOW
    )
    entry = session.scalar(
        select(JournalEntry).where(JournalEntry.kind == "adjustment").order_by(JournalEntry.id)
    )
    assert entry.created_by_id == world.manager.id  # the approver authorised the credit
    assert ledger.check(session).ok


def test_threshold_is_a_community_setting(session: Session, world: World) -> None:
    intake.update_settings(
        session,
        community=world.community,
        actor=world.manager,
        now=NOW,
        first_response_days=1,
        proposal_days=5,
        approval_threshold_fen=1_000,
    )
    dispute = _open(session, world)
    assert dispute.first_response_due_on == date(2026, 11, 23)
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="减免",
        amount_fen=1_250,
        now=NOW,
    )
    assert proposal.status == "awaiting_approval"
    with pytest.raises(DomainError):
        intake.update_settings(
            session,
            community=world.community,
            actor=world.manager,
            now=NOW,
            first_response_days=5,
            proposal_days=3,
            approval_threshold_fen=1_000,
        )


def test_manager_declines_a_draft(session: Session, world: World) -> None:
    dispute = _open(session, world, requested_amount_fen=25_000)
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="全额减免",
        amount_fen=25_000,
        now=NOW,
    )
    decisions.decline_proposal(
        session,
        dispute=dispute,
        proposal_id=proposal.id,
        actor=world.manager,
        reason="先核实面积",
        now=NOW,
    )
    session.refresh(proposal)
    assert proposal.status == "declined"
    assert "proposal_declined" not in [
        e.kind for e in intake.visible_events(dispute, for_owner=True)
    ]


def test_roles(session: Session, world: World) -> None:
    dispute = _open(session, world)
    with pytest.raises(PermissionDenied):  # customer service does not give money away
        decisions.propose(
            session,
            dispute=dispute,
            actor=world.cs,
            kind="credit",
            body="减免",
            amount_fen=100,
            now=NOW,
        )
    with pytest.raises(PermissionDenied):  # the committee reads and gives opinions only
        decisions.acknowledge(session, dispute=dispute, actor=world.committee, now=NOW)
    stranger = factories.make_user(session, role="manager")  # of another community
    with pytest.raises(PermissionDenied):
        decisions.acknowledge(session, dispute=dispute, actor=stranger, now=NOW)
    assert intake.get_scoped_dispute(session, staff=stranger, dispute_id=dispute.id) is None
    assert intake.get_owned_dispute(session, owner=world.other_owner, dispute_id=dispute.id) is None
    lifecycle.add_opinion(
        session, dispute=dispute, actor=world.committee, body="业委会建议现场复核面积", now=NOW
    )
    assert dispute.events[-1].kind == "opinion"
    assert not dispute.events[-1].internal


def test_proposal_amount_is_checked(session: Session, world: World) -> None:
    dispute = _open(session, world)
    before = _snapshot(session)
    for kind, amount, field in (
        ("credit", 25_001, "amount"),
        ("credit", None, "amount"),
        ("explanation", 100, "amount"),
        ("refund", 100, "kind"),
    ):
        with pytest.raises(DomainError) as caught:
            decisions.propose(
                session,
                dispute=dispute,
                actor=world.finance,
                kind=kind,
                body="方案",
                amount_fen=amount,
                now=NOW,
            )
        assert caught.value.field == field
    assert _snapshot(session) == before


def test_accepting_a_proposal_that_does_not_exist(session: Session, world: World) -> None:
    dispute = _open(session, world)
    other = _open(session, world, target_id=world.line(1).id)
    foreign = decisions.propose(
        session,
        dispute=other,
        actor=world.cs,
        kind="explanation",
        body="说明",
        amount_fen=None,
        now=NOW,
    )
    before = _snapshot(session)
    for proposal_id in (None, 999_999, "x", foreign.id):
        with pytest.raises(NotFound) as caught:
            decisions.accept_proposal(
                session, dispute=dispute, owner=world.owner, proposal_id=proposal_id, now=NOW
            )
        assert caught.value.field == "proposal_id"
    assert _snapshot(session) == before
    assert dispute.status == DisputeStatus.SUBMITTED


def test_a_superseded_proposal_cannot_be_accepted(session: Session, world: World) -> None:
    dispute = _open(session, world)
    first = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="减 5 元",
        amount_fen=500,
        now=NOW,
    )
    second = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="减 10 元",
        amount_fen=1_000,
        now=NOW,
    )
    session.refresh(first)
    assert first.status == "superseded"
    with pytest.raises(Conflict):
        decisions.accept_proposal(
            session, dispute=dispute, owner=world.owner, proposal_id=first.id, now=NOW
        )
    decisions.accept_proposal(
        session, dispute=dispute, owner=world.owner, proposal_id=second.id, now=NOW
    )
    assert dispute.credited_fen == 1_000
    with pytest.raises(Conflict):  # accepting twice posts nothing twice
        decisions.accept_proposal(
            session, dispute=dispute, owner=world.owner, proposal_id=second.id, now=NOW
        )
    adjustments = session.scalars(
        select(JournalEntry).where(JournalEntry.kind == "adjustment")
    ).all()
    assert len(adjustments) == 1


def test_reject_escalate_opinion_close(session: Session, world: World) -> None:
    dispute = _open(session, world)
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.cs,
        kind="explanation",
        body="面积以房产证为准，已核实无误",
        amount_fen=None,
        now=NOW,
    )
    with pytest.raises(DomainError):  # a reason is required
        decisions.reject_proposal(
            session, dispute=dispute, owner=world.owner, proposal_id=proposal.id, reason="", now=NOW
        )
    decisions.reject_proposal(
        session,
        dispute=dispute,
        owner=world.owner,
        proposal_id=proposal.id,
        reason="房产证写的是 95㎡",
        now=NOW,
    )
    assert dispute.status == DisputeStatus.REJECTED
    assert holds.held_amounts(session, unit_ids=[world.unit.id])  # still on hold
    lifecycle.escalate(
        session, dispute=dispute, actor=world.owner, to="committee", reason="请业委会评理", now=NOW
    )
    assert dispute.status == DisputeStatus.ESCALATED
    assert dispute.escalated_to == "committee"
    lifecycle.add_opinion(
        session, dispute=dispute, actor=world.committee, body="建议以房产证面积为准", now=NOW
    )
    with pytest.raises(DomainError):  # an upheld bill dispute must go through a credit
        lifecycle.close_dispute(
            session, dispute=dispute, actor=world.manager, outcome="upheld", note="同意", now=NOW
        )
    # The mediator sided with the owner: a credit proposal, accepted, closes it.
    credit = decisions.propose(
        session,
        dispute=dispute,
        actor=world.manager,
        kind="correction",
        body="按业委会意见更正面积",
        amount_fen=1_250,
        now=NOW,
    )
    assert credit.status == "offered"  # a manager's own proposal needs no second approval
    decisions.accept_proposal(
        session, dispute=dispute, owner=world.owner, proposal_id=credit.id, now=NOW
    )
    assert dispute.outcome == "upheld"
    rows = overview.mediation_rows(session, community_id=world.community.id, now=NOW)
    assert [r["reference"] for r in rows] == [dispute.reference]
    assert rows[0]["owner"] == "王*"
    assert "13912345678" not in str(rows)
    assert rows[0]["owner_objection"] == ""  # the last proposal was accepted


def test_manager_closes_not_upheld(session: Session, world: World) -> None:
    dispute = _open(session, world)
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.cs,
        kind="explanation",
        body="收费无误",
        amount_fen=None,
        now=NOW,
    )
    decisions.reject_proposal(
        session,
        dispute=dispute,
        owner=world.owner,
        proposal_id=proposal.id,
        reason="不同意",
        now=NOW,
    )
    with pytest.raises(PermissionDenied):
        lifecycle.close_dispute(
            session, dispute=dispute, actor=world.cs, outcome="not_upheld", note="维持", now=NOW
        )
    lifecycle.close_dispute(
        session,
        dispute=dispute,
        actor=world.manager,
        outcome="not_upheld",
        note="经调解维持原收费",
        now=NOW,
    )
    assert dispute.status == DisputeStatus.CLOSED
    assert dispute.outcome == "not_upheld"
    assert holds.held_amounts(session, unit_ids=[world.unit.id]) == {}


def test_owner_escalates_early_only_when_overdue(session: Session, world: World) -> None:
    dispute = _open(session, world)
    with pytest.raises(Conflict):
        lifecycle.escalate(
            session, dispute=dispute, actor=world.owner, to="mediator", reason="太慢", now=NOW
        )
    late = NOW + timedelta(days=5)  # Wednesday: the first response was due Tuesday
    assert lifecycle.sla_state(dispute, today=date(2026, 11, 25))["first"] == "overdue"
    lifecycle.escalate(
        session, dispute=dispute, actor=world.owner, to="mediator", reason="逾期未答复", now=late
    )
    assert dispute.status == DisputeStatus.ESCALATED


def test_withdraw_releases_the_hold(session: Session, world: World) -> None:
    dispute = _open(session, world)
    lifecycle.withdraw(session, dispute=dispute, owner=world.owner, now=NOW, reason="看错了")
    assert dispute.outcome == "withdrawn"
    assert holds.held_amounts(session, unit_ids=[world.unit.id]) == {}
    with pytest.raises(Conflict):
        lifecycle.withdraw(session, dispute=dispute, owner=world.owner, now=NOW)
    with pytest.raises(NotFound):
        lifecycle.withdraw(session, dispute=dispute, owner=world.other_owner, now=NOW)


def test_comments_and_internal_notes(session: Session, world: World) -> None:
    dispute = _open(session, world)
    lifecycle.comment(session, dispute=dispute, actor=world.owner, body="补充：附件已上传", now=NOW)
    lifecycle.comment(
        session, dispute=dispute, actor=world.cs, body="需财务复核", now=NOW, internal=True
    )
    lifecycle.comment(session, dispute=dispute, actor=world.committee, body="关注此事", now=NOW)
    owner_view = [e.kind for e in intake.visible_events(dispute, for_owner=True)]
    staff_view = [e.kind for e in intake.visible_events(dispute, for_owner=False)]
    assert owner_view == ["submitted", "comment", "opinion"]
    assert staff_view == ["submitted", "comment", "note", "opinion"]


# ---------------------------------------------------------------- holds in billing


def test_payments_do_not_settle_the_amount_on_hold(session: Session, world: World) -> None:
    line = world.line(0)
    _open(session, world, requested_amount_fen=5_000)
    payments_crediting.record_offline_payment(
        session,
        unit=world.unit,
        channel="cash",
        reference="R-2",
        amount_fen=50_000,
        received_on=date(2026, 11, 19),
        actor=world.finance,
        now=NOW,
    )
    session.refresh(line)
    assert line.outstanding_fen == 5_000  # the disputed part stays open
    assert ledger.prepayment_balance(session, unit_id=world.unit.id) == 5_000
    assert holds.collectable_fen(session, unit_id=world.unit.id) == 0
    assert ledger.check(session).ok


def test_late_fees_skip_the_amount_on_hold(session: Session) -> None:
    world = make_world(session, late_fees=False)
    billing_late_fees.set_late_fee_policy(
        session,
        community=world.community,
        enabled=True,
        daily_rate=Decimal("0.0005"),
        cap_rate=Decimal("0.1"),
        grace_days=0,
        clause_ref="合同第十二条",
        actor=world.manager,
        now=NOW,
    )
    _open(session, world, requested_outcome="correction", requested_amount_fen=None)
    billing_late_fees.assess_late_fees(
        session, community=world.community, on=date(2026, 10, 31), now=NOW
    )
    september, october = world.bills
    session.refresh(september)
    session.refresh(october)
    assert [ln.kind for ln in september.lines] == ["charge"]  # all of it disputed: no fee
    assert [ln.kind for ln in october.lines] == ["charge", "late_fee"]


def test_dispute_a_late_fee_line(session: Session) -> None:
    world = make_world(session, late_fees=True)
    fee = world.line(0, kind="late_fee")
    dispute = _open(
        session,
        world,
        target_id=fee.id,
        reason="late_fee",
        requested_amount_fen=fee.amount_fen,
    )
    assert holds.held_amounts(session, unit_ids=[world.unit.id]) == {fee.id: fee.amount_fen}
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="逾期系系统通知未送达所致，免除违约金",
        amount_fen=fee.amount_fen,
        now=NOW,
    )
    decisions.accept_proposal(
        session, dispute=dispute, owner=world.owner, proposal_id=proposal.id, now=NOW
    )
    session.refresh(fee)
    assert fee.outstanding_fen == 0
    assert fee.waived_fen == fee.amount_fen
    assert ledger.check(session).ok


# ---------------------------------------------------------------- queue, SLA, statistics


def test_queue_filters_and_overdue(session: Session, world: World) -> None:
    a = _open(session, world)
    b = _open(session, world, target_id=world.line(1).id, now=NOW + timedelta(days=3))
    decisions.acknowledge(session, dispute=b, actor=world.cs, now=NOW + timedelta(days=3))
    ids = [world.community.id]
    today = date(2026, 11, 25)
    page = overview.queue(
        session, filters=overview.QueueFilters(community_ids=ids, overdue_only=True), today=today
    )
    assert [d.id for d in page.disputes] == [a.id]
    page = overview.queue(
        session,
        filters=overview.QueueFilters(community_ids=ids, status="acknowledged"),
        today=today,
    )
    assert [d.id for d in page.disputes] == [b.id]
    page = overview.queue(
        session, filters=overview.QueueFilters(community_ids=ids, sort="newest"), today=today
    )
    assert [d.id for d in page.disputes] == [b.id, a.id]
    counts = overview.counts_by_status(session, community_ids=ids, today=today)
    assert counts["overdue"] == 1
    assert counts["submitted"] == 1
    assert (
        overview.queue(
            session, filters=overview.QueueFilters(community_ids=[-1]), today=today
        ).total
        == 0
    )


def test_sla_state(session: Session, world: World) -> None:
    dispute = _open(session, world)
    assert lifecycle.sla_state(dispute, today=date(2026, 11, 23))["worst"] == "ok"
    assert lifecycle.sla_state(dispute, today=date(2026, 11, 24))["first"] == "due_today"
    decisions.acknowledge(session, dispute=dispute, actor=world.cs, now=NOW + timedelta(days=6))
    state = lifecycle.sla_state(dispute, today=date(2026, 11, 26))
    assert state["first"] == "breached"
    assert state["proposal"] == "ok"


def test_stats_withhold_figures_below_five_resolved(session: Session, world: World) -> None:
    dispute = _open(session, world)
    lifecycle.withdraw(session, dispute=dispute, owner=world.owner, now=NOW)
    stats = overview.dispute_stats(session, community_id=world.community.id)
    assert stats["total"] == 1
    assert stats["too_few"] is True
    assert stats["by_outcome"] is None
    assert stats["median_days_to_close"] is None
    assert stats["owner_favour_share"] is None


def test_stats_with_enough_disputes(session: Session) -> None:
    world = make_world(session, periods=("2026-06", "2026-07", "2026-08", "2026-09", "2026-10"))
    for index in range(6):
        dispute = _open(
            session,
            world,
            target_id=world.line(index % 5).id if index < 5 else None,
            **(
                {}
                if index < 5
                else {
                    "target_type": "service",
                    "reason": "other",
                    "requested_outcome": "explanation",
                }
            ),
        )
        replied = NOW + timedelta(days=1 + index % 2)
        if index < 3:
            proposal = decisions.propose(
                session,
                dispute=dispute,
                actor=world.finance,
                kind="credit",
                body="减免",
                amount_fen=1_250 if index else 500,
                now=replied,
            )
        else:
            proposal = decisions.propose(
                session,
                dispute=dispute,
                actor=world.cs,
                kind="explanation",
                body="说明",
                amount_fen=None,
                now=replied,
            )
        decisions.accept_proposal(
            session,
            dispute=dispute,
            owner=world.owner,
            proposal_id=proposal.id,
            now=NOW + timedelta(days=4),
        )
    stats = overview.dispute_stats(session, community_id=world.community.id)
    assert stats["too_few"] is False
    assert stats["by_outcome"]["upheld"] == 2
    assert stats["by_outcome"]["partly_upheld"] == 1
    assert stats["by_outcome"]["explained"] == 3
    assert stats["owner_favour_share"] == 0.5
    assert stats["median_days_to_close"] == 4
    assert stats["median_days_to_first_response"] == 1.5
    assert stats["first_response_on_time"] == 1
    by_type = {row["target_type"]: row for row in stats["by_target_type"]}
    assert by_type["bill_line"]["closed"] == 5
    assert by_type["service"]["closed"] == 1


def test_public_objections_show_outcomes_not_people(session: Session, world: World) -> None:
    standard = session.scalar(
        select(FeeStandard).where(FeeStandard.community_id == world.community.id)
    )
    dispute = _open(
        session,
        world,
        target_type="fee_standard",
        target_id=standard.id,
        reason="not_announced",
        requested_outcome="correction",
        requested_amount_fen=None,
    )
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.cs,
        kind="explanation",
        body="已依法公示 30 天",
        amount_fen=None,
        now=NOW,
    )
    decisions.accept_proposal(
        session, dispute=dispute, owner=world.owner, proposal_id=proposal.id, now=NOW
    )
    counts = overview.public_objections(
        session, community_id=world.community.id, target_type="fee_standard"
    )
    assert counts == {
        standard.id: {
            "open": 0,
            "closed": 1,
            "upheld": 0,
            "rejected": 0,
            "latest_outcome": "explained",
        }
    }
    assert (
        overview.public_objections(
            session, community_id=world.community.id, target_type="bill_line"
        )
        == {}
    )
