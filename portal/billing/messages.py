"""Messages about bills: bill issued (after a billing run) and due in 3 days (daily).

Billing owns these events, so it composes their context and hands them to notify's outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.billing import holds
from portal.billing.models import Bill
from portal.communities.models import Community
from portal.notify import service as notify
from portal.notify.models import Category, Reason

DUE_SOON_DAYS = 3


def period_label(bill: Any) -> tuple[str, str]:  # a Bill or a BILL_FACTS row
    """The bill's period in Chinese and English: 2026年12月 / 2026-12, or a quarter."""
    if bill.period_months == 3:
        quarter = (bill.period.month - 1) // 3 + 1
        return f"{bill.period.year}年第{quarter}季度", f"{bill.period.year} Q{quarter}"
    return f"{bill.period.year}年{bill.period.month}月", bill.period.strftime("%Y-%m")


def _held_per_bill(session: Session, bills: Sequence[Any]) -> dict[int, int]:
    held = holds.held_by_bill(session, unit_ids={b.unit_id for b in bills})
    return {bill_id: sum(lines.values()) for bill_id, lines in held.items()}


SpendingLine = Callable[[Session, Community, date], tuple[str, str]]
_spending_lines: list[SpendingLine] = []


def on_spending_line(provider: SpendingLine) -> None:
    """Let transparency say what the fees paid for last month (it sits above billing, because
    its pages read billing's figures); transparency.summary installs it at import."""
    if provider not in _spending_lines:
        _spending_lines.append(provider)


def spending_line(session: Session, community: Community, period: date) -> tuple[str, str]:
    """One line for the bill-issued message about the month before `period`."""
    for provider in _spending_lines:
        return provider(session, community, period)
    return (
        "上月支出明细在小区收支公开页可查。",
        "Last month's spending is published on the community page.",
    )


def _bill_requests(
    *,
    bill: Any,  # a Bill or a BILL_FACTS row
    community: Community,
    reason: str,
    event: str,
    held_fen: int,
    extra: dict[str, str],
    owners: list[User],
) -> list[notify.MessageRequest]:
    zh, en = period_label(bill)
    payable = max(0, bill.outstanding_fen - held_fen)
    pay_url = notify.public_url(f"/bills/{bill.id}")
    return [
        notify.MessageRequest(
            event_key=f"{event}:bill:{bill.id}",
            recipient=owner,
            community_id=community.id,
            unit_id=bill.unit_id,
            reason=reason,
            category=Category.MONEY,
            template_key=reason,
            context={
                "period": zh,
                "period_en": en,
                "amount_fen": payable,
                "due_date": bill.due_date.isoformat(),
                "pay_url": pay_url,
                **extra,
            },
            related_type="bill",
            related_id=bill.id,
            amount_fen=payable,
            held_fen=held_fen,
        )
        for owner in owners
    ]


# What a bill's message names: a Bill, or a row of these columns (a billing run's 20,000)
BILL_FACTS = (
    Bill.id,
    Bill.unit_id,
    Bill.period,
    Bill.period_months,
    Bill.outstanding_fen,
    Bill.due_date,
)


def queue_bills_issued(
    session: Session, *, bills: Sequence[Any], community: Community, now: datetime
) -> int:
    """Tell each owner their new bill: period, amount, due date, pay link, and one line of
    what the fees paid for last month (the seeds' 温馨提示 at the start of each cycle).
    Queued as one batch (a billing run's thousands of owners: notify reads what they need
    once, not per owner)."""
    if not bills:
        return 0
    held = _held_per_bill(session, bills)
    owners = notify.owners_of_units(session, [b.unit_id for b in bills])
    line, line_en = spending_line(session, community, bills[0].period)
    extra = {
        "spending_line": line,
        "spending_line_en": line_en,
        "spending_url": notify.public_url(f"/c/{community.code}/spending"),
    }
    requests = [
        request
        for bill in bills
        for request in _bill_requests(
            bill=bill,
            community=community,
            reason=Reason.BILL_ISSUED,
            event="bill_issued",
            held_fen=held.get(bill.id, 0),
            extra=extra,
            owners=owners.get(bill.unit_id, []),
        )
    ]
    return notify.queue_in_batches(session, requests, now=now)


def queue_due_soon(session: Session, day: date, now: datetime) -> int:
    """Remind owners of bills due in 3 days that are still open (idempotent per bill)."""
    bills = list(
        session.scalars(
            select(Bill)
            .where(Bill.due_date == day + timedelta(days=DUE_SOON_DAYS), Bill.outstanding_fen > 0)
            .order_by(Bill.community_id, Bill.id)
        )
    )
    held = _held_per_bill(session, bills)
    owners = notify.owners_of_units(session, [b.unit_id for b in bills])
    communities = {c.id: c for c in session.scalars(select(Community))}
    requests = [
        request
        for bill in bills
        for request in _bill_requests(
            bill=bill,
            community=communities[bill.community_id],
            reason=Reason.DUE_SOON,
            event="due_soon",
            held_fen=held.get(bill.id, 0),
            extra={},
            owners=owners.get(bill.unit_id, []),
        )
    ]
    return notify.queue_in_batches(session, requests, now=now)  # the company's bills that day


notify.register_daily("due_soon", queue_due_soon)
