"""Payments: intents, exactly-once crediting of callbacks, offline payments, receipts, refunds.

Exactly once is enforced by the database, not by Python checks: an intent moves to
`succeeded` by a compare-and-set UPDATE whose row count decides who posts to the ledger,
(channel, txn_id) is unique on payments, idempotency keys are unique per user, and bill lines
can never go below zero (compare-and-set plus a CHECK constraint), so money that finds nothing
left to pay becomes the owner's prepayment, flagged to finance as refund-due.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.audit import service as audit
from portal.billing import service as billing
from portal.billing.models import Bill, BillLine
from portal.communities.models import Community, Unit
from portal.errors import Conflict, DomainError, NotFound
from portal.ledger import service as ledger
from portal.ledger.models import Account, EntryKind, JournalEntry, Posting
from portal.payments import messages
from portal.payments.gateways.base import (
    CheckoutRequest,
    Gateway,
    Notification,
    NotificationStatus,
)
from portal.payments.models import (
    OFFLINE_CHANNELS,
    AutoDebitMandate,
    Channel,
    IntentStatus,
    MandateStatus,
    Payment,
    PaymentIntent,
    PaymentIntentBill,
    Receipt,
    ReceiptCounter,
    Refund,
    RefundStatus,
)

INTENT_TTL = timedelta(minutes=30)
MAX_ALLOCATION_RETRIES = 5


class GatewayUnavailable(DomainError):
    code = "gateway_unavailable"
    status = 503


class AmountMismatch(DomainError):
    code = "amount_mismatch"
    status = 400


# ---------------------------------------------------------------- intents


def new_trade_no(now: datetime) -> str:
    """A unique, unguessable out_trade_no (≤ 32 chars, [A-Z0-9])."""
    return f"CF{now:%Y%m%d%H%M}{secrets.token_hex(6).upper()}"


def payable_bills(session: Session, *, user: User, bill_ids: Sequence[int]) -> list[Bill]:
    """The user's own open bills among bill_ids; any other id is refused as not found."""
    if not bill_ids:
        raise DomainError(_l("请选择要缴纳的账单"), field="bill_ids")
    unique_ids = sorted(set(bill_ids))
    found = list(
        session.scalars(
            select(Bill)
            .options(selectinload(Bill.lines), selectinload(Bill.unit))
            .where(
                Bill.id.in_(unique_ids),
                Bill.unit_id.in_(billing.owned_unit_ids(session, user) or [-1]),
            )
            .order_by(Bill.id)
        )
    )
    if len(found) != len(unique_ids):  # another owner's bill looks like no bill at all
        raise NotFound(_l("账单不存在"), field="bill_ids")
    if len({b.community_id for b in found}) > 1:
        raise DomainError(_l("一次只能缴纳同一小区的账单"), field="bill_ids")
    if any(b.outstanding_fen <= 0 for b in found):
        raise DomainError(_l("所选账单中有已结清的账单"), field="bill_ids", code="already_paid")
    due = payable_fen(session, bills=found)
    if any(due[b.id] <= 0 for b in found):
        raise DomainError(
            _l("所选账单的未缴金额正在异议处理中，暂不需缴纳"), field="bill_ids", code="on_hold"
        )
    return found


def payable_fen(session: Session, *, bills: Sequence[Bill]) -> dict[int, int]:
    """What each bill asks for now: its outstanding less any amount held by an open dispute."""
    held = billing.held_amounts(session, unit_ids=sorted({b.unit_id for b in bills}))
    return {
        b.id: b.outstanding_fen
        - sum(min(held.get(line.id, 0), line.outstanding_fen) for line in b.lines)
        for b in bills
    }


