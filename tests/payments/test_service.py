from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from portal.billing import holds, ledger
from portal.billing import runs as billing_runs
from portal.billing.models import JournalEntry, Posting
from portal.errors import DomainError, NotFound
from portal.payments import autodebit, crediting, intents, queries, refunding
from portal.payments.gateways.base import Notification, NotificationStatus
from portal.payments.gateways.sandbox import SandboxGateway
from portal.payments.models import Payment, PaymentIntent, Receipt
from tests import factories
from tests.factories import NOW

GATEWAY = SandboxGateway("s")


def _intent(session: Session, owner, bills, key: str = "k1", channel: str = "sandbox"):
    return intents.create_intent(
        session,
        user=owner,
        bill_ids=[b.id for b in bills],
        channel=channel,
        idempotency_key=key,
        gateway=GATEWAY,
        now=NOW,
        notify_url="http://x/n",
        return_url="http://x/r",
    )


def _note(
    intent,
    txn: str = "T1",
    amount: int | None = None,
    status: NotificationStatus = NotificationStatus.SUCCESS,
) -> Notification:
    return Notification(
        out_trade_no=intent.out_trade_no,
        txn_id=txn,
        amount_fen=intent.amount_fen if amount is None else amount,
        status=status,
    )


def _owner_with_bills(session: Session, periods=("2026-09", "2026-10")):
    unit, bills = factories.make_billed_unit(session, periods=periods)
    owner = factories.make_user(session, role="owner", unit=unit)
    return owner, unit, bills


def test_intent_amount_is_outstanding_and_key_is_idempotent(session: Session) -> None:
    owner, _unit, bills = _owner_with_bills(session)
    intent = _intent(session, owner, bills)
    assert intent.amount_fen == 50000
    assert intent.pay_url == f"/payments/sandbox/{intent.out_trade_no}"
    assert _intent(session, owner, bills).id == intent.id
    with pytest.raises(DomainError, match="幂等键"):
        _intent(session, owner, bills[:1])
    assert session.scalar(select(func.count(PaymentIntent.id))) == 1


def test_cannot_pay_someone_elses_or_paid_bill(session: Session) -> None:
    owner, unit, _bills = _owner_with_bills(session)
    _, other_bills = factories.make_billed_unit(session, community=unit.community)
    with pytest.raises(NotFound):
        _intent(session, owner, [other_bills[0]])
    with pytest.raises(DomainError):
        _intent(session, owner, [])
    assert session.scalar(select(func.count(PaymentIntent.id))) == 0


def test_success_credits_once_whatever_repeats(session: Session) -> None:
    owner, unit, bills = _owner_with_bills(session)
    intent = _intent(session, owner, bills)
    first = intents.handle_notification(
        session, channel="sandbox", notification=_note(intent), now=NOW
    )
    assert first.credited
    for _ in range(3):
        assert not intents.handle_notification(
            session, channel="sandbox", notification=_note(intent), now=NOW
        ).credited
    # A late failure after success changes nothing.
    intents.handle_notification(
        session,
        channel="sandbox",
        notification=_note(intent, status=NotificationStatus.FAILED),
        now=NOW,
    )
    session.expire_all()
    assert intent.status == "succeeded"
    assert session.scalar(select(func.count(Payment.id))) == 1
    assert session.scalar(select(func.count(Receipt.id))) == 1
    assert all(b.outstanding_fen == 0 and b.status == "paid" for b in bills)
    assert ledger.unit_balance(session, unit_id=unit.id) == 0
    assert ledger.check(session).ok


def test_wrong_amount_and_unknown_trade_change_nothing(session: Session) -> None:
    owner, _unit, bills = _owner_with_bills(session)
    intent = _intent(session, owner, bills)
    with pytest.raises(DomainError, match="金额不符"):
        intents.handle_notification(
            session, channel="sandbox", notification=_note(intent, amount=1), now=NOW
        )
    bogus = Notification(
        out_trade_no="NOPE", txn_id="x", amount_fen=1, status=NotificationStatus.SUCCESS
    )
    with pytest.raises(NotFound):
        intents.handle_notification(session, channel="sandbox", notification=bogus, now=NOW)
    with pytest.raises(NotFound):  # right trade number, wrong channel
        intents.handle_notification(session, channel="wechat", notification=_note(intent), now=NOW)
    session.expire_all()
    assert intent.status == "pending"
    assert session.scalar(select(func.count(Payment.id))) == 0


