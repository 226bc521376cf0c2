"""Reading payments: the finance journal and daily totals, refunds due, an owner's
payments and receipts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.billing import queries as billing_queries
from portal.billing.models import Bill, BillLine, JournalEntry, Posting
from portal.communities.models import Unit
from portal.payments.models import (
    Channel,
    Payment,
    Receipt,
)

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
    unit_ids = billing_queries.owned_unit_ids(session, user)
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