def create_intent(
    session: Session,
    *,
    user: User,
    bill_ids: Sequence[int],
    channel: str,
    idempotency_key: str,
    gateway: Gateway,
    now: datetime,
    notify_url: str,
    return_url: str,
) -> PaymentIntent:
    """A checkout for the outstanding amount of the chosen bills; same key → same intent."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > 64:
        raise DomainError(_l("缺少幂等键（1 到 64 个字符）"), field="idempotency_key")
    existing = session.scalar(
        select(PaymentIntent).where(
            PaymentIntent.user_id == user.id, PaymentIntent.idempotency_key == key
        )
    )
    if existing is not None:
        if (
            sorted({b.bill_id for b in existing.bills}) != sorted(set(bill_ids))
            or existing.channel != channel
        ):
            raise Conflict(_l("该幂等键已用于另一笔支付"), field="idempotency_key")
        return existing
    bills = payable_bills(session, user=user, bill_ids=bill_ids)
    due = payable_fen(session, bills=bills)
    amount = sum(due.values())
    community = session.get(Community, bills[0].community_id)
    intent = PaymentIntent(
        out_trade_no=new_trade_no(now),
        user_id=user.id,
        community_id=bills[0].community_id,
        channel=channel,
        amount_fen=amount,
        fee_fen=0,
        status=IntentStatus.PENDING,
        idempotency_key=key,
        created_at=now,
        expires_at=now + INTENT_TTL,
    )
    try:
        with session.begin_nested():
            session.add(intent)
            session.flush()
    except IntegrityError:  # the same key raced us: answer with the winner's intent
        winner = session.scalar(
            select(PaymentIntent).where(
                PaymentIntent.user_id == user.id, PaymentIntent.idempotency_key == key
            )
        )
        if winner is None:
            raise
        return winner
    for bill in bills:
        session.add(
            PaymentIntentBill(intent_id=intent.id, bill_id=bill.id, amount_fen=due[bill.id])
        )
    periods = "、".join(sorted({b.period_label for b in bills}))
    description = f"{community.name if community else ''} 物业费 {periods}"[:120]
    try:
        checkout = gateway.create_checkout(
            CheckoutRequest(
                out_trade_no=intent.out_trade_no,
                amount_fen=amount,
                description=description,
                notify_url=notify_url,
                return_url=return_url,
                expires_at=intent.expires_at,
            )
        )
    except (RuntimeError, OSError, ValueError) as exc:  # the platform refused or is down
        raise GatewayUnavailable(_l("支付渠道暂时不可用，请稍后再试或选择其他方式")) from exc
    intent.pay_url, intent.qr_code = checkout.pay_url, checkout.qr_code
    session.flush()
    return intent


def get_owned_intent(session: Session, *, user: User, intent_id: int) -> PaymentIntent | None:
    return session.scalar(
        select(PaymentIntent).where(PaymentIntent.id == intent_id, PaymentIntent.user_id == user.id)
    )


def intent_by_trade_no(session: Session, out_trade_no: str) -> PaymentIntent | None:
    return session.scalar(select(PaymentIntent).where(PaymentIntent.out_trade_no == out_trade_no))


@dataclass(frozen=True)
class Outcome:
    intent: PaymentIntent
    credited: bool  # this call posted the payment
    payment: Payment | None = None


def handle_notification(
    session: Session, *, channel: str, notification: Notification, now: datetime
) -> Outcome:
    """Apply a verified gateway notification; any number of repeats credit exactly once."""
    intent = intent_by_trade_no(session, notification.out_trade_no)
    if intent is None or intent.channel != channel:
        raise NotFound(_l("未知的商户订单号"), code="unknown_trade")
    if notification.amount_fen != intent.amount_fen:
        raise AmountMismatch(
            _l(
                "金额不符：应为 %(e)s 分，收到 %(g)s 分",
                e=intent.amount_fen,
                g=notification.amount_fen,
            )
        )
    if notification.status == NotificationStatus.FAILED:
        session.execute(
            update(PaymentIntent)
            .where(PaymentIntent.id == intent.id, PaymentIntent.status == IntentStatus.PENDING)
            .values(status=IntentStatus.FAILED, failed_at=now)
            .execution_options(synchronize_session=False)
        )
        session.expire(intent)
        return Outcome(intent, credited=False)
    if notification.status != NotificationStatus.SUCCESS:
        return Outcome(intent, credited=False)
    claimed = session.execute(
        update(PaymentIntent)
        .where(
            PaymentIntent.id == intent.id,
            PaymentIntent.status.in_([IntentStatus.PENDING, IntentStatus.FAILED]),
        )
        .values(status=IntentStatus.SUCCEEDED, txn_id=notification.txn_id, succeeded_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expire(intent)
    bills = [b.bill_id for b in intent.bills]
    if claimed == 1:
        payment = _new_payment(session, intent=intent, txn_id=notification.txn_id, now=now)
        credit(session, payment=payment, bill_ids=bills, flag_excess=True, now=now)
        return Outcome(intent, credited=True, payment=payment)
    if intent.txn_id == notification.txn_id:
        return Outcome(intent, credited=False)  # a repeat of the one that already counted
    # A second, different transaction for an intent that is already paid: real money, so
    # record it (once, by the unique txn id); it becomes prepayment flagged refund-due.
    try:
        with session.begin_nested():
            payment = _new_payment(session, intent=intent, txn_id=notification.txn_id, now=now)
    except IntegrityError:
        return Outcome(intent, credited=False)
    credit(session, payment=payment, bill_ids=bills, flag_excess=True, now=now)
    return Outcome(intent, credited=True, payment=payment)


def _new_payment(session: Session, *, intent: PaymentIntent, txn_id: str, now: datetime) -> Payment:
    first_bill = session.get(Bill, intent.bills[0].bill_id)
    payment = Payment(
        community_id=intent.community_id,
        payer_id=intent.user_id,
        unit_id=first_bill.unit_id if first_bill else 0,
        intent_id=intent.id,
        channel=intent.channel,
        txn_id=txn_id,
        amount_fen=intent.amount_fen,
        refund_due_fen=0,
        received_at=now,
        note="",
    )
    session.add(payment)
    session.flush()
    return payment


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
    held = billing.held_amounts(session, unit_ids=unit_ids)
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
        billing.apply_prepayment(
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


# ---------------------------------------------------------------- refunds


def refundable_fen(session: Session, *, payment: Payment) -> int:
    done = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
            Refund.payment_id == payment.id,
            Refund.status.in_([RefundStatus.DONE, RefundStatus.AWAITING_APPROVAL]),
        )
    )
    return payment.amount_fen - int(done or 0)


def request_refund(
    session: Session,
    *,
    payment: Payment,
    amount_fen: int,
    reason: str,
    actor: User,
    now: datetime,
    approval_threshold_fen: int,
) -> Refund:
    """Finance asks to refund; above the threshold a manager must approve it first."""
    if not reason.strip():
        raise DomainError(_l("请填写退款原因"), field="reason")
    if amount_fen <= 0 or amount_fen > refundable_fen(session, payment=payment):
        raise DomainError(_l("退款金额须大于 0 且不超过可退金额"), field="amount")
    refund = Refund(
        payment_id=payment.id,
        amount_fen=amount_fen,
        reason=reason.strip(),
        status=RefundStatus.AWAITING_APPROVAL,
        requested_by_id=actor.id,
        created_at=now,
    )
    session.add(refund)
    session.flush()
    audit.record(
        session,
        actor_id=actor.id,
        action="refund.request",
        target_type="refund",
        target_id=refund.id,
        community_id=payment.community_id,
        now=now,
        details={"payment_id": payment.id, "amount_fen": amount_fen, "reason": reason.strip()},
    )
    if amount_fen <= approval_threshold_fen:
        _execute_refund(session, refund=refund, approver=actor, now=now)
    return refund


def decide_refund(
    session: Session, *, refund: Refund, approve: bool, actor: User, now: datetime
) -> None:
    """A manager approves (and so executes) or rejects a refund awaiting approval."""
    if refund.requested_by_id == actor.id:
        raise DomainError(_l("退款申请须由另一位负责人审批"))
    if approve:
        _execute_refund(session, refund=refund, approver=actor, now=now)
    else:
        done = session.execute(
            update(Refund)
            .where(Refund.id == refund.id, Refund.status == RefundStatus.AWAITING_APPROVAL)
            .values(status=RefundStatus.REJECTED, approved_by_id=actor.id, decided_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if done != 1:
            raise Conflict(_l("该退款已处理"))
        session.expire(refund)
    audit.record(
        session,
        actor_id=actor.id,
        action="refund.approve" if approve else "refund.reject",
        target_type="refund",
        target_id=refund.id,
        community_id=refund.payment.community_id,
        now=now,
        details={},
    )


def _execute_refund(session: Session, *, refund: Refund, approver: User, now: datetime) -> None:
    done = session.execute(
        update(Refund)
        .where(Refund.id == refund.id, Refund.status == RefundStatus.AWAITING_APPROVAL)
        .values(status=RefundStatus.DONE, approved_by_id=approver.id, decided_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Conflict(_l("该退款已处理"))
    session.expire(refund)
    payment = refund.payment
    community_id = payment.community_id
    remaining = refund.amount_fen
    legs: list[ledger.Leg] = []
    # First from the unit's prepayment (money that paid nothing), then reopen what it paid.
    from_prepayment = min(
        remaining, max(0, ledger.prepayment_balance(session, unit_id=payment.unit_id))
    )
    if from_prepayment:
        legs.append(
            ledger.Leg(
                ledger.prepayment(session, community_id=community_id, unit_id=payment.unit_id),
                from_prepayment,
            )
        )
        remaining -= from_prepayment
        payment.refund_due_fen = max(0, payment.refund_due_fen - from_prepayment)
    for line_id, unit_id, paid in reversed(_paid_by(session, payment=payment)):
        if remaining <= 0:
            break
        take = min(paid, remaining)
        legs.append(
            ledger.Leg(
                ledger.receivable(session, community_id=community_id, unit_id=unit_id),
                take,
                line_id,
            )
        )
        remaining -= take
    if remaining > 0:
        raise DomainError(_l("可退金额不足"))
    legs.append(
        ledger.Leg(
            ledger.cash(session, community_id=community_id, channel=payment.channel),
            -refund.amount_fen,
        )
    )
    ledger.post(
        session,
        community_id=community_id,
        kind=EntryKind.REFUND,
        memo=f"退款 {refund.reason}"[:255],
        source_type="payment_refund",
        source_id=payment.id,
        legs=legs,
        now=now,
        actor_id=approver.id,
    )


def _paid_by(session: Session, *, payment: Payment) -> list[tuple[int, int, int]]:
    """(line id, unit id, fen still paid by this payment) in allocation order."""
    rows = session.execute(
        select(Posting.bill_line_id, Account.unit_id, func.sum(Posting.amount_fen))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(
            JournalEntry.source_id == payment.id,
            JournalEntry.source_type.in_(["payment", "payment_refund"]),
            Posting.bill_line_id.is_not(None),
        )
        .group_by(Posting.bill_line_id, Account.unit_id)
        .order_by(Posting.bill_line_id)
    ).all()
    return [(line_id, unit_id, -int(total)) for line_id, unit_id, total in rows if total < 0]


# ---------------------------------------------------------------- finance queries

CHANNEL_LABELS = {
    Channel.SANDBOX: "测试支付",
    Channel.WECHAT: "微信支付",
    Channel.ALIPAY: "支付宝",
    Channel.BANK_TRANSFER: "银行转账",
    Channel.CASH: "现金",
    Channel.POS: "POS 刷卡",
    Channel.AUTO_DEBIT: "银行代扣",
}


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel)


def journal(
    session: Session,
    *,
    community_id: int,
    start: date,
    end: date,
    channel: str | None = None,
    limit: int = 1000,
) -> list[Payment]:
    """Payments received in [start, end] (UTC dates), newest first."""
    query = (
        select(Payment)
        .options(selectinload(Payment.receipt))
        .where(
            Payment.community_id == community_id,
            Payment.received_at >= _day_start(start),
            Payment.received_at < _day_start(end + timedelta(days=1)),
        )
    )
    if channel:
        query = query.where(Payment.channel == channel)
    return list(session.scalars(query.order_by(Payment.received_at.desc()).limit(limit)))


def _day_start(day: date) -> datetime:
    from portal.timeutil import DEFAULT_TZ

    return datetime(day.year, day.month, day.day, tzinfo=DEFAULT_TZ)


def daily_totals(
    session: Session, *, community_id: int, start: date, end: date
) -> list[dict[str, Any]]:
    """Money received per local day and channel (set-based)."""
    payments = journal(session, community_id=community_id, start=start, end=end, limit=100000)
    from portal.timeutil import DEFAULT_TZ

    totals: dict[tuple[date, str], list[int]] = {}
    for p in payments:
        key = (p.received_at.astimezone(DEFAULT_TZ).date(), p.channel)
        acc = totals.setdefault(key, [0, 0])
        acc[0] += 1
        acc[1] += p.amount_fen
    return [
        {"day": d, "channel": c, "count": n, "amount_fen": a}
        for (d, c), (n, a) in sorted(totals.items(), reverse=True)
    ]


def refund_due(session: Session, *, community_id: int) -> list[Payment]:
    """Payments with money that paid nothing (double payments): to refund or confirm."""
    return list(
        session.scalars(
            select(Payment)
            .where(Payment.community_id == community_id, Payment.refund_due_fen > 0)
            .order_by(Payment.received_at)
        )
    )


def payments_of_units(session: Session, *, unit_ids: list[int]) -> list[Payment]:
    return list(
        session.scalars(
            select(Payment)
            .options(selectinload(Payment.receipt))
            .where(Payment.unit_id.in_(unit_ids or [-1]))
            .order_by(Payment.received_at.desc())
        )
    )


def get_owned_receipt(session: Session, *, user: User, receipt_id: int) -> Receipt | None:
    """A receipt of a payment on one of the user's units (or one they paid)."""
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        return None
    unit_ids = billing.owned_unit_ids(session, user)
    if receipt.payment.unit_id in unit_ids or receipt.payment.payer_id == user.id:
        return receipt
    return None


