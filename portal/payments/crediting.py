"""Money in: a payment allocated over open bill lines (oldest first, never a held
amount) and posted to the ledger, the excess kept as prepayment, the receipt numbered;
offline payments recorded by finance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import service as audit
from portal.billing import holds, ledger
from portal.billing import runs as billing_runs
from portal.billing.models import Bill, EntryKind, JournalEntry
from portal.communities.models import Community, Unit
from portal.errors import Conflict, DomainError
from portal.payments.models import (
    OFFLINE_CHANNELS,
    Payment,
    Receipt,
    ReceiptCounter,
)
from portal.payments.queries import channel_label

MAX_ALLOCATION_RETRIES = 5


# ---------------------------------------------------------------- crediting


def credit(
    session: Session,
    *,
    payment: Payment,
    bill_ids: Sequence[int] | None,
    flag_excess: bool,
    now: datetime,
) -> JournalEntry:
    """Post a payment: its bills' lines oldest first, the rest to the unit's prepayment."""
    for attempt in range(MAX_ALLOCATION_RETRIES):
        try:
            with session.begin_nested():
                entry = _post_payment(
                    session, payment=payment, bill_ids=bill_ids, flag_excess=flag_excess, now=now
                )
            break
        except Conflict:
            if attempt == MAX_ALLOCATION_RETRIES - 1:
                raise
    issue_receipt(session, payment=payment, now=now)
    return entry


def _post_payment(
    session: Session,
    *,
    payment: Payment,
    bill_ids: Sequence[int] | None,
    flag_excess: bool,
    now: datetime,
) -> JournalEntry:
    unit_ids = [payment.unit_id]
    if bill_ids:
        unit_ids = sorted(set(session.scalars(select(Bill.unit_id).where(Bill.id.in_(bill_ids)))))
    lines = ledger.open_lines(session, unit_ids=unit_ids, bill_ids=bill_ids)
    held = holds.held_amounts(session, unit_ids=unit_ids)
    allocations, excess = ledger.allocate(
        session, amount_fen=payment.amount_fen, lines=lines, held_fen=held
    )
    bill_units = dict(
        session.execute(
            select(Bill.id, Bill.unit_id).where(
                Bill.id.in_({line.bill_id for line in lines} or {-1})
            )
        ).all()
    )
    line_units = {line.id: bill_units[line.bill_id] for line in lines}
    legs = [
        ledger.Leg(
            ledger.cash(session, community_id=payment.community_id, channel=payment.channel),
            payment.amount_fen,
        )
    ]
    for allocation in allocations:
        ar = ledger.receivable(
            session, community_id=payment.community_id, unit_id=line_units[allocation.line_id]
        )
        legs.append(ledger.Leg(ar, -allocation.amount_fen, allocation.line_id))
    if excess:
        legs.append(
            ledger.Leg(
                ledger.prepayment(
                    session, community_id=payment.community_id, unit_id=payment.unit_id
                ),
                -excess,
            )
        )
        if flag_excess:
            payment.refund_due_fen = excess
    entry = ledger.post(
        session,
        community_id=payment.community_id,
        kind=EntryKind.PAYMENT,
        memo=f"{channel_label(payment.channel)} {payment.txn_id}",
        source_type="payment",
        source_id=payment.id,
        legs=legs,
        now=now,
        actor_id=payment.recorded_by_id,
    )
    if excess and not flag_excess:
        # An intentional overpayment is a credit for the unit's next bills.
        billing_runs.apply_prepayment(
            session, unit_id=payment.unit_id, community_id=payment.community_id, now=now
        )
    return entry


def release_refund_due(session: Session, *, unit_id: int, amount_fen: int) -> None:
    """Prepayment used on a bill is no longer due for refund: clear flags oldest first."""
    remaining = amount_fen
    flagged = session.scalars(
        select(Payment)
        .where(Payment.unit_id == unit_id, Payment.refund_due_fen > 0)
        .order_by(Payment.id)
    ).all()
    for payment in flagged:
        if remaining <= 0:
            break
        take = min(payment.refund_due_fen, remaining)
        payment.refund_due_fen -= take
        remaining -= take
    session.flush()


def issue_receipt(session: Session, *, payment: Payment, now: datetime) -> Receipt:
    """Give the payment its receipt with the next number of its community and year."""
    existing = session.scalar(select(Receipt).where(Receipt.payment_id == payment.id))
    if existing is not None:
        return existing
    community = session.get(Community, payment.community_id)
    year = now.year
    seq = session.execute(
        update(ReceiptCounter)
        .where(ReceiptCounter.community_id == payment.community_id, ReceiptCounter.year == year)
        .values(last_seq=ReceiptCounter.last_seq + 1)
        .returning(ReceiptCounter.last_seq)
    ).scalar()
    if seq is None:
        try:
            with session.begin_nested():
                session.add(
                    ReceiptCounter(community_id=payment.community_id, year=year, last_seq=1)
                )
            seq = 1
        except IntegrityError:
            seq = session.execute(
                update(ReceiptCounter)
                .where(
                    ReceiptCounter.community_id == payment.community_id, ReceiptCounter.year == year
                )
                .values(last_seq=ReceiptCounter.last_seq + 1)
                .returning(ReceiptCounter.last_seq)
            ).scalar_one()
    code = community.code if community else "CF"
    receipt = Receipt(
        community_id=payment.community_id,
        year=year,
        seq=seq,
        number=f"{code}-{year}-{seq:06d}",
        payment_id=payment.id,
        issued_at=now,
    )
    session.add(receipt)
    session.flush()
    return receipt


# ---------------------------------------------------------------- offline payments


def record_offline_payment(
    session: Session,
    *,
    unit: Unit,
    channel: str,
    reference: str,
    amount_fen: int,
    received_on: date,
    actor: User,
    now: datetime,
    note: str = "",
) -> Payment:
    """Finance records cash, POS, bank transfer or auto-debit money against a unit's bills."""
    if channel not in OFFLINE_CHANNELS:
        raise DomainError(_l("线下收款渠道无效"), field="channel")
    reference = reference.strip()
    if not reference or len(reference) > 64:
        raise DomainError(
            _l("请填写收款凭证号（银行流水号、POS 参考号或收据号）"), field="reference"
        )
    if amount_fen <= 0:
        raise DomainError(_l("金额须大于 0"), field="amount")
    if amount_fen > 100_000_000:
        raise DomainError(_l("金额过大，请核对"), field="amount")
    if received_on > now.date() + timedelta(days=1):
        raise DomainError(_l("收款日期不能晚于今天"), field="received_on")
    duplicate = session.scalar(
        select(Payment.id).where(Payment.channel == channel, Payment.txn_id == reference)
    )
    if duplicate is not None:
        raise Conflict(
            _l("凭证号 %(ref)s 已登记过，不能重复入账", ref=reference),
            field="reference",
            code="duplicate",
        )
    received_at = (
        datetime(received_on.year, received_on.month, received_on.day, 4, 0, tzinfo=now.tzinfo)
        if received_on != now.date()
        else now
    )
    payment = Payment(
        community_id=unit.community_id,
        payer_id=None,
        unit_id=unit.id,
        intent_id=None,
        channel=channel,
        txn_id=reference,
        amount_fen=amount_fen,
        refund_due_fen=0,
        received_at=received_at,
        recorded_by_id=actor.id,
        note=note.strip()[:255],
    )
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            _l("凭证号 %(ref)s 已登记过，不能重复入账", ref=reference),
            field="reference",
            code="duplicate",
        ) from exc
    credit(session, payment=payment, bill_ids=None, flag_excess=False, now=now)
    audit.record(
        session,
        actor_id=actor.id,
        action="payment.record_offline",
        target_type="payment",
        target_id=payment.id,
        community_id=unit.community_id,
        now=now,
        details={
            "channel": channel,
            "reference": reference,
            "amount_fen": amount_fen,
            "unit": unit.code,
        },
    )
    return payment


billing_runs.on_prepayment_used(release_refund_due)
