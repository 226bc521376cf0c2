"""Billing runs: a period's bills for every unit from the standards in force, posted to
the ledger (re-running a period creates nothing), and prepayment applied to them."""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.billing import holds, ledger, messages, summaries
from portal.billing.models import (
    Basis,
    Bill,
    BillLine,
    EntryKind,
    FeeStandard,
    LineKind,
)
from portal.billing.standards import current_standards
from portal.communities.models import (
    BillingCycle,
    Community,
    Unit,
)
from portal.db import insert_rows, one_of
from portal.errors import DomainError
from portal.money import line_amount_fen
from portal.timeutil import local_today, zone

DUE_DAYS = 15  # due on the 15th day after issue unless the contract says otherwise


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
    standards = _standards_by_type(session, community_id=community.id, period=period)
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
        lines = _plan_lines(unit.area_m2, standards.get(unit.property_type, []), months)
        if lines:
            planned.append(PlannedBill(unit, lines))
        else:
            result.without_standard += 1
    result.amount_fen = sum(p.amount_fen for p in planned)
    result.planned = len(planned)
    return planned, result


def _standards_by_type(
    session: Session, *, community_id: int, period: date
) -> dict[str, list[FeeStandard]]:
    standards: dict[str, list[FeeStandard]] = defaultdict(list)
    for standard in current_standards(session, community_id=community_id, on=period):
        if standard.basis != Basis.METERED and standard.rate > 0:
            standards[standard.property_type].append(standard)
    return standards


def _plan_lines(area_m2: Decimal, standards: list[FeeStandard], months: int) -> list[PlannedLine]:
    """A unit's lines: each standard in force for its type, rounded once (half-up)."""
    lines = []
    for standard in standards:
        if standard.basis == Basis.PER_M2_MONTH:
            quantity = area_m2
            explanation = f"{area_m2}㎡ × {standard.rate} 元/㎡·月 × {months} 月"
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
    return lines


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
    months = _cycle(community, period)
    result = RunResult(period=period, months=months)
    standards = _standards_by_type(session, community_id=community.id, period=period)
    billed = set(
        session.scalars(
            select(Bill.unit_id).where(Bill.community_id == community.id, Bill.period == period)
        )
    )
    result.existing = len(billed)
    today = local_today(zone(community.timezone), now=now)
    # A run inside its own period (the normal monthly cron) issues today; a catch-up run for
    # a past period, or one made in advance, issues on the period's first day.
    issued_on = today if period <= today < add_months(period, months) else period
    due = issued_on + timedelta(days=DUE_DAYS)
    in_credit = ledger.units_in_credit(session, community_id=community.id)
    # Set-based: units read as plain rows, accounts looked up once for the whole run, and
    # bills, lines, entries and postings written as multi-row INSERTs a batch of units at a
    # time (memory stays flat however large the community).
    units = [
        row
        for row in session.execute(
            select(Unit.id, Unit.building_id, Unit.area_m2, Unit.property_type)
            .where(Unit.community_id == community.id)
            .order_by(Unit.id)
        )
        if row.id not in billed
    ]
    receivables = ledger.receivable_ids(
        session, community_id=community.id, unit_ids=[u.id for u in units]
    )
    incomes: dict[str, int] = {}
    for group in standards.values():
        for standard in group:
            if standard.item_code not in incomes:
                incomes[standard.item_code] = ledger.income(
                    session,
                    community_id=community.id,
                    item_code=standard.item_code,
                    name=standard.item_name,
                ).id
    label = _period_label(period, months)
    new_ids: list[int] = []
    billed_now: list[int] = []
    for start in range(0, len(units), RUN_BATCH):
        batch = []
        for unit in units[start : start + RUN_BATCH]:
            lines = _plan_lines(unit.area_m2, standards.get(unit.property_type, []), months)
            if lines:
                batch.append((unit, lines))
            else:
                result.without_standard += 1
        if not batch:
            continue
        # Core inserts on the tables (the ORM's bulk INSERT … RETURNING ran one statement a
        # row here: 16,000 statements for 4,000 bills on SQLite), a column an array on
        # PostgreSQL (see db.insert_rows).
        bill_ids = insert_rows(
            session,
            Bill.__table__,
            [
                {
                    "community_id": community.id,
                    "unit_id": unit.id,
                    "period": period,
                    "period_months": months,
                    "issued_on": issued_on,
                    "due_date": due,
                    "amount_fen": sum(p.amount_fen for p in lines),
                    "outstanding_fen": sum(p.amount_fen for p in lines),
                    "waived_fen": 0,
                    "created_at": now,
                }
                for unit, lines in batch
            ],
            ids=True,
        )
        line_ids = insert_rows(
            session,
            BillLine.__table__,
            [
                {
                    "bill_id": bill_id,
                    "kind": LineKind.CHARGE,
                    "item_code": p.item_code,
                    "item_name": p.item_name,
                    "fee_standard_id": p.standard.id,
                    "quantity": p.quantity,
                    "rate": p.standard.rate,
                    "months": p.months,
                    "amount_fen": p.amount_fen,
                    "outstanding_fen": p.amount_fen,
                    "waived_fen": 0,
                    "explanation": p.explanation,
                    "late_fee_month": None,
                }
                for bill_id, (_unit, lines) in zip(bill_ids, batch, strict=True)
                for p in lines
            ],
            ids=True,
        )
        postings = []
        next_line = iter(line_ids)
        for bill_id, (unit, lines) in zip(bill_ids, batch, strict=True):
            postings.append(
                ledger.NewBillPosting(
                    community_id=community.id,
                    bill_id=bill_id,
                    memo=f"账单 {label}",
                    receivable_id=receivables[unit.id],
                    lines=[(next(next_line), p.amount_fen, incomes[p.item_code]) for p in lines],
                )
            )
        ledger.post_new_bills(session, postings, now=now, actor_id=actor_id)
        summaries.new_bills(
            session,
            (
                (community.id, unit.building_id, period, sum(p.amount_fen for p in lines))
                for unit, lines in batch
            ),
        )
        result.created += len(bill_ids)
        result.amount_fen += sum(p.amount_fen for _unit, lines in batch for p in lines)
        new_ids.extend(bill_ids)
        billed_now.extend(unit.id for unit, _lines in batch)
    result.planned = result.created
    credited_units = [unit_id for unit_id in billed_now if unit_id in in_credit]
    for unit_id in credited_units:
        apply_prepayment(session, unit_id=unit_id, community_id=community.id, now=now)
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
        for start in range(0, len(new_ids), RUN_BATCH):
            # what a message names, as rows (after prepayments changed what is outstanding)
            bills = list(
                session.execute(
                    select(*messages.BILL_FACTS)
                    .where(one_of(session, Bill.id, new_ids[start : start + RUN_BATCH]))
                    .order_by(Bill.id)
                )
            )
            messages.queue_bills_issued(session, bills=bills, community=community, now=now)
    return result


