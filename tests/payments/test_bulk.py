from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import ledger
from portal.billing import runs as billing_runs
from portal.billing.models import EntryKind
from portal.errors import Conflict
from portal.payments import crediting
from portal.payments.bulk import ImportRow, import_payments
from portal.payments.models import Payment, Receipt
from tests import factories
from tests.factories import NOW


def test_import_pays_bills_numbers_receipts_and_balances(session: Session) -> None:
    community = factories.make_community(session, code="BULK")
    unit_a, bills_a = factories.make_billed_unit(session, community=community, periods=("2026-10",))
    unit_b, bills_b = factories.make_billed_unit(session, community=community, periods=("2026-10",))
    finance = factories.make_user(session, role="finance", community=community)
    crediting.record_offline_payment(
        session,
        unit=unit_a,
        channel="cash",
        reference="C0",
        amount_fen=100,
        received_on=date(2026, 11, 19),
        actor=finance,
        now=NOW,
    )
    bill_a = next(b for b in bills_a if b.unit_id == unit_a.id and b.period.month == 10)
    bill_b = next(b for b in bills_b if b.unit_id == unit_b.id)
    ids = import_payments(
        session,
        community=community,
        rows=[
            ImportRow(unit_a.id, bill_a.id, "auto_debit", "AD-1", 24900, NOW),
            ImportRow(unit_b.id, bill_b.id, "auto_debit", "AD-2", 30000, NOW),  # ¥50 too much
        ],
    )
    assert len(ids) == 2
    session.expire_all()
    assert bill_a.outstanding_fen == 0
    assert bill_b.outstanding_fen == 0
    assert ledger.prepayment_balance(session, unit_id=unit_b.id) == 5000
    numbers = sorted(session.scalars(select(Receipt.number)))
    assert numbers == ["BULK-2026-000001", "BULK-2026-000002", "BULK-2026-000003"]
    assert ledger.check(session).ok


def test_batch_that_would_overpay_a_line_is_refused_whole(session: Session) -> None:
    unit, bills = factories.make_billed_unit(session)
    line = bills[0].lines[0]
    session.commit()
    cash = ledger.cash(session, community_id=unit.community_id, channel="cash")
    ar = ledger.receivable(session, community_id=unit.community_id, unit_id=unit.id)
    entries = [
        ledger.NewEntry(
            community_id=unit.community_id,
            kind=EntryKind.PAYMENT,
            memo="x",
            source_type="payment",
            source_id=n,
            legs=[ledger.Leg(cash, 20000), ledger.Leg(ar, -20000, line.id)],
            created_at=NOW,
        )
        for n in (1, 2)
    ]  # 400 against a 250 line
    with pytest.raises(Conflict):
        ledger.post_many(session, entries)
    session.rollback()
    session.expire_all()
    assert line.outstanding_fen == 25000
    assert session.scalar(select(func.count(Payment.id))) == 0
    assert ledger.check(session).ok


def test_billing_run_posts_every_bill_in_one_batch(session: Session) -> None:
    community = factories.make_community(session)
    factories.make_standard(session, community=community)
    for _ in range(20):
        factories.make_unit(session, community=community)
    result = billing_runs.generate_bills(
        session, community=community, period=date(2026, 11, 1), now=NOW
    )
    assert result.created == 20
    assert ledger.check(session).ok