def receipt_lines(session: Session, *, payment: Payment) -> list[dict[str, Any]]:
    """What the payment paid: (line, period, amount) for the receipt."""
    rows = session.execute(
        select(
            BillLine.item_name,
            Bill.period,
            Bill.period_months,
            Unit.code,
            func.sum(Posting.amount_fen),
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .join(BillLine, BillLine.id == Posting.bill_line_id)
        .join(Bill, Bill.id == BillLine.bill_id)
        .join(Unit, Unit.id == Bill.unit_id)
        .where(JournalEntry.source_type == "payment", JournalEntry.source_id == payment.id)
        .group_by(BillLine.item_name, Bill.period, Bill.period_months, Unit.code, BillLine.id)
        .order_by(Bill.period, BillLine.id)
    ).all()
    out = [
        {
            "item": item,
            "period": (
                f"{period.year}-Q{(period.month - 1) // 3 + 1}"
                if months == 3
                else period.strftime("%Y-%m")
            ),
            "unit": unit_code,
            "amount_fen": -int(total),
        }
        for item, period, months, unit_code, total in rows
    ]
    paid = sum(row["amount_fen"] for row in out)
    if paid < payment.amount_fen:
        out.append(
            {"item": "预存款", "period": "", "unit": "", "amount_fen": payment.amount_fen - paid}
        )
    return out


# ---------------------------------------------------------------- auto-debit


def set_mandate(
    session: Session,
    *,
    user: User,
    unit: Unit,
    max_amount_fen: int,
    bank_account: str,
    now: datetime,
) -> AutoDebitMandate:
    """Create or change the owner's auto-debit for a unit, with their own cap per bill."""
    digits = "".join(ch for ch in bank_account if ch.isdigit())
    if len(digits) < 12 or len(digits) > 19:
        raise DomainError(_l("请输入 12 到 19 位银行卡号"), field="bank_account")
    if max_amount_fen <= 0:
        raise DomainError(_l("每期扣款上限须大于 0"), field="max_amount")
    mandate = session.scalar(
        select(AutoDebitMandate).where(
            AutoDebitMandate.unit_id == unit.id, AutoDebitMandate.user_id == user.id
        )
    )
    if mandate is None:
        mandate = AutoDebitMandate(user_id=user.id, unit_id=unit.id, created_at=now)
        session.add(mandate)
    mandate.bank_account_masked = f"**** **** **** {digits[-4:]}"
    mandate.max_amount_fen = max_amount_fen
    mandate.status = MandateStatus.ACTIVE
    mandate.updated_at = now
    session.flush()
    return mandate


def set_mandate_status(
    session: Session, *, mandate: AutoDebitMandate, status: str, now: datetime
) -> None:
    """Pause, resume or cancel an auto-debit."""
    if status not in set(MandateStatus):
        raise DomainError(_l("状态无效"))
    mandate.status, mandate.updated_at = status, now
    session.flush()


def mandates_of(session: Session, *, user: User) -> list[AutoDebitMandate]:
    return list(
        session.scalars(
            select(AutoDebitMandate).where(
                AutoDebitMandate.user_id == user.id,
                AutoDebitMandate.status != MandateStatus.CANCELLED,
            )
        )
    )


def debit_due_bills(session: Session, *, community: Community, on: date, now: datetime) -> int:
    """Collect bills due by `on` from active mandates whose cap covers them (idempotent)."""
    rows = session.execute(
        select(AutoDebitMandate, Bill)
        .join(Bill, and_(Bill.unit_id == AutoDebitMandate.unit_id))
        .where(
            AutoDebitMandate.status == MandateStatus.ACTIVE,
            Bill.community_id == community.id,
            Bill.outstanding_fen > 0,
            Bill.issued_on <= on,
            Bill.outstanding_fen <= AutoDebitMandate.max_amount_fen,
        )
    ).all()
    count = 0
    for mandate, bill in rows:
        reference = f"AD{bill.id:010d}"
        if session.scalar(
            select(Payment.id).where(
                Payment.channel == Channel.AUTO_DEBIT, Payment.txn_id == reference
            )
        ):
            continue
        payment = Payment(
            community_id=community.id,
            payer_id=mandate.user_id,
            unit_id=bill.unit_id,
            channel=Channel.AUTO_DEBIT,
            txn_id=reference,
            amount_fen=bill.outstanding_fen,
            refund_due_fen=0,
            received_at=now,
            note=f"代扣 {mandate.bank_account_masked}",
        )
        session.add(payment)
        session.flush()
        credit(session, payment=payment, bill_ids=[bill.id], flag_excess=True, now=now)
        count += 1
    messages.queue_autodebit_results(session, community=community, on=on, now=now)
    return count
