"""Any sequence of bills, payments, refunds, waivers and late fees keeps the books balanced."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import late_fees as billing_late_fees
from portal.billing import ledger
from portal.billing import runs as billing_runs
from portal.billing import summaries as billing_summaries
from portal.billing.models import Bill, BillLine, EntryKind, JournalEntry
from portal.errors import DomainError
from portal.payments import crediting as payments_crediting
from portal.payments import refunding as payments_refunding
from portal.payments.models import Payment
from tests import factories
from tests.factories import NOW

operations = st.lists(
    st.one_of(
        st.tuples(st.just("bill")),
        st.tuples(st.just("pay"), st.integers(min_value=1, max_value=80_000)),
        st.tuples(st.just("waive"), st.integers(min_value=1, max_value=30_000)),
        st.tuples(st.just("refund"), st.integers(min_value=1, max_value=80_000)),
        st.tuples(st.just("late_fees")),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=5)),
    ),
    min_size=1,
    max_size=12,
)


def _invariants(session: Session, unit_id: int) -> None:
    report = ledger.check(session)
    assert report.ok, report
    outstanding = session.scalar(
        select(func.coalesce(func.sum(Bill.outstanding_fen), 0)).where(Bill.unit_id == unit_id)
    )
    credit = ledger.prepayment_balance(session, unit_id=unit_id)
    assert ledger.unit_balance(session, unit_id=unit_id) == outstanding - credit
    assert credit >= 0
    for line in session.scalars(select(BillLine).join(Bill).where(Bill.unit_id == unit_id)):
        assert 0 <= line.outstanding_fen <= line.amount_fen
    # The monthly collection summary moved with every operation, in the same transaction.
    assert billing_summaries.differences(session) == []


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_books_balance_after_any_sequence(session: Session, ops: list[tuple]) -> None:
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
    period = date(2025, 1, 1)
    refs = 0
    for op in ops:
        if op[0] == "bill":
            billing_runs.generate_bills(session, community=community, period=period, now=NOW)
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
        elif op[0] == "waive":
            line = session.scalar(
                select(BillLine)
                .join(Bill)
                .where(Bill.unit_id == unit.id, BillLine.outstanding_fen > 0)
                .order_by(BillLine.id)
            )
            if line is not None:
                amount = min(op[1], line.outstanding_fen)
                billing_late_fees.waive_line(
                    session, line=line, amount_fen=amount, reason="测试", actor=finance, now=NOW
                )
        elif op[0] == "refund":
            payment = session.scalar(
                select(Payment).where(Payment.unit_id == unit.id).order_by(Payment.id.desc())
            )
            if payment is not None:
                # more than refundable is refused, and writes nothing
                with contextlib.suppress(DomainError):
                    payments_refunding.request_refund(
                        session,
                        payment=payment,
                        amount_fen=op[1],
                        reason="测试",
                        actor=finance,
                        now=NOW,
                        approval_threshold_fen=10**9,
                    )
        elif op[0] == "reverse":
            # a waiver entered by mistake, corrected by its mirror entry (payments are not
            # reversed here: reversing one that was partly refunded leaves the prepayment
            # below zero, which ledger.reverse does not refuse)
            entries = list(
                session.scalars(
                    select(JournalEntry)
                    .where(
                        JournalEntry.kind == EntryKind.WAIVER,
                        ~JournalEntry.id.in_(
                            select(JournalEntry.reverses_id).where(
                                JournalEntry.reverses_id.is_not(None)
                            )
                        ),
                    )
                    .order_by(JournalEntry.id)
                )
            )
            if entries:
                # reopening a line that has since been paid again can leave its bounds
                with contextlib.suppress(DomainError), session.begin_nested():
                    ledger.reverse(
                        session,
                        entry=entries[op[1] % len(entries)],
                        memo="冲正",
                        now=NOW,
                        actor_id=finance.id,
                    )
        else:
            last = billing_runs.add_months(period, 3) - timedelta(days=1)
            billing_late_fees.assess_late_fees(session, community=community, on=last, now=NOW)
        _invariants(session, unit.id)