def test_two_channels_paying_the_same_bill_never_over_credit(session: Session) -> None:
    owner, unit, bills = _owner_with_bills(session, periods=("2026-09",))
    a = _intent(session, owner, bills, key="a", channel="sandbox")
    b = _intent(session, owner, bills, key="b", channel="sandbox")
    intents.handle_notification(session, channel="sandbox", notification=_note(a, "TA"), now=NOW)
    second = intents.handle_notification(
        session, channel="sandbox", notification=_note(b, "TB"), now=NOW
    )
    assert second.credited
    assert second.payment.refund_due_fen == 25000
    session.expire_all()
    assert bills[0].outstanding_fen == 0
    assert bills[0].paid_fen == 25000
    assert ledger.prepayment_balance(session, unit_id=unit.id) == 25000
    assert ledger.unit_balance(session, unit_id=unit.id) == -25000
    assert [p.id for p in queries.refund_due(session, community_id=unit.community_id)] == [
        second.payment.id
    ]
    assert ledger.check(session).ok


def test_partial_offline_payment_pays_oldest_line_first(session: Session) -> None:
    community = factories.make_community(session)
    factories.make_standard(session, community=community, rate="2.50")
    factories.make_standard(
        session, community=community, item_code="garbage", basis="per_unit_month", rate="10.00"
    )
    unit, bills = factories.make_billed_unit(
        session, community=community, periods=("2026-08", "2026-09")
    )
    finance = factories.make_user(session, role="finance", community=community)
    crediting.record_offline_payment(
        session,
        unit=unit,
        channel="cash",
        reference="R-001",
        amount_fen=30000,
        received_on=date(2026, 11, 19),
        actor=finance,
        now=NOW,
    )
    session.expire_all()
    august, september = bills
    assert august.outstanding_fen == 0  # 250 + 10 paid first
    assert september.outstanding_fen == 26000 - 4000
    # Within a bill, lines are paid in order (garbage 10.00, then property service).
    assert [line.outstanding_fen for line in september.lines] == [0, 22000]
    assert september.status == "partial"


def test_overpayment_is_credit_used_by_next_bill(session: Session) -> None:
    community = factories.make_community(session)
    unit, _ = factories.make_billed_unit(session, community=community, periods=("2026-09",))
    finance = factories.make_user(session, role="finance", community=community)
    payment = crediting.record_offline_payment(
        session,
        unit=unit,
        channel="bank_transfer",
        reference="B-77",
        amount_fen=40000,
        received_on=date(2026, 11, 19),
        actor=finance,
        now=NOW,
    )
    assert payment.refund_due_fen == 0
    assert ledger.prepayment_balance(session, unit_id=unit.id) == 15000
    billing_runs.generate_bills(session, community=community, period=date(2026, 10, 1), now=NOW)
    assert ledger.prepayment_balance(session, unit_id=unit.id) == 0
    assert ledger.unit_balance(session, unit_id=unit.id) == 10000
    assert ledger.check(session).ok


def test_offline_payment_bad_input_writes_nothing(session: Session) -> None:
    unit, _ = factories.make_billed_unit(session)
    finance = factories.make_user(session, role="finance", community=unit.community)
    ok = {
        "unit": unit,
        "channel": "cash",
        "reference": "R1",
        "amount_fen": 100,
        "received_on": date(2026, 11, 19),
        "actor": finance,
        "now": NOW,
    }
    crediting.record_offline_payment(session, **ok)
    cases = [
        ({"channel": "wechat"}, "channel"),
        ({"reference": " "}, "reference"),
        ({"amount_fen": 0}, "amount"),
        ({"amount_fen": -5}, "amount"),
        ({"received_on": NOW.date() + timedelta(days=5)}, "received_on"),
        ({}, "reference"),
    ]  # the same reference twice
    for change, field in cases:
        with pytest.raises(DomainError) as info:
            crediting.record_offline_payment(session, **(ok | change))
        assert info.value.field == field
    assert session.scalar(select(func.count(Payment.id))) == 1


def test_refund_reverses_through_ledger_with_approval_above_threshold(session: Session) -> None:
    owner, unit, bills = _owner_with_bills(session)
    intent = _intent(session, owner, bills)
    payment = intents.handle_notification(
        session, channel="sandbox", notification=_note(intent), now=NOW
    ).payment
    finance = factories.make_user(session, role="finance", community=unit.community)
    manager = factories.make_user(session, role="manager", community=unit.community)
    small = refunding.request_refund(
        session,
        payment=payment,
        amount_fen=10000,
        reason="多收",
        actor=finance,
        now=NOW,
        approval_threshold_fen=50000,
    )
    assert small.status == "done"
    big = refunding.request_refund(
        session,
        payment=payment,
        amount_fen=40000,
        reason="重复",
        actor=finance,
        now=NOW,
        approval_threshold_fen=20000,
    )
    assert big.status == "awaiting_approval"
    with pytest.raises(DomainError):
        refunding.request_refund(
            session,
            payment=payment,
            amount_fen=1,
            reason="x",
            actor=finance,
            now=NOW,
            approval_threshold_fen=50000,
        )
    with pytest.raises(DomainError, match="另一位"):
        refunding.decide_refund(session, refund=big, approve=True, actor=finance, now=NOW)
    refunding.decide_refund(session, refund=big, approve=True, actor=manager, now=NOW)
    session.expire_all()
    assert ledger.unit_balance(session, unit_id=unit.id) == 50000
    assert [b.outstanding_fen for b in bills] == [25000, 25000]
    assert ledger.check(session).ok


