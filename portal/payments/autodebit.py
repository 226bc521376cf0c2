"""Bank auto-debit: an owner's mandate, its status, and the run that debits bills due."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.billing.models import Bill
from portal.communities.models import Community, Unit
from portal.errors import DomainError
from portal.payments import messages
from portal.payments.crediting import credit
from portal.payments.models import (
    AutoDebitMandate,
    Channel,
    MandateStatus,
    Payment,
)

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
