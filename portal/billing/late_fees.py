"""Late fees (违约金) only where the contract provides them: off by default, capped, never
on an amount on hold; and waivers, which credit a line through the ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.audit import service as audit
from portal.billing import holds, ledger, summaries
from portal.billing.models import (
    Bill,
    BillLine,
    EntryKind,
    LateFeePolicy,
    LineKind,
)
from portal.billing.runs import add_months
from portal.communities.models import (
    Community,
)
from portal.errors import DomainError
from portal.money import fen_to_yuan_str, round_fen

# ---------------------------------------------------------------- late fees


def late_fee_policy(session: Session, *, community_id: int) -> LateFeePolicy | None:
    return session.get(LateFeePolicy, community_id)


def set_late_fee_policy(
    session: Session,
    *,
    community: Community,
    enabled: bool,
    daily_rate: Decimal,
    cap_rate: Decimal,
    grace_days: int,
    clause_ref: str,
    actor: User,
    now: datetime,
) -> LateFeePolicy:
    """Turn late fees on or off; enabling needs the contract clause that provides them."""
    if enabled and not clause_ref.strip():
        raise DomainError(_l("启用违约金必须填写合同依据条款"), field="clause_ref")
    if not Decimal(0) <= daily_rate <= Decimal("0.001"):
        raise DomainError(_l("日费率须在 0 到 0.1% 之间"), field="daily_rate")
    if not Decimal(0) <= cap_rate <= Decimal("0.3"):
        raise DomainError(_l("违约金上限须在本金的 0 到 30% 之间"), field="cap_rate")
    if not 0 <= grace_days <= 365:
        raise DomainError(_l("宽限期须在 0 到 365 天之间"), field="grace_days")
    policy = session.get(LateFeePolicy, community.id) or LateFeePolicy(community_id=community.id)
    before = {
        "enabled": policy.enabled,
        "daily_rate": str(policy.daily_rate),
        "cap_rate": str(policy.cap_rate),
    }
    policy.enabled, policy.daily_rate, policy.cap_rate = enabled, daily_rate, cap_rate
    policy.grace_days, policy.clause_ref, policy.updated_at = grace_days, clause_ref.strip(), now
    session.add(policy)
    session.flush()
    audit.record(
        session,
        actor_id=actor.id,
        action="late_fee_policy.update",
        target_type="community",
        target_id=community.id,
        community_id=community.id,
        now=now,
        details={
            "before": before,
            "after": {"enabled": enabled, "daily_rate": str(daily_rate), "cap_rate": str(cap_rate)},
        },
    )
    return policy


PlannedBills = Callable[[Session, int], dict[int, date]]
_planned: list[PlannedBills] = []


def on_planned_bills(provider: PlannedBills) -> None:
    """Let collections say which bills are in a payment plan being kept: {unit_id: date},
    bills of the unit due before that date are planned and accrue no late fee. Collections
    sits above billing, so it installs this at import (as transparency does for messages)."""
    if provider not in _planned:
        _planned.append(provider)


def assess_late_fees(session: Session, *, community: Community, on: date, now: datetime) -> int:
    """Add this month's late-fee line to each overdue bill; idempotent per bill and month.

    Fee = unpaid principal (less amounts under dispute) × daily rate × days overdue past the
    grace period in this month, and all late fees of a bill together never exceed the cap.
    """
    policy = late_fee_policy(session, community_id=community.id)
    if policy is None or not policy.enabled:
        return 0
    # Late fees are assessed per complete calendar month, so a daily run adds each month's
    # line once, on or after the month's last day.
    month_end = add_months(on.replace(day=1), 1) - timedelta(days=1)
    if on < month_end:
        month_end = on.replace(day=1) - timedelta(days=1)
    month = month_end.replace(day=1)
    cutoff = month_end - timedelta(days=policy.grace_days)
    bills = session.scalars(
        select(Bill)
        .options(selectinload(Bill.lines))
        .where(Bill.community_id == community.id, Bill.outstanding_fen > 0, Bill.due_date < cutoff)
    ).all()
    planned: dict[int, date] = {}
    for provider in _planned:
        planned.update(provider(session, community.id))
    created = 0
    for bill in bills:
        if any(line.late_fee_month == month for line in bill.lines):
            continue
        if bill.unit_id in planned and bill.due_date < planned[bill.unit_id]:
            continue  # in a payment plan the owner keeps: no late fee on the planned amount
        charges = [line for line in bill.lines if line.kind == LineKind.CHARGE]
        held = holds.held_amounts(session, unit_ids=[bill.unit_id])
        principal = sum(max(0, line.outstanding_fen - held.get(line.id, 0)) for line in charges)
        if principal <= 0:
            continue
        start = max(bill.due_date + timedelta(days=policy.grace_days), month - timedelta(days=1))
        days = (month_end - start).days
        if days <= 0:
            continue
        so_far = sum(line.amount_fen for line in bill.lines if line.kind == LineKind.LATE_FEE)
        cap = round_fen(Decimal(sum(line.amount_fen for line in charges)) * policy.cap_rate)
        amount = min(round_fen(Decimal(principal) * days * policy.daily_rate), cap - so_far)
        if amount <= 0:
            continue
        line = BillLine(
            bill_id=bill.id,
            kind=LineKind.LATE_FEE,
            item_code="late_fee",
            item_name="违约金",
            quantity=Decimal(principal * days),
            rate=policy.daily_rate,
            months=0,
            amount_fen=amount,
            outstanding_fen=0,
            waived_fen=0,
            late_fee_month=month,
            explanation=(
                f"未缴本金 ¥{fen_to_yuan_str(principal)} × {days} 天 × "
                f"{policy.daily_rate * 100:.3f}%/天（{policy.clause_ref}）"
            ),
        )
        session.add(line)
        session.execute(
            update(Bill)
            .where(Bill.id == bill.id)
            .values(amount_fen=Bill.amount_fen + amount)
            .execution_options(synchronize_session=False)
        )
        session.flush()
        # The new line starts at nothing outstanding and its entry below moves it up, so here
        # the summary sees only the bill's larger amount.
        summaries.bills_changed(session, {bill.id: (amount, 0, 0)})
        ar = ledger.receivable(session, community_id=community.id, unit_id=bill.unit_id)
        fee_income = ledger.income(
            session, community_id=community.id, item_code="late_fee", name="违约金收入"
        )
        ledger.post(
            session,
            community_id=community.id,
            kind=EntryKind.LATE_FEE,
            memo=f"违约金 {month:%Y-%m}",
            source_type="bill",
            source_id=bill.id,
            legs=[ledger.Leg(ar, amount, line.id), ledger.Leg(fee_income, -amount)],
            now=now,
        )
        session.expire(bill)
        created += 1
    return created


def waive_line(
    session: Session,
    *,
    line: BillLine,
    amount_fen: int,
    reason: str,
    actor: User,
    now: datetime,
    kind: str = EntryKind.WAIVER,
) -> None:
    """Waive (or credit) part of a line, with a reason; audited and posted to the ledger."""
    if not reason.strip():
        raise DomainError(_l("请填写减免原因"), field="reason")
    if amount_fen <= 0 or amount_fen > line.outstanding_fen:
        raise DomainError(
            _l(
                "减免金额须大于 0 且不超过未缴金额 %(max)s 元",
                max=fen_to_yuan_str(line.outstanding_fen),
            ),
            field="amount",
        )
    bill = line.bill
    ar = ledger.receivable(session, community_id=bill.community_id, unit_id=bill.unit_id)
    code = "waiver" if kind == EntryKind.WAIVER else "adjustment"
    contra = ledger.expense(
        session,
        community_id=bill.community_id,
        code=code,
        name="减免" if code == "waiver" else "调整",
    )
    ledger.post(
        session,
        community_id=bill.community_id,
        kind=kind,
        memo=f"{line.item_name} {reason.strip()}"[:255],
        source_type="bill_line",
        source_id=line.id,
        legs=[ledger.Leg(contra, amount_fen), ledger.Leg(ar, -amount_fen, line.id)],
        now=now,
        actor_id=actor.id,
    )
    audit.record(
        session,
        actor_id=actor.id,
        action=f"bill_line.{code}",
        target_type="bill_line",
        target_id=line.id,
        community_id=bill.community_id,
        now=now,
        details={"amount_fen": amount_fen, "reason": reason.strip()},
    )
