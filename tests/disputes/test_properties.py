"""Any sequence of dispute outcomes, payments, bills and late fees keeps the books balanced, and
the amounts on hold never exceed what is outstanding."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import holds, ledger
from portal.billing import late_fees as billing_late_fees
from portal.billing import runs as billing_runs
from portal.billing.models import Bill, BillLine
from portal.disputes import base, decisions, intake, lifecycle
from portal.disputes.models import Dispute, DisputeProposal, DisputeStatus
from portal.errors import DomainError
from portal.payments import crediting as payments_crediting
from tests import factories
from tests.factories import NOW

operations = st.lists(
    st.one_of(
        st.tuples(st.just("bill")),
        st.tuples(st.just("pay"), st.integers(min_value=1, max_value=60_000)),
        st.tuples(
            st.just("dispute"),
            st.integers(min_value=0, max_value=5),
            st.integers(min_value=1, max_value=30_000),
            st.sampled_from(["credit", "correction", "explanation"]),
        ),
        st.tuples(
            st.just("propose"),
            st.integers(min_value=1, max_value=30_000),
            st.sampled_from(["credit", "correction", "explanation"]),
        ),
        st.tuples(st.just("accept")),
        st.tuples(st.just("reject")),
        st.tuples(st.just("withdraw")),
        st.tuples(st.just("late_fees")),
    ),
    min_size=1,
    max_size=14,
)


def _invariants(session: Session, unit_id: int) -> None:
    report = ledger.check(session)
    assert report.ok, report
    outstanding = session.scalar(
        select(func.coalesce(func.sum(Bill.outstanding_fen), 0)).where(Bill.unit_id == unit_id)
    )
    credit = ledger.prepayment_balance(session, unit_id=unit_id)
    assert credit >= 0
    assert ledger.unit_balance(session, unit_id=unit_id) == outstanding - credit
    lines = {
        line.id: line
        for line in session.scalars(select(BillLine).join(Bill).where(Bill.unit_id == unit_id))
    }
    for line in lines.values():
        assert 0 <= line.outstanding_fen <= line.amount_fen
    for line_id, held in holds.held_amounts(session, unit_ids=[unit_id]).items():
        assert 0 < held <= lines[line_id].outstanding_fen
    assert 0 <= holds.collectable_fen(session, unit_id=unit_id) <= outstanding
    for dispute in session.scalars(select(Dispute)):
        accepted = session.scalar(
            select(func.coalesce(func.sum(DisputeProposal.amount_fen), 0)).where(
                DisputeProposal.dispute_id == dispute.id, DisputeProposal.status == "accepted"
            )
        )
        assert dispute.credited_fen == accepted
        assert (dispute.open_key is None) == (dispute.status == DisputeStatus.CLOSED) or (
            dispute.target_type != "bill_line"
        )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_books_balance_after_any_sequence_of_disputes(session: Session, ops: list[tuple]) -> None:
    community = factories.make_community(session)
    factories.make_standard(session, community=community, rate="2.35")
    finance = factories.make_user(session, role="finance", community=community)
    manager = factories.make_user(session, role="manager", community=community)
    billing_late_fees.set_late_fee_policy(
        session,
        community=community,
        enabled=True,
        daily_rate=Decimal("0.0005"),
        cap_rate=Decimal("0.1"),
        grace_days=0,
        clause_ref="合同第十二条",
        actor=manager,
        now=NOW,
    )
    unit = factories.make_unit(session, community=community, area_m2=Decimal("87.65"))
    owner = factories.make_user(session, role="owner", unit=unit)
    period = date(2025, 1, 1)
    billing_runs.generate_bills(session, community=community, period=period, now=NOW)
    period = billing_runs.add_months(period, 1)
    refs = 0
    for op in ops:
        try:
            with session.begin_nested():
                if op[0] == "bill":
                    billing_runs.generate_bills(
                        session, community=community, period=period, now=NOW
                    )
                    period = billing_runs.add_months(period, 1)
                elif op[0] == "pay":
                    refs += 1
                    payments_crediting.record_offline_payment(
                        session,
                        unit=unit,
                        channel="cash",
                        reference=f"R{unit.id}-{refs}",
                        amount_fen=op[1],
                        received_on=date(2026, 11, 19),
                        actor=finance,
                        now=NOW,
                    )
                elif op[0] == "dispute":
                    lines = session.scalars(
                        select(BillLine)
                        .join(Bill)
                        .where(Bill.unit_id == unit.id)
                        .order_by(BillLine.id)
                    ).all()
                    line = lines[op[1] % len(lines)]
                    intake.open_dispute(
                        session,
                        owner=owner,
                        target_type="bill_line",
                        target_id=line.id,
                        reason="other",
                        statement="金额有误，请核实",
                        requested_outcome=op[3],
                        requested_amount_fen=min(op[2], base.creditable_fen(line)) or None,
                        now=NOW,
                    )
                elif op[0] == "late_fees":
                    last = billing_runs.add_months(period, 3) - timedelta(days=1)
                    billing_late_fees.assess_late_fees(
                        session, community=community, on=last, now=NOW
                    )
                else:
                    dispute = session.scalar(
                        select(Dispute)
                        .where(Dispute.status != DisputeStatus.CLOSED)
                        .order_by(Dispute.id.desc())
                    )
                    if dispute is None:
                        continue
                    if op[0] == "propose":
                        line = session.get(BillLine, dispute.bill_line_id)
                        amount = min(op[1], base.creditable_fen(line))
                        decisions.propose(
                            session,
                            dispute=dispute,
                            actor=finance if op[1] % 2 else manager,
                            kind=op[2],
                            body="核实后的答复",
                            amount_fen=None if op[2] == "explanation" else amount,
                            now=NOW,
                        )
                    elif op[0] == "accept":
                        offer = dispute.current_proposal
                        decisions.accept_proposal(
                            session,
                            dispute=dispute,
                            owner=owner,
                            proposal_id=offer.id if offer else None,
                            now=NOW,
                        )
                    elif op[0] == "reject":
                        offer = dispute.current_proposal
                        decisions.reject_proposal(
                            session,
                            dispute=dispute,
                            owner=owner,
                            proposal_id=offer.id if offer else None,
                            reason="不同意",
                            now=NOW,
                        )
                    else:
                        lifecycle.withdraw(session, dispute=dispute, owner=owner, now=NOW)
        except DomainError:
            pass  # refused operations write nothing (the savepoint rolled back)
        session.expire_all()
        _invariants(session, unit.id)
    credited = session.scalar(select(func.coalesce(func.sum(Dispute.credited_fen), 0)))
    event("a credit was posted" if credited else "no credit posted")
