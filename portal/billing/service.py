"""Billing: fee-standard versions, billing runs, late fees, owner-scoped bill look-ups."""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select, update
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.audit import service as audit
from portal.billing import messages
from portal.billing.models import (
    FEE_ITEMS,
    Basis,
    Bill,
    BillLine,
    FeeStandard,
    LateFeePolicy,
    LineKind,
)
from portal.communities.models import (
    BillingCycle,
    Building,
    Community,
    Ownership,
    PropertyType,
    Unit,
)
from portal.domains import optional_module
from portal.errors import DomainError
from portal.ledger import service as ledger
from portal.ledger.models import EntryKind
from portal.money import fen_to_yuan_str, line_amount_fen, round_fen
from portal.timeutil import local_today, zone
from portal.transparency import publication

DUE_DAYS = 15  # due on the 15th day after issue unless the contract says otherwise
RATE_STEP = Decimal("0.0001")


# ---------------------------------------------------------------- fee standards


def _standard_payload(standard: FeeStandard) -> dict[str, Any]:
    return {
        "property_type": standard.property_type,
        "item_code": standard.item_code,
        "item_name": standard.item_name,
        "basis": standard.basis,
        # As stored (Numeric(12, 4)), so the payload rebuilt after a reload is identical.
        "rate": str(Decimal(standard.rate).quantize(RATE_STEP)),
        "effective_from": standard.effective_from.isoformat(),
        "approval_ref": standard.approval_ref,
        "version": standard.version,
        "supersedes_id": standard.supersedes_id,
        "notice_id": standard.notice_id,
    }


def _payload_of(session: Session, record_id: int) -> dict[str, Any] | None:
    standard = session.get(FeeStandard, record_id)
    return _standard_payload(standard) if standard else None


publication.register_kind("fee_standard", _payload_of)


def latest_version(
    session: Session, *, community_id: int, property_type: str, item_code: str
) -> FeeStandard | None:
    return session.scalar(
        select(FeeStandard)
        .where(
            FeeStandard.community_id == community_id,
            FeeStandard.property_type == property_type,
            FeeStandard.item_code == item_code,
        )
        .order_by(FeeStandard.version.desc())
        .limit(1)
    )


def _check_notice(
    session: Session, *, community: Community, notice_id: int | None, effective_from: date
) -> None:
    """A changed standard must be announced at least the notice period before it applies."""
    if notice_id is None:
        raise DomainError(_l("调整收费标准须先发布收费标准调整公告"), field="notice_id")
    notices = optional_module("notices", "service")
    if notices is None or not hasattr(notices, "published_fee_change_notices"):
        raise DomainError(_l("公告功能不可用，无法核对公示期"), field="notice_id")
    notice = next(
        (
            n
            for n in notices.published_fee_change_notices(session, community_id=community.id)
            if n.id == notice_id
        ),
        None,
    )
    if notice is None:
        raise DomainError(_l("请选择本小区已发布的收费标准调整公告"), field="notice_id")
    announced_on = notice.published_at.astimezone(zone(community.timezone)).date()
    earliest = announced_on + timedelta(days=community.notice_period_days)
    if effective_from < earliest:
        raise DomainError(
            _l(
                "公告于 %(on)s 发布，公示期 %(days)s 天，新标准最早 %(earliest)s 起执行",
                on=announced_on.isoformat(),
                days=community.notice_period_days,
                earliest=earliest.isoformat(),
            ),
            field="effective_from",
        )


