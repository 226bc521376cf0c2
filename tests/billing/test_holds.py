"""Holds are billing's fact: placed, changed and released by disputes in the same transaction
as their status change, and equal at every step to what the open disputes ask for."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from portal.billing import holds
from portal.billing import late_fees as billing_late_fees
from portal.billing.models import Bill, BillLine, HoldSource, LineHold
from portal.disputes import base as disputes_base
from portal.disputes import decisions as disputes_decisions
from portal.disputes import intake as disputes_intake
from portal.disputes import lifecycle as disputes_lifecycle
from portal.disputes.models import OPEN_STATUSES, Dispute, DisputeStatus
from portal.errors import DomainError
from portal.payments import crediting as payments_crediting
from tests import factories
from tests.factories import NOW


def old_held_amounts(session: Session, *, unit_ids: list[int]) -> dict[int, int]:
    """The definition before holds moved to billing: computed live from the open disputes."""
    held = case(
        (
            or_(
                Dispute.requested_outcome == "correction",
                Dispute.requested_amount_fen.is_(None),
                Dispute.requested_amount_fen >= BillLine.outstanding_fen,
            ),
            BillLine.outstanding_fen,
        ),
        else_=Dispute.requested_amount_fen,
    )
    rows = session.execute(
        select(Dispute.bill_line_id, func.max(held))
        .join(BillLine, BillLine.id == Dispute.bill_line_id)
        .where(
            Dispute.unit_id.in_(unit_ids),
            Dispute.status.in_(OPEN_STATUSES),
            BillLine.outstanding_fen > 0,
        )
        .group_by(Dispute.bill_line_id)
    )
    return {int(line_id): int(amount) for line_id, amount in rows if amount}


def _line(session: Session, unit_id: int) -> BillLine:
    return session.scalars(
        select(BillLine).join(Bill).where(Bill.unit_id == unit_id).order_by(BillLine.id)
    ).first()


# ---------------------------------------------------------------- the service itself


def test_hold_follows_outstanding_and_release(session: Session) -> None:
    unit, bills = factories.make_billed_unit(session)  # one ¥250 line
    line = bills[0].lines[0]
    hold = holds.place_hold(
        session, line=line, source_type="dispute", source_id=7, requested_fen=10_000, now=NOW
    )
    assert holds.held_amounts(session, unit_ids=[unit.id]) == {line.id: 10_000}
    assert holds.collectable_fen(session, unit_id=unit.id) == 25_000 - 10_000
    assert holds.line_holds(session, line_ids=[line.id]) == {line.id: hold}
    # placing again for the same source changes the amount, it does not add a second hold
    holds.place_hold(
        session, line=line, source_type="dispute", source_id=7, requested_fen=None, now=NOW
    )
    assert holds.held_amounts(session, unit_ids=[unit.id]) == {line.id: 25_000}
    assert session.scalar(select(func.count(LineHold.id))) == 1
    assert holds.release_holds(session, source_type="dispute", source_id=7, now=NOW) == 1
    assert holds.release_holds(session, source_type="dispute", source_id=7, now=NOW) == 0
    assert holds.held_amounts(session, unit_ids=[unit.id]) == {}
    assert holds.line_holds(session, line_ids=[line.id]) == {}
    assert hold.released_at == NOW
    assert holds.collectable_fen(session, unit_id=unit.id) == 25_000


def test_hold_reads_zero_once_the_line_is_settled(session: Session) -> None:
    unit, bills = factories.make_billed_unit(session)
    line = bills[0].lines[0]
    holds.place_hold(
        session, line=line, source_type="dispute", source_id=8, requested_fen=None, now=NOW
    )
    finance = factories.make_user(session, role="finance", community=unit.community)
    payments_crediting.record_offline_payment(
        session,
        unit=unit,
        channel="cash",
        reference="R-holds",
        amount_fen=25_000,
        received_on=date(2026, 11, 19),
        actor=finance,
        now=NOW,
    )
    session.expire_all()
    assert line.outstanding_fen == 25_000  # a payment is never allocated to a held amount
    billing_late_fees.waive_line(
        session, line=line, amount_fen=25_000, reason="更正", actor=finance, now=NOW
    )
    session.expire_all()
    assert holds.held_amounts(session, unit_ids=[unit.id]) == {}
    assert holds.collectable_fen(session, unit_id=unit.id) == 0


def test_bad_requested_amount_is_refused(session: Session) -> None:
    _unit, bills = factories.make_billed_unit(session)
    with pytest.raises(ValueError, match="positive"):
        holds.place_hold(
            session,
            line=bills[0].lines[0],
            source_type="dispute",
            source_id=9,
            requested_fen=0,
            now=NOW,
        )
    assert session.scalar(select(func.count(LineHold.id))) == 0


def test_empty_unit_list_asks_nothing(session: Session) -> None:
    assert holds.held_amounts(session, unit_ids=[]) == {}
    assert holds.line_holds(session, line_ids=[]) == {}


# ---------------------------------------------------------------- every dispute transition

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("open"),
            st.integers(min_value=0, max_value=3),
            st.integers(min_value=1, max_value=30_000),
            st.sampled_from(["credit", "correction", "explanation"]),
        ),
        st.tuples(
            st.just("propose"),
            st.integers(min_value=1, max_value=30_000),
            st.sampled_from(["credit", "correction", "explanation"]),
            st.booleans(),  # by finance (a large credit then waits for the manager)
        ),
        st.tuples(st.just("approve")),
        st.tuples(st.just("accept")),
        st.tuples(st.just("reject")),
        st.tuples(st.just("escalate"), st.booleans()),  # by the owner or by the manager
        st.tuples(st.just("withdraw")),
        st.tuples(st.just("close"), st.sampled_from(["not_upheld", "explained"])),
        st.tuples(st.just("pay"), st.integers(min_value=1, max_value=40_000)),
    ),
    min_size=1,
    max_size=16,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_holds_match_open_disputes_after_any_transitions(
    session: Session, ops: list[tuple]
) -> None:
    community = factories.make_community(session)
    factories.make_standard(session, community=community, rate="2.35")
    factories.make_standard(
        session, community=community, item_code="garbage", basis="per_unit_month", rate="8.00"
    )
    finance = factories.make_user(session, role="finance", community=community)
    manager = factories.make_user(session, role="manager", community=community)
    unit, _bills = factories.make_billed_unit(
        session, community=community, area_m2=Decimal("87.65"), periods=("2026-08", "2026-09")
    )
    owner = factories.make_user(session, role="owner", unit=unit)
    lines = session.scalars(
        select(BillLine).join(Bill).where(Bill.unit_id == unit.id).order_by(BillLine.id)
    ).all()
    refs = 0
    for op in ops:
        try:
            with session.begin_nested():
                dispute = session.scalar(
                    select(Dispute)
                    .where(Dispute.status != DisputeStatus.CLOSED)
                    .order_by(Dispute.id.desc())
                )
                if op[0] == "open":
                    line = lines[op[1] % len(lines)]
                    disputes_intake.open_dispute(
                        session,
                        owner=owner,
                        target_type="bill_line",
                        target_id=line.id,
                        reason="other",
                        statement="金额有误，请核实",
                        requested_outcome=op[3],
                        requested_amount_fen=min(op[2], disputes_base.creditable_fen(line)) or None,
                        now=NOW,
                    )
                elif op[0] == "pay":
                    refs += 1
                    payments_crediting.record_offline_payment(
                        session,
                        unit=unit,
                        channel="cash",
                        reference=f"H{unit.id}-{refs}",
                        amount_fen=op[1],
                        received_on=date(2026, 11, 19),
                        actor=finance,
                        now=NOW,
                    )
                elif dispute is None:
                    continue
                elif op[0] == "propose":
                    line = session.get(BillLine, dispute.bill_line_id)
                    disputes_decisions.propose(
                        session,
                        dispute=dispute,
                        actor=finance if op[3] else manager,
                        kind=op[2],
                        body="核实后的答复",
                        amount_fen=None
                        if op[2] == "explanation"
                        else min(op[1], disputes_base.creditable_fen(line)),
                        now=NOW,
                    )
                elif op[0] == "approve":
                    draft = next(
                        (p for p in dispute.proposals if p.status == "awaiting_approval"), None
                    )
                    disputes_decisions.approve_proposal(
                        session,
                        dispute=dispute,
                        proposal_id=draft.id if draft else None,
                        actor=manager,
                        now=NOW,
                    )
                elif op[0] in ("accept", "reject"):
                    offer = dispute.current_proposal
                    if op[0] == "accept":
                        disputes_decisions.accept_proposal(
                            session,
                            dispute=dispute,
                            owner=owner,
                            proposal_id=offer.id if offer else None,
                            now=NOW,
                        )
                    else:
                        disputes_decisions.reject_proposal(
                            session,
                            dispute=dispute,
                            owner=owner,
                            proposal_id=offer.id if offer else None,
                            reason="不同意",
                            now=NOW,
                        )
                elif op[0] == "escalate":
                    disputes_lifecycle.escalate(
                        session,
                        dispute=dispute,
                        actor=owner if op[1] else manager,
                        to="committee",
                        reason="请业委会协调",
                        now=NOW,
                    )
                elif op[0] == "withdraw":
                    disputes_lifecycle.withdraw(session, dispute=dispute, owner=owner, now=NOW)
                else:
                    disputes_lifecycle.close_dispute(
                        session,
                        dispute=dispute,
                        actor=manager,
                        outcome=op[1],
                        note="调解结论",
                        now=NOW,
                    )
        except DomainError:
            pass  # refused: the savepoint rolled back, holds included
        session.expire_all()
        assert holds.held_amounts(session, unit_ids=[unit.id]) == old_held_amounts(
            session, unit_ids=[unit.id]
        )
        open_holds = set(
            session.execute(
                select(LineHold.source_id, LineHold.bill_line_id).where(
                    LineHold.source_type == HoldSource.DISPUTE, LineHold.released_at.is_(None)
                )
            ).all()
        )
        open_disputes = set(
            session.execute(
                select(Dispute.id, Dispute.bill_line_id).where(
                    Dispute.status.in_(OPEN_STATUSES), Dispute.bill_line_id.is_not(None)
                )
            ).all()
        )
        assert open_holds == open_disputes
    closed = session.scalar(
        select(func.count(LineHold.id)).where(LineHold.released_at.is_not(None))
    )
    event("a hold was released" if closed else "no hold released")
