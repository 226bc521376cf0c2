"""Refunds: what of a payment may be refunded, the request, the approval by someone
else, and the reversal in the ledger."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import service as audit
from portal.billing import ledger
from portal.billing.models import Account, EntryKind, JournalEntry, Posting
from portal.errors import Conflict, DomainError
from portal.payments.models import (
    Payment,
    Refund,
    RefundStatus,
)

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
        remaining,
        max(
            0,
            ledger.prepayment_balance(session, unit_id=payment.unit_id, community_id=community_id),
        ),
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