def create_standard(
    session: Session,
    *,
    community: Community,
    property_type: str,
    item_code: str,
    basis: str,
    rate: Decimal,
    effective_from: date,
    approval_ref: str,
    now: datetime,
    actor_id: int | None,
    item_name: str | None = None,
    notice_id: int | None = None,
    note: str = "",
) -> FeeStandard:
    """Publish a new version of a fee standard; changes need a timely fee-change notice."""
    if property_type not in set(PropertyType):
        raise DomainError(_l("物业类型无效"), field="property_type")
    if basis not in set(Basis):
        raise DomainError(_l("计费方式无效"), field="basis")
    if rate < 0 or rate != rate.quantize(RATE_STEP) or rate > Decimal("10000"):
        raise DomainError(_l("单价须为非负数，最多四位小数"), field="rate")
    if not approval_ref.strip():
        raise DomainError(_l("请填写批准文件或合同条款"), field="approval_ref")
    name = (item_name or FEE_ITEMS.get(item_code) or "").strip()
    if not name or len(item_code) > 40:
        raise DomainError(_l("收费项目无效"), field="item_code")
    previous = latest_version(
        session, community_id=community.id, property_type=property_type, item_code=item_code
    )
    if previous is not None:
        if effective_from <= previous.effective_from:
            raise DomainError(
                _l("新版本的执行日期必须晚于 %(d)s", d=previous.effective_from.isoformat()),
                field="effective_from",
            )
        _check_notice(
            session, community=community, notice_id=notice_id, effective_from=effective_from
        )
    standard = FeeStandard(
        community_id=community.id,
        property_type=property_type,
        item_code=item_code,
        item_name=name,
        basis=basis,
        rate=rate,
        effective_from=effective_from,
        approval_ref=approval_ref.strip(),
        version=(previous.version + 1) if previous else 1,
        supersedes_id=previous.id if previous else None,
        notice_id=notice_id,
        note=note,
        created_by_id=actor_id,
        created_at=now,
    )
    session.add(standard)
    session.flush()
    publication.append(
        session,
        community=community,
        kind="fee_standard",
        record_id=standard.id,
        payload=_standard_payload(standard),
        now=now,
    )
    audit.record(
        session,
        actor_id=actor_id,
        action="fee_standard.create",
        target_type="fee_standard",
        target_id=standard.id,
        community_id=community.id,
        now=now,
        details={"item": item_code, "rate": str(rate), "version": standard.version},
    )
    return standard


def current_standards(session: Session, *, community_id: int, on: date) -> list[FeeStandard]:
    """The version of each (property type, item) in force on a date."""
    ranked = (
        select(
            FeeStandard.id,
            func.row_number()
            .over(
                partition_by=(FeeStandard.property_type, FeeStandard.item_code),
                order_by=FeeStandard.effective_from.desc(),
            )
            .label("rn"),
        )
        .where(FeeStandard.community_id == community_id, FeeStandard.effective_from <= on)
        .subquery()
    )
    return list(
        session.scalars(
            select(FeeStandard)
            .join(ranked, and_(ranked.c.id == FeeStandard.id, ranked.c.rn == 1))
            .order_by(FeeStandard.property_type, FeeStandard.item_code)
        )
    )


def standard_history(session: Session, *, community_id: int) -> list[FeeStandard]:
    """Every version, newest first within each item."""
    return list(
        session.scalars(
            select(FeeStandard)
            .where(FeeStandard.community_id == community_id)
            .order_by(FeeStandard.property_type, FeeStandard.item_code, FeeStandard.version.desc())
        )
    )


# ---------------------------------------------------------------- billing runs


def period_start(text: str) -> date:
    """Parse 'YYYY-MM' into the first day of that month."""
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError) as exc:
        raise DomainError(_l("账期格式应为 YYYY-MM"), field="period") from exc


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class PlannedLine:
    item_code: str
    item_name: str
    standard: FeeStandard
    quantity: Decimal
    months: int
    amount_fen: int
    explanation: str


@dataclass
class PlannedBill:
    unit: Unit
    lines: list[PlannedLine]

    @property
    def amount_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)


@dataclass
class RunResult:
    period: date
    months: int
    created: int = 0
    existing: int = 0
    without_standard: int = 0
    amount_fen: int = 0
    planned: int = 0


def _cycle(community: Community, period: date) -> int:
    if community.billing_cycle == BillingCycle.QUARTERLY:
        if period.month % 3 != 1:
            raise DomainError(
                _l("本小区按季度计费，账期须为季度首月（1、4、7、10 月）"), field="period"
            )
        return 3
    return 1