RUN_BATCH = 2000  # units per multi-row INSERT in a billing run


def _period_label(period: date, months: int) -> str:
    """Bill.period_label without the bill: 2026-12, or 2026-Q4 for a quarter."""
    if months == 3:
        return f"{period.year}-Q{(period.month - 1) // 3 + 1}"
    return period.strftime("%Y-%m")


def apply_prepayment(session: Session, *, unit_id: int, community_id: int, now: datetime) -> int:
    """Use the unit's credit balance on its open lines (oldest first); returns fen applied."""
    available = ledger.prepayment_balance(session, unit_id=unit_id, community_id=community_id)
    if available <= 0:
        return 0
    lines = ledger.open_lines(session, unit_ids=[unit_id])
    allocations, rest = ledger.allocate(
        session,
        amount_fen=available,
        lines=lines,
        held_fen=holds.held_amounts(session, unit_ids=[unit_id]),
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
    for listener in _prepayment_listeners:
        listener(session, unit_id=unit_id, amount_fen=used)
    return used


class PrepaymentListener(Protocol):
    def __call__(self, session: Session, *, unit_id: int, amount_fen: int) -> None: ...


# Called in the same transaction whenever a unit's credit balance is used on its bills. The
# only listener is payments' release_refund_due (an overpayment used on a bill is no longer
# due for refund): payments keeps those flags and sits above billing, so it registers here.
_prepayment_listeners: list[PrepaymentListener] = []


def on_prepayment_used(listener: PrepaymentListener) -> None:
    """Have `listener(session, unit_id=, amount_fen=)` run whenever prepayment is applied."""
    if listener not in _prepayment_listeners:
        _prepayment_listeners.append(listener)