def test_ledger_rows_are_immutable_in_the_database(session: Session) -> None:
    _owner_with_bills(session)
    session.commit()
    for statement in (
        "UPDATE postings SET amount_fen = amount_fen + 1",
        "DELETE FROM postings",
        "UPDATE journal_entries SET memo = 'x'",
        "DELETE FROM journal_entries",
    ):
        with pytest.raises(DatabaseError, match="immutable"):
            session.execute(text(statement))
        session.rollback()
    assert session.scalar(select(func.count(Posting.id))) > 0
    assert session.scalar(select(func.count(JournalEntry.id))) > 0


def test_reversal_corrects_and_only_once(session: Session) -> None:
    unit, bills = factories.make_billed_unit(session)
    finance = factories.make_user(session, role="finance", community=unit.community)
    payment = crediting.record_offline_payment(
        session,
        unit=unit,
        channel="pos",
        reference="P1",
        amount_fen=25000,
        received_on=date(2026, 11, 19),
        actor=finance,
        now=NOW,
    )
    entry = session.scalar(
        select(JournalEntry).where(
            JournalEntry.source_type == "payment", JournalEntry.source_id == payment.id
        )
    )
    ledger.reverse(session, entry=entry, memo="录错房号", now=NOW, actor_id=finance.id)
    session.expire_all()
    assert bills[0].outstanding_fen == 25000
    with pytest.raises(DomainError):
        ledger.reverse(session, entry=entry, memo="again", now=NOW, actor_id=finance.id)
    assert ledger.check(session).ok


def test_auto_debit_respects_the_owners_cap_and_pause(session: Session) -> None:
    owner, unit, _bills = _owner_with_bills(session, periods=("2026-09", "2026-10"))
    with pytest.raises(DomainError):
        autodebit.set_mandate(
            session, user=owner, unit=unit, max_amount_fen=20000, bank_account="123", now=NOW
        )
    mandate = autodebit.set_mandate(
        session,
        user=owner,
        unit=unit,
        max_amount_fen=20000,
        bank_account="6222 0212 3456 7890",
        now=NOW,
    )
    assert mandate.bank_account_masked.endswith("7890")
    assert "6222" not in mandate.bank_account_masked
    community = unit.community
    assert (
        autodebit.debit_due_bills(session, community=community, on=date(2026, 11, 20), now=NOW) == 0
    )  # ¥250 bills exceed the ¥200 cap
    autodebit.set_mandate(
        session,
        user=owner,
        unit=unit,
        max_amount_fen=30000,
        bank_account="6222021234567890",
        now=NOW,
    )
    autodebit.set_mandate_status(session, mandate=mandate, status="paused", now=NOW)
    assert (
        autodebit.debit_due_bills(session, community=community, on=date(2026, 11, 20), now=NOW) == 0
    )
    autodebit.set_mandate_status(session, mandate=mandate, status="active", now=NOW)
    assert (
        autodebit.debit_due_bills(session, community=community, on=date(2026, 11, 20), now=NOW) == 2
    )
    assert (
        autodebit.debit_due_bills(session, community=community, on=date(2026, 11, 20), now=NOW) == 0
    )
    assert ledger.unit_balance(session, unit_id=unit.id) == 0


def test_amount_under_dispute_is_not_asked_for(session: Session, monkeypatch) -> None:
    owner, _unit, bills = _owner_with_bills(session, periods=("2026-09",))
    line = bills[0].lines[0]
    bill_id = bills[0].id
    monkeypatch.setattr(holds, "held_by_bill", lambda session, unit_ids: {bill_id: {line.id: 5000}})
    intent = _intent(session, owner, bills)
    assert intent.amount_fen == 25000 - 5000
    monkeypatch.setattr(
        holds, "held_by_bill", lambda session, unit_ids: {bill_id: {line.id: 25000}}
    )
    with pytest.raises(DomainError, match="异议"):
        _intent(session, owner, bills, key="k2")
