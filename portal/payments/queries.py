"""Reading payments: the finance journal and daily totals, refunds due, an owner's
payments and receipts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, contains_eager, selectinload

from portal.accounts.models import User
from portal.billing import queries as billing_queries
from portal.billing.models import Bill, BillLine, JournalEntry, Posting
from portal.communities.models import Unit
from portal.payments.models import (
    Channel,
    Payment,
    Receipt,
    Refund,
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


def journal_query(
    session: Session,
    *,
    community_id: int,
    start: date,
    end: date,
    channel: str | None = None,
) -> Select[tuple[Payment]]:
    """Payments received in [start, end] (local dates), newest first: every row, no cap."""
    query = select(Payment).where(
        Payment.community_id == community_id,
        Payment.received_at >= _day_start(start),
        Payment.received_at < _day_start(end + timedelta(days=1)),
    )
    if channel:
        query = query.where(Payment.channel == channel)
    return query.order_by(Payment.received_at.desc(), Payment.id.desc())


def journal(
    session: Session,
    *,
    community_id: int,
    start: date,
    end: date,
    channel: str | None = None,
) -> list[Payment]:
    """Every payment of the range as a list, newest first (no cap: pages use journal_page,
    exports iter_journal)."""
    query = journal_query(session, community_id=community_id, start=start, end=end, channel=channel)
    return list(session.scalars(query.options(selectinload(Payment.receipt))))


@dataclass(frozen=True)
class JournalPage:
    payments: list[Payment]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def journal_page(
    session: Session,
    *,
    community_id: int,
    start: date,
    end: date,
    channel: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> JournalPage:
    """One page of the journal for the screen (the export streams all of it)."""
    query = journal_query(session, community_id=community_id, start=start, end=end, channel=channel)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    page = max(1, page)
    rows = session.scalars(
        query.options(selectinload(Payment.receipt)).offset((page - 1) * per_page).limit(per_page)
    )
    return JournalPage(payments=list(rows), total=total, page=page, per_page=per_page)


def iter_journal(
    session: Session,
    *,
    community_id: int,
    start: date,
    end: date,
    channel: str | None = None,
    batch: int = 500,
) -> Iterator[tuple[Payment, str, str]]:
    """Every payment of the range with its unit code and receipt number, fetched in batches
    of `batch` rows, so an export of a year of a large community stays small in memory."""
    query = (
        journal_query(session, community_id=community_id, start=start, end=end, channel=channel)
        .add_columns(Unit.code, Receipt.number)
        .outerjoin(Unit, Unit.id == Payment.unit_id)
        .outerjoin(Receipt, Receipt.payment_id == Payment.id)
        .execution_options(yield_per=batch)
    )
    for payment, unit_code, number in session.execute(query):
        yield payment, unit_code or "", number or ""


def _day_start(day: date) -> datetime:
    from portal.timeutil import DEFAULT_TZ

    return datetime(day.year, day.month, day.day, tzinfo=DEFAULT_TZ)


def daily_totals(
    session: Session, *, community_id: int, start: date, end: date
) -> list[dict[str, Any]]:
    """Money received per local day and channel, over every payment of the range (three
    columns a row, read in batches: local days need the zone, which SQL dialects differ on)."""
    from portal.timeutil import DEFAULT_TZ

    rows = session.execute(
        select(Payment.received_at, Payment.channel, Payment.amount_fen)
        .where(
            Payment.community_id == community_id,
            Payment.received_at >= _day_start(start),
            Payment.received_at < _day_start(end + timedelta(days=1)),
        )
        .execution_options(yield_per=2000)
    )
    totals: dict[tuple[date, str], list[int]] = {}
    for received_at, channel, amount_fen in rows:
        key = (received_at.astimezone(DEFAULT_TZ).date(), channel)
        acc = totals.setdefault(key, [0, 0])
        acc[0] += 1
        acc[1] += amount_fen
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


@dataclass(frozen=True)
class RefundPage:
    refunds: list[Refund]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def refunds_page(
    session: Session, *, community_id: int, page: int = 1, per_page: int = 50
) -> RefundPage:
    """The community's refunds, newest first, a page at a time (none left out)."""
    where = Payment.community_id == community_id
    total = int(
        session.scalar(select(func.count(Refund.id)).join(Refund.payment).where(where)) or 0
    )
    page = max(1, page)
    rows = session.scalars(
        select(Refund)
        .join(Refund.payment)
        .options(contains_eager(Refund.payment))
        .where(where)
        .order_by(Refund.created_at.desc(), Refund.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return RefundPage(refunds=list(rows), total=total, page=page, per_page=per_page)


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


RECEIPT_STAFF = ("finance", "manager")


def get_viewable_receipt(session: Session, *, user: User, receipt_id: int) -> Receipt | None:
    """The receipt if the user may open it: the owner (or payer) of the payment, or finance
    and managers of the receipt's own community (admins too); None (→ 404) otherwise."""
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        return None
    if user.is_admin or receipt.community_id in user.community_ids(*RECEIPT_STAFF):
        return receipt
    return get_owned_receipt(session, user=user, receipt_id=receipt_id)


@dataclass(frozen=True)
class ReceiptPage:
    receipts: list[Receipt]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def receipts_page(
    session: Session, *, user: User, page: int = 1, per_page: int = 20
) -> ReceiptPage:
    """我的收据: receipts of every payment on a unit the user owns (online or recorded by
    finance) and of every payment they made, newest first."""
    unit_ids = billing_queries.owned_unit_ids(session, user)
    where = or_(Payment.unit_id.in_(unit_ids or [-1]), Payment.payer_id == user.id)
    total = int(
        session.scalar(select(func.count(Receipt.id)).join(Receipt.payment).where(where)) or 0
    )
    page = max(1, page)
    rows = session.scalars(
        select(Receipt)
        .join(Receipt.payment)
        .options(contains_eager(Receipt.payment))
        .where(where)
        .order_by(Receipt.issued_at.desc(), Receipt.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return ReceiptPage(receipts=list(rows), total=total, page=page, per_page=per_page)


def receipts_by_payment(session: Session, *, payment_ids: Iterable[int]) -> dict[int, Receipt]:
    ids = sorted(set(payment_ids))
    if not ids:
        return {}
    return {
        r.payment_id: r for r in session.scalars(select(Receipt).where(Receipt.payment_id.in_(ids)))
    }


def receipts_for_bill(session: Session, *, bill_id: int) -> list[Receipt]:
    """Receipts of the payments that paid (part of) this bill, oldest first."""
    # Driven from the bill's few lines (IN lists, not joins): SQLite otherwise starts from
    # every payment entry of the company by source_type and reads each one's postings.
    lines = select(BillLine.id).where(BillLine.bill_id == bill_id)
    entries = select(Posting.entry_id).where(Posting.bill_line_id.in_(lines))
    paid_by = select(JournalEntry.source_id).where(
        JournalEntry.id.in_(entries), JournalEntry.source_type == "payment"
    )
    return list(
        session.scalars(
            select(Receipt)
            .where(Receipt.payment_id.in_(paid_by))
            .order_by(Receipt.issued_at, Receipt.id)
        )
    )


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