def plan_bills(
    session: Session, *, community: Community, period: date
) -> tuple[list[PlannedBill], RunResult]:
    """What a run would create (for preview): bills for units without one for the period."""
    months = _cycle(community, period)
    result = RunResult(period=period, months=months)
    standards = defaultdict(list)
    for standard in current_standards(session, community_id=community.id, on=period):
        if standard.basis != Basis.METERED and standard.rate > 0:
            standards[standard.property_type].append(standard)
    billed = set(
        session.scalars(
            select(Bill.unit_id).where(Bill.community_id == community.id, Bill.period == period)
        )
    )
    result.existing = len(billed)
    planned: list[PlannedBill] = []
    units = session.scalars(select(Unit).where(Unit.community_id == community.id).order_by(Unit.id))
    for unit in units:
        if unit.id in billed:
            continue
        lines = []
        for standard in standards.get(unit.property_type, []):
            if standard.basis == Basis.PER_M2_MONTH:
                quantity = unit.area_m2
                explanation = f"{unit.area_m2}㎡ × {standard.rate} 元/㎡·月 × {months} 月"
            else:
                quantity = Decimal(1)
                explanation = f"1 户 × {standard.rate} 元/户·月 × {months} 月"
            amount = line_amount_fen(quantity * months, standard.rate)
            if amount > 0:
                lines.append(
                    PlannedLine(
                        standard.item_code,
                        standard.item_name,
                        standard,
                        quantity,
                        months,
                        amount,
                        explanation,
                    )
                )
        if lines:
            planned.append(PlannedBill(unit, lines))
        else:
            result.without_standard += 1
    result.amount_fen = sum(p.amount_fen for p in planned)
    result.planned = len(planned)
    return planned, result


def generate_bills(
    session: Session,
    *,
    community: Community,
    period: date,
    now: datetime,
    actor_id: int | None = None,
    announce: bool = True,
) -> RunResult:
    """Create one bill per unit for the period; re-running the same period creates nothing.
    announce=False skips the bill-issued messages (demo history, bulk back-fills)."""
    planned, result = plan_bills(session, community=community, period=period)
    today = local_today(zone(community.timezone), now=now)
    # A run inside its own period (the normal monthly cron) issues today; a catch-up run for
    # a past period, or one made in advance, issues on the period's first day.
    issued_on = today if period <= today < add_months(period, result.months) else period
    due = issued_on + timedelta(days=DUE_DAYS)
    in_credit = ledger.units_in_credit(session, community_id=community.id)
    bills: list[Bill] = []
    for plan in planned:
        bill = Bill(
            community_id=community.id,
            unit_id=plan.unit.id,
            period=period,
            period_months=result.months,
            issued_on=issued_on,
            due_date=due,
            amount_fen=plan.amount_fen,
            outstanding_fen=plan.amount_fen,
            waived_fen=0,
            created_at=now,
        )
        bill.lines = [
            BillLine(
                kind=LineKind.CHARGE,
                item_code=p.item_code,
                item_name=p.item_name,
                fee_standard_id=p.standard.id,
                quantity=p.quantity,
                rate=p.standard.rate,
                months=p.months,
                amount_fen=p.amount_fen,
                outstanding_fen=p.amount_fen,
                waived_fen=0,
                explanation=p.explanation,
            )
            for p in plan.lines
        ]
        bills.append(bill)
    session.add_all(bills)
    session.flush()  # one batched INSERT per table for the whole run
    ledger.post_many(
        session,
        [ledger.bill_entry(session, bill=bill, now=now, actor_id=actor_id) for bill in bills],
        move_lines=False,
    )
    for bill in bills:
        if bill.unit_id in in_credit:
            apply_prepayment(session, unit_id=bill.unit_id, community_id=community.id, now=now)
    result.created = len(bills)
    if result.created:
        audit.record(
            session,
            actor_id=actor_id,
            action="billing.generate",
            target_type="community",
            target_id=community.id,
            community_id=community.id,
            now=now,
            details={
                "period": period.isoformat(),
                "created": result.created,
                "amount_fen": result.amount_fen,
            },
        )
    if announce:
        messages.queue_bills_issued(session, bills=bills, community=community, now=now)
    return result


