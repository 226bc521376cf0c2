"""Messages about auto-debit (代扣): a success SMS after each debit, and a note when a bill
was above the owner's cap and so was not debited."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.billing.messages import period_label
from portal.billing.models import Bill
from portal.communities.models import Community
from portal.notify import service as notify
from portal.notify.models import Category, Reason
from portal.payments.models import AutoDebitMandate, Channel, MandateStatus, Payment, Receipt


def queue_autodebit_results(
    session: Session, *, community: Community, on: date, now: datetime
) -> int:
    """After a debit run: tell each owner what was debited, or that a bill was above the cap
    they chose; idempotent (one message per payment, one per bill over the cap)."""
    queued = 0
    debited = session.execute(
        select(Payment, Receipt)
        .outerjoin(Receipt, Receipt.payment_id == Payment.id)
        .where(
            Payment.community_id == community.id,
            Payment.channel == Channel.AUTO_DEBIT,
            Payment.received_at == now,
        )
    ).all()
    for payment, receipt in debited:
        # debit_due_bills names each debit AD + the bill id in ten digits.
        bill = session.get(Bill, int(payment.txn_id[2:])) if payment.txn_id[2:].isdigit() else None
        payer = session.get(User, payment.payer_id) if payment.payer_id else None
        if payer is None or bill is None:
            continue
        zh, en = period_label(bill)
        queued += len(
            notify.queue_message(
                session,
                event_key=f"autodebit_ok:payment:{payment.id}",
                recipient=payer,
                community_id=community.id,
                unit_id=payment.unit_id,
                reason=Reason.AUTODEBIT_SUCCEEDED,
                category=Category.SERVICE,  # a receipt: not about money owed, not capped
                template_key=Reason.AUTODEBIT_SUCCEEDED,
                context={
                    "period": zh,
                    "period_en": en,
                    "amount_fen": payment.amount_fen,
                    "account": payment.note.removeprefix("代扣 "),
                    "receipt_url": notify.public_url(
                        f"/receipts/{receipt.id}" if receipt else "/bills?status=paid"
                    ),
                },
                related_type="payment",
                related_id=payment.id,
                now=now,
            )
        )
    over_cap = session.execute(
        select(AutoDebitMandate, Bill)
        .join(Bill, Bill.unit_id == AutoDebitMandate.unit_id)
        .where(
            AutoDebitMandate.status == MandateStatus.ACTIVE,
            Bill.community_id == community.id,
            Bill.outstanding_fen > 0,
            Bill.issued_on <= on,
            Bill.outstanding_fen > AutoDebitMandate.max_amount_fen,
        )
    ).all()
    for mandate, bill in over_cap:
        owner = session.get(User, mandate.user_id)
        if owner is None:
            continue
        zh, en = period_label(bill)
        queued += len(
            notify.queue_message(
                session,
                event_key=f"autodebit_over_cap:bill:{bill.id}:cap:{mandate.max_amount_fen}",
                recipient=owner,
                community_id=community.id,
                unit_id=bill.unit_id,
                reason=Reason.AUTODEBIT_FAILED,
                category=Category.MONEY,
                template_key=Reason.AUTODEBIT_FAILED,
                context={
                    "period": zh,
                    "period_en": en,
                    "amount_fen": bill.outstanding_fen,
                    "cap_fen": mandate.max_amount_fen,
                    "due_date": bill.due_date.isoformat(),
                    "pay_url": notify.public_url(f"/bills/{bill.id}"),
                },
                related_type="bill",
                related_id=bill.id,
                amount_fen=bill.outstanding_fen,
                now=now,
            )
        )
    return queued