def apply_prepayment(session: Session, *, unit_id: int, community_id: int, now: datetime) -> int:
    """Use the unit's credit balance on its open lines (oldest first); returns fen applied."""
    available = ledger.prepayment_balance(session, unit_id=unit_id)
    if available <= 0:
        return 0
    lines = ledger.open_lines(session, unit_ids=[unit_id])
    allocations, rest = ledger.allocate(
        session,
        amount_fen=available,
        lines=lines,
        held_fen=held_amounts(session, unit_ids=[unit_id]),
    )
    used = available - rest
    if used <= 0:
        return 0
    ar = ledger.receivable(session, community_id=community_id, unit_id=unit_id)
    legs = [
        ledger.Leg(ledger.prepayment(session, community_id=community_id, unit_id=unit_id), used)
    ]
    legs += [ledger.Leg(ar, -a.amount_fen, a.line_id) for a in allocations]
    ledger.post(
        session,
        community_id=community_id,
        kind=EntryKind.PREPAYMENT_APPLIED,
        memo="预存款抵扣",
        source_type="unit",
        source_id=unit_id,
        legs=legs,
        now=now,
    )
    payments = optional_module("payments", "service")
    if payments is not None:
        payments.release_refund_due(session, unit_id=unit_id, amount_fen=used)
    return used


def held_amounts(session: Session, *, unit_ids: list[int]) -> dict[int, int]:
    """Amounts on hold per bill line (under an open dispute), if disputes exist."""
    disputes = optional_module("disputes", "service")
    if disputes is None or not hasattr(disputes, "held_amounts"):
        return {}
    return disputes.held_amounts(session, unit_ids=unit_ids)


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
    created = 0
    for bill in bills:
        if any(line.late_fee_month == month for line in bill.lines):
            continue
        charges = [line for line in bill.lines if line.kind == LineKind.CHARGE]
        held = held_amounts(session, unit_ids=[bill.unit_id])
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


# ---------------------------------------------------------------- owner look-ups


def owned_unit_ids(session: Session, user: User) -> list[int]:
    return list(
        session.scalars(
            select(Ownership.unit_id).where(
                Ownership.user_id == user.id, Ownership.ended_on.is_(None)
            )
        )
    )


def get_owned_bill(session: Session, *, owner: User, bill_id: int) -> Bill | None:
    """The bill if it belongs to a unit the user currently owns; None (→ 404) otherwise."""
    return session.scalar(
        select(Bill)
        .options(selectinload(Bill.lines))
        .where(Bill.id == bill_id, Bill.unit_id.in_(owned_unit_ids(session, owner) or [-1]))
    )


def bills_for_units(
    session: Session, *, unit_ids: list[int], status: str = "all", limit: int = 500
) -> list[Bill]:
    """Bills of these units, unpaid first then newest, with their lines."""
    query = (
        select(Bill)
        .options(selectinload(Bill.lines), selectinload(Bill.unit))
        .where(Bill.unit_id.in_(unit_ids or [-1]))
    )
    if status == "unpaid":
        query = query.where(Bill.outstanding_fen > 0)
    elif status == "paid":
        query = query.where(Bill.outstanding_fen == 0)
    query = query.order_by(
        case((Bill.outstanding_fen > 0, 0), else_=1), Bill.period.desc(), Bill.unit_id
    ).limit(limit)
    return list(session.scalars(query))


def get_scoped_bill(
    session: Session, *, staff: User, bill_id: int, roles: tuple[str, ...]
) -> Bill | None:
    """A bill of a community where the staff user holds one of `roles`."""
    bill = session.get(Bill, bill_id)
    if bill is None:
        return None
    if staff.is_admin or bill.community_id in staff.community_ids(*roles):
        return bill
    return None


def unit_history(session: Session, *, unit_id: int) -> list[dict[str, Any]]:
    """The unit's ledger as an owner reads it: charges, payments, credits, with balance."""
    from portal.ledger.models import Account, JournalEntry, Posting

    rows = session.execute(
        select(
            JournalEntry.id,
            JournalEntry.kind,
            JournalEntry.memo,
            JournalEntry.created_at,
            JournalEntry.source_type,
            JournalEntry.source_id,
            func.sum(Posting.amount_fen).label("amount"),
        )
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(Account, Account.id == Posting.account_id)
        .where(Account.unit_id == unit_id)
        .group_by(
            JournalEntry.id,
            JournalEntry.kind,
            JournalEntry.memo,
            JournalEntry.created_at,
            JournalEntry.source_type,
            JournalEntry.source_id,
        )
        .order_by(JournalEntry.created_at, JournalEntry.id)
    ).all()
    balance = 0
    out = []
    for row in rows:
        balance += int(row.amount)
        out.append(
            {
                "entry_id": row.id,
                "kind": row.kind,
                "memo": row.memo,
                "at": row.created_at,
                "amount_fen": int(row.amount),
                "balance_fen": balance,
                "source_type": row.source_type,
                "source_id": row.source_id,
            }
        )
    return out


# ---------------------------------------------------------------- figures for others


def owner_fee_for_year(session: Session, *, unit_id: int, year: int) -> int:
    """What the unit was charged (fee lines, not late fees) for periods in a year."""
    total = session.scalar(
        select(func.coalesce(func.sum(BillLine.amount_fen), 0))
        .join(Bill, Bill.id == BillLine.bill_id)
        .where(
            Bill.unit_id == unit_id,
            BillLine.kind == LineKind.CHARGE,
            Bill.period >= date(year, 1, 1),
            Bill.period < date(year + 1, 1, 1),
        )
    )
    return int(total or 0)


K_ANONYMITY = 5


def collection_stats(
    session: Session, *, community_id: int, months: int = 12, today: date | None = None
) -> dict[str, Any]:
    """Collection rate by billing month and by building; buildings under 5 units → null."""
    today = today or local_today()
    since = add_months(today.replace(day=1), -(months - 1))
    billed = Bill.amount_fen - Bill.waived_fen
    collected = Bill.amount_fen - Bill.waived_fen - Bill.outstanding_fen
    rows = session.execute(
        select(Bill.period, func.sum(billed), func.sum(collected))
        .where(Bill.community_id == community_id, Bill.period >= since)
        .group_by(Bill.period)
        .order_by(Bill.period)
    ).all()
    by_month = [
        {
            "month": p.strftime("%Y-%m"),
            "billed_fen": int(b or 0),
            "collected_fen": int(c or 0),
            "rate": _rate(c, b),
        }
        for p, b, c in rows
    ]
    unit_counts = dict(
        session.execute(
            select(Unit.building_id, func.count(Unit.id))
            .where(Unit.community_id == community_id)
            .group_by(Unit.building_id)
        ).all()
    )
    sums = {
        bid: (b, c)
        for bid, b, c in session.execute(
            select(Unit.building_id, func.sum(billed), func.sum(collected))
            .join(Unit, Unit.id == Bill.unit_id)
            .where(Bill.community_id == community_id, Bill.period >= since)
            .group_by(Unit.building_id)
        ).all()
    }
    buildings = session.scalars(
        select(Building).where(Building.community_id == community_id).order_by(Building.code)
    ).all()
    by_building = []
    for building in buildings:
        count = unit_counts.get(building.id, 0)
        b, c = sums.get(building.id, (0, 0))
        by_building.append(
            {
                "building": building.name,
                "code": building.code,
                "units": count,
                "rate": _rate(c, b) if count >= K_ANONYMITY else None,
            }
        )
    return {"collection_rate_by_month": by_month, "by_building": by_building}


def _rate(collected: Any, billed: Any) -> Any:
    """A ratio rounded to 4 places (a JSON number), None when nothing was billed."""
    if not billed:
        return None
    return round(int(collected or 0) / int(billed), 4)
