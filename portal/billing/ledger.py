"""The only writer of balances: balanced, immutable journal entries and bill-line balances.

Every money event is one entry whose postings sum to zero (debit positive, credit negative).
Receivable postings carry the bill line they concern; a line's `outstanding_fen` is the sum of
its receivable postings, kept in step here with compare-and-set UPDATEs so that two concurrent
payments can never take a line below zero (the CHECK constraint is the last line of defence).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, insert, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.billing import summaries
from portal.billing.models import (
    Account,
    AccountKind,
    Bill,
    BillLine,
    EntryKind,
    JournalEntry,
    Posting,
)
from portal.communities.models import Unit
from portal.db import insert_rows
from portal.errors import Conflict, DomainError


@dataclass(frozen=True)
class Leg:
    account: Account
    amount_fen: int  # + debit, - credit
    bill_line_id: int | None = None


def get_account(
    session: Session,
    *,
    community_id: int,
    code: str,
    kind: str,
    name: str,
    unit_id: int | None = None,
) -> Account:
    """The account with this code, created on first use (safe under concurrency)."""
    # Accounts never change once created, so keep them for the session's lifetime (the
    # identity map holds objects only weakly, which would mean a SELECT per posting).
    cache: dict[tuple[int, str], Account] = session.info.setdefault("ledger_accounts", {})
    cached = cache.get((community_id, code))
    if cached is not None and inspect(cached).persistent:
        return cached
    found = session.scalar(
        select(Account).where(Account.community_id == community_id, Account.code == code)
    )
    if found is not None:
        cache[(community_id, code)] = found
        return found
    try:
        with session.begin_nested():
            account = Account(
                community_id=community_id, code=code, kind=kind, name=name, unit_id=unit_id
            )
            session.add(account)
    except IntegrityError:
        account = session.scalars(
            select(Account).where(Account.community_id == community_id, Account.code == code)
        ).one()
    cache[(community_id, code)] = account
    return account


def receivable(session: Session, *, community_id: int, unit_id: int) -> Account:
    return get_account(
        session,
        community_id=community_id,
        code=f"receivable:unit:{unit_id}",
        kind=AccountKind.ASSET,
        name="应收物业费",
        unit_id=unit_id,
    )


def prepayment(session: Session, *, community_id: int, unit_id: int) -> Account:
    return get_account(
        session,
        community_id=community_id,
        code=f"prepayment:unit:{unit_id}",
        kind=AccountKind.LIABILITY,
        name="业主预存款",
        unit_id=unit_id,
    )


def cash(session: Session, *, community_id: int, channel: str) -> Account:
    return get_account(
        session,
        community_id=community_id,
        code=f"cash:{channel}",
        kind=AccountKind.ASSET,
        name=f"收款渠道 {channel}",
    )


def income(session: Session, *, community_id: int, item_code: str, name: str) -> Account:
    return get_account(
        session,
        community_id=community_id,
        code=f"income:{item_code}",
        kind=AccountKind.INCOME,
        name=name,
    )


def expense(session: Session, *, community_id: int, code: str, name: str) -> Account:
    return get_account(
        session,
        community_id=community_id,
        code=f"expense:{code}",
        kind=AccountKind.EXPENSE,
        name=name,
    )


def post(
    session: Session,
    *,
    community_id: int,
    kind: str,
    memo: str,
    source_type: str,
    source_id: int,
    legs: Sequence[Leg],
    now: datetime,
    actor_id: int | None = None,
    reverses_id: int | None = None,
    move_lines: bool = True,
) -> JournalEntry:
    """Write one balanced entry and move the bill-line balances its receivable legs touch.

    `move_lines=False` only for a new bill, whose lines are created already outstanding.
    """
    legs = [leg for leg in legs if leg.amount_fen != 0]
    if not legs:
        raise DomainError(_l("记账分录不能为空"))
    if sum(leg.amount_fen for leg in legs) != 0:
        raise DomainError(_l("记账分录借贷不平衡"))
    entry = JournalEntry(
        community_id=community_id,
        kind=kind,
        memo=memo[:255],
        source_type=source_type,
        source_id=source_id,
        reverses_id=reverses_id,
        created_by_id=actor_id,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    # One multi-row INSERT: postings are never changed, so they need no ORM bookkeeping.
    session.execute(
        insert(Posting),
        [
            {
                "entry_id": entry.id,
                "account_id": leg.account.id,
                "amount_fen": leg.amount_fen,
                "bill_line_id": leg.bill_line_id,
            }
            for leg in legs
        ],
    )
    if move_lines:
        deltas: dict[int, int] = {}
        credited: dict[int, int] = {}
        _line_moves(kind, legs, deltas, credited)
        if deltas:
            move_lines_by(session, deltas=deltas, credited=credited)
    return entry


# Entries that reduce what is owed without money changing hands.
CREDIT_KINDS = frozenset({EntryKind.WAIVER, EntryKind.ADJUSTMENT})


def move_lines_by(session: Session, *, deltas: dict[int, int], credited: dict[int, int]) -> None:
    """Change lines' outstanding by `deltas` (and waived by `credited`) with compare-and-set
    UPDATEs, never below zero nor above the amount, and their bills' totals with them.

    One executemany per table; Core (table) UPDATEs because the ORM variant scans the whole
    identity map on every call. Any line out of bounds refuses the lot (Conflict).
    """
    lines, bills = BillLine.__table__, Bill.__table__
    moved = session.execute(
        update(lines)
        .where(
            lines.c.id == bindparam("line_id"),
            lines.c.outstanding_fen + bindparam("delta") >= 0,
            lines.c.outstanding_fen + bindparam("delta") <= lines.c.amount_fen,
        )
        .values(
            outstanding_fen=lines.c.outstanding_fen + bindparam("delta"),
            waived_fen=lines.c.waived_fen + bindparam("credit"),
        ),
        [
            {"line_id": line_id, "delta": delta, "credit": credited.get(line_id, 0)}
            for line_id, delta in sorted(deltas.items())
        ],
    ).rowcount
    if moved != len(deltas):
        raise Conflict(_l("账单明细余额已变化，请重试"), code="balance_changed")
    bill_of: dict[int, int] = {}
    summary_key: dict[int, summaries.Key] = {}
    for line_id, bill_id, community_id, building_id, period in session.execute(
        select(BillLine.id, BillLine.bill_id, Bill.community_id, Unit.building_id, Bill.period)
        .join(Bill, Bill.id == BillLine.bill_id)
        .join(Unit, Unit.id == Bill.unit_id)
        .where(BillLine.id.in_(list(deltas)))
    ):
        bill_of[line_id] = bill_id
        summary_key[bill_id] = (community_id, building_id, period)
    per_bill: dict[int, list[int]] = {}
    for line_id, delta in deltas.items():
        acc = per_bill.setdefault(bill_of[line_id], [0, 0])
        acc[0] += delta
        acc[1] += credited.get(line_id, 0)
    # The month's collection summary moves with its bills, in this transaction.
    summary: dict[summaries.Key, tuple[int, int, int]] = {}
    for bill_id, (delta, credit) in per_bill.items():
        billed, collected, waived = summary.get(summary_key[bill_id], (0, 0, 0))
        summary[summary_key[bill_id]] = (
            billed - credit,
            collected - credit - delta,
            waived + credit,
        )
    summaries.add(session, summary)
    session.execute(
        update(bills)
        .where(bills.c.id == bindparam("bill_id"))
        .values(
            outstanding_fen=bills.c.outstanding_fen + bindparam("delta"),
            waived_fen=bills.c.waived_fen + bindparam("credit"),
        ),
        [
            {"bill_id": bill_id, "delta": d, "credit": c}
            for bill_id, (d, c) in sorted(per_bill.items())
        ],
    )
    for line_id in deltas:
        _expire(session, BillLine, line_id)
    for bill_id in per_bill:
        _expire(session, Bill, bill_id)


def _line_moves(
    kind: str, legs: Sequence[Leg], deltas: dict[int, int], credited: dict[int, int]
) -> None:
    """Add an entry's receivable legs to the per-line deltas (and credits, for waivers)."""
    for leg in legs:
        if leg.bill_line_id is not None and leg.amount_fen:
            deltas[leg.bill_line_id] = deltas.get(leg.bill_line_id, 0) + leg.amount_fen
            if kind in CREDIT_KINDS:
                credited[leg.bill_line_id] = credited.get(leg.bill_line_id, 0) - leg.amount_fen


def _expire(session: Session, model: type, ident: int | None) -> None:
    """Drop cached balance columns of an object we just changed with an UPDATE."""
    obj = session.identity_map.get(session.identity_key(model, ident)) if ident else None
    if obj is not None:
        session.expire(obj, ["outstanding_fen", "waived_fen"])


def bill_entry(
    session: Session, *, bill: Bill, now: datetime, actor_id: int | None = None
) -> NewEntry:
    """A new bill's entry for post_many(move_lines=False): Dr the unit's receivable per line,
    Cr fee income per item (the lines are created already outstanding)."""
    ar = receivable(session, community_id=bill.community_id, unit_id=bill.unit_id)
    legs: list[Leg] = []
    for line in bill.lines:
        legs.append(Leg(ar, line.amount_fen, line.id))
        legs.append(
            Leg(
                income(
                    session,
                    community_id=bill.community_id,
                    item_code=line.item_code,
                    name=line.item_name,
                ),
                -line.amount_fen,
            )
        )
    return NewEntry(
        community_id=bill.community_id,
        kind=EntryKind.BILL,
        memo=f"账单 {bill.period_label}",
        source_type="bill",
        source_id=bill.id,
        legs=legs,
        created_at=now,
        actor_id=actor_id,
    )


def receivable_ids(
    session: Session, *, community_id: int, unit_ids: Sequence[int]
) -> dict[int, int]:
    """Each unit's receivable account id, created where missing: one SELECT for the
    community's receivables (and one INSERT for new units) instead of one per unit."""
    wanted = set(unit_ids)
    found = {
        unit_id: account_id
        for unit_id, account_id in session.execute(
            select(Account.unit_id, Account.id).where(
                Account.community_id == community_id,
                Account.code.startswith("receivable:unit:"),
            )
        )
        if unit_id in wanted
    }
    missing = sorted(wanted - found.keys())
    if missing:
        table = Account.__table__
        dialect = session.get_bind().dialect.name
        stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        # A concurrent run may create some first: theirs stand, ours are skipped.
        session.execute(
            stmt.on_conflict_do_nothing(index_elements=["community_id", "code"]),
            [
                {
                    "community_id": community_id,
                    "code": f"receivable:unit:{unit_id}",
                    "kind": AccountKind.ASSET,
                    "name": "应收物业费",
                    "unit_id": unit_id,
                }
                for unit_id in missing
            ],
        )
        codes = [f"receivable:unit:{unit_id}" for unit_id in missing]
        for start in range(0, len(codes), 5000):
            found.update(
                session.execute(
                    select(Account.unit_id, Account.id).where(
                        Account.community_id == community_id,
                        Account.code.in_(codes[start : start + 5000]),
                    )
                ).all()
            )
    return found


@dataclass(frozen=True)
class NewBillPosting:
    """A new bill's entry by account ids: Dr the unit's receivable per line (the line's id),
    Cr the item's income; what bill_entry() builds from ORM objects."""

    community_id: int
    bill_id: int
    memo: str
    receivable_id: int
    lines: Sequence[tuple[int, int, int]]  # (line id, amount fen, income account id)


def post_new_bills(
    session: Session,
    bills: Sequence[NewBillPosting],
    *,
    now: datetime,
    actor_id: int | None = None,
) -> None:
    """Post a billing run's bills in two multi-row INSERTs (entries, then postings); the
    lines are created already outstanding, so no balance moves here."""
    if not bills:
        return
    # Core, a column an array on PostgreSQL (db.insert_rows): the ORM's bulk RETURNING goes
    # row by row
    ids = insert_rows(
        session,
        JournalEntry.__table__,
        [
            {
                "community_id": b.community_id,
                "kind": EntryKind.BILL,
                "memo": b.memo[:255],
                "source_type": "bill",
                "source_id": b.bill_id,
                "reverses_id": None,
                "created_by_id": actor_id,
                "created_at": now,
            }
            for b in bills
        ],
        ids=True,
    )
    postings = []
    for entry_id, bill in zip(ids, bills, strict=True):
        for line_id, amount, income_id in bill.lines:
            if amount <= 0:
                raise DomainError(_l("记账分录借贷不平衡"))
            postings.append(
                {
                    "entry_id": entry_id,
                    "account_id": bill.receivable_id,
                    "amount_fen": amount,
                    "bill_line_id": line_id,
                }
            )
            postings.append(
                {
                    "entry_id": entry_id,
                    "account_id": income_id,
                    "amount_fen": -amount,
                    "bill_line_id": None,
                }
            )
    insert_rows(session, Posting.__table__, postings)


def open_lines(
    session: Session, *, unit_ids: Iterable[int], bill_ids: Iterable[int] | None = None
) -> list[BillLine]:
    """Open lines, oldest bill first, charges before late fees (the allocation order)."""
    query = (
        select(BillLine)
        .join(Bill, Bill.id == BillLine.bill_id)
        .where(Bill.unit_id.in_(list(unit_ids)), BillLine.outstanding_fen > 0)
        .order_by(Bill.period, Bill.id, BillLine.kind, BillLine.id)
        .execution_options(populate_existing=True)
    )  # current balances, not cached ones
    if bill_ids is not None:
        query = query.where(Bill.id.in_(list(bill_ids)))
    return list(session.scalars(query))


@dataclass(frozen=True)
class Allocation:
    line_id: int
    amount_fen: int


def allocate(
    session: Session,
    *,
    amount_fen: int,
    lines: Sequence[BillLine],
    held_fen: dict[int, int] | None = None,
) -> tuple[list[Allocation], int]:
    """Split an amount over lines in order (oldest first); returns allocations and the rest.

    `held_fen` maps line ids to amounts on hold (e.g. under dispute) that are not allocated.
    `lines` come from open_lines(), which reads current balances; a concurrent change after
    that is caught by the compare-and-set in move_lines_by() and the caller retries.
    """
    held_fen = held_fen or {}
    remaining = amount_fen
    out: list[Allocation] = []
    for line in lines:
        if remaining <= 0:
            break
        available = max(0, line.outstanding_fen - held_fen.get(line.id, 0))
        take = min(available, remaining)
        if take > 0:
            out.append(Allocation(line.id, take))
            remaining -= take
    return out, remaining


def prepayment_balance(session: Session, *, unit_id: int, community_id: int | None = None) -> int:
    """What the unit has paid in advance (a liability: positive means credit to the owner)."""
    if community_id is None:
        community_id = session.scalar(select(Unit.community_id).where(Unit.id == unit_id))
    # (community_id, code) is the accounts' unique index: by code alone it was a scan of
    # every account of the company.
    total = session.scalar(
        select(func.coalesce(func.sum(Posting.amount_fen), 0))
        .join(Account, Account.id == Posting.account_id)
        .where(
            Account.community_id == community_id,
            Account.code == f"prepayment:unit:{unit_id}",
        )
    )
    return -int(total or 0)


def units_in_credit(session: Session, *, community_id: int) -> set[int]:
    """Units of a community with a prepayment (credit) balance."""
    rows = session.execute(
        select(Account.unit_id)
        .join(Posting, Posting.account_id == Account.id)
        .where(Account.community_id == community_id, Account.code.startswith("prepayment:"))
        .group_by(Account.unit_id)
        .having(func.sum(Posting.amount_fen) < 0)
    )
    return {unit_id for (unit_id,) in rows}


def unit_balance(session: Session, *, unit_id: int) -> int:
    """What the unit owes now: receivable minus prepayment (negative = in credit)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Posting.amount_fen), 0))
        .join(Account, Account.id == Posting.account_id)
        .where(Account.unit_id == unit_id)
    )
    return int(total or 0)


def reverse(
    session: Session, *, entry: JournalEntry, memo: str, now: datetime, actor_id: int | None
) -> JournalEntry:
    """Correct a mistake by a mirror entry; an entry can be reversed only once."""
    if entry.kind == EntryKind.REVERSAL:
        raise DomainError(_l("冲正分录不能再冲正"))
    if session.scalar(select(JournalEntry.id).where(JournalEntry.reverses_id == entry.id)):
        raise Conflict(_l("该分录已冲正"), code="already_reversed")
    legs = [Leg(p.account, -p.amount_fen, p.bill_line_id) for p in entry.postings]
    return post(
        session,
        community_id=entry.community_id,
        kind=EntryKind.REVERSAL,
        memo=memo,
        source_type=entry.source_type,
        source_id=entry.source_id,
        legs=legs,
        now=now,
        actor_id=actor_id,
        reverses_id=entry.id,
    )


@dataclass
class CheckReport:
    entries: int = 0
    unbalanced: list[int] | None = None
    line_mismatches: list[int] | None = None
    bill_mismatches: list[int] | None = None

    @property
    def ok(self) -> bool:
        return not (self.unbalanced or self.line_mismatches or self.bill_mismatches)


def check(session: Session, *, community_id: int | None = None) -> CheckReport:
    """Verify debits = credits per entry and that bill balances equal their postings."""
    report = CheckReport()
    entries = select(JournalEntry.id)
    if community_id is not None:
        entries = entries.where(JournalEntry.community_id == community_id)
    report.entries = session.scalar(select(func.count()).select_from(entries.subquery())) or 0
    sums = (
        select(Posting.entry_id)
        .where(Posting.entry_id.in_(entries))
        .group_by(Posting.entry_id)
        .having(func.sum(Posting.amount_fen) != 0)
    )
    report.unbalanced = list(session.scalars(sums))
    # Both subqueries are confined to the community's bills, so checking one community reads
    # its own rows only (through ix_bills_community_period and the line/posting indexes).
    posted_q = select(
        Posting.bill_line_id.label("line_id"), func.sum(Posting.amount_fen).label("total")
    ).where(Posting.bill_line_id.is_not(None))
    if community_id is not None:
        posted_q = (
            posted_q.join(BillLine, BillLine.id == Posting.bill_line_id)
            .join(Bill, Bill.id == BillLine.bill_id)
            .where(Bill.community_id == community_id)
        )
    posted = posted_q.group_by(Posting.bill_line_id).subquery()
    lines = (
        select(BillLine.id)
        .join(Bill, Bill.id == BillLine.bill_id)
        .outerjoin(posted, posted.c.line_id == BillLine.id)
        .where(func.coalesce(posted.c.total, 0) != BillLine.outstanding_fen)
    )
    if community_id is not None:
        lines = lines.where(Bill.community_id == community_id)
    report.line_mismatches = list(session.scalars(lines.limit(100)))
    line_sums_q = select(
        BillLine.bill_id,
        func.sum(BillLine.outstanding_fen).label("o"),
        func.sum(BillLine.amount_fen).label("a"),
        func.sum(BillLine.waived_fen).label("w"),
    )
    if community_id is not None:
        line_sums_q = line_sums_q.join(Bill, Bill.id == BillLine.bill_id).where(
            Bill.community_id == community_id
        )
    line_sums = line_sums_q.group_by(BillLine.bill_id).subquery()
    bills = (
        select(Bill.id)
        .join(line_sums, line_sums.c.bill_id == Bill.id)
        .where(
            (line_sums.c.o != Bill.outstanding_fen)
            | (line_sums.c.a != Bill.amount_fen)
            | (line_sums.c.w != Bill.waived_fen)
        )
    )
    if community_id is not None:
        bills = bills.where(Bill.community_id == community_id)
    report.bill_mismatches = list(session.scalars(bills.limit(100)))
    return report


@dataclass(frozen=True)
class NewEntry:
    """One entry for post_many(): what post() takes, without the session."""

    community_id: int
    kind: str
    memo: str
    source_type: str
    source_id: int
    legs: Sequence[Leg]
    created_at: datetime
    actor_id: int | None = None


def post_many(session: Session, entries: Sequence[NewEntry], *, move_lines: bool = True) -> None:
    """post() for a batch (billing runs, bank files): same checks, a few statements in all.

    Bill-line balances move with compare-and-set UPDATEs run as one executemany; if any line
    would leave its bounds the whole batch is refused (Conflict) and the caller rolls back.
    """
    if not entries:
        return
    for entry in entries:
        legs = [leg for leg in entry.legs if leg.amount_fen != 0]
        if not legs or sum(leg.amount_fen for leg in legs) != 0:
            raise DomainError(_l("记账分录借贷不平衡"))
    ids = insert_rows(
        session,
        JournalEntry.__table__,
        [
            {
                "community_id": e.community_id,
                "kind": e.kind,
                "memo": e.memo[:255],
                "source_type": e.source_type,
                "source_id": e.source_id,
                "reverses_id": None,
                "created_by_id": e.actor_id,
                "created_at": e.created_at,
            }
            for e in entries
        ],
        ids=True,
    )
    postings = [
        {
            "entry_id": entry_id,
            "account_id": leg.account.id,
            "amount_fen": leg.amount_fen,
            "bill_line_id": leg.bill_line_id,
        }
        for entry_id, entry in zip(ids, entries, strict=True)
        for leg in entry.legs
        if leg.amount_fen != 0
    ]
    insert_rows(session, Posting.__table__, postings)
    deltas: dict[int, int] = {}
    credited: dict[int, int] = {}
    for entry in entries:
        _line_moves(entry.kind, entry.legs, deltas, credited)
    if deltas and move_lines:
        move_lines_by(session, deltas=deltas, credited=credited)


def prepayment_balances(session: Session, *, unit_ids: list[int]) -> dict[int, int]:
    """prepayment_balance for several units in one query (unit id → credit in fen)."""
    ids = sorted(set(unit_ids))
    if not ids:
        return {}
    codes = {f"prepayment:unit:{unit_id}": unit_id for unit_id in ids}
    # Accounts are unique per (community, code): naming the communities lets the look-up use
    # that index instead of scanning every community's accounts for the codes.
    communities = select(Unit.community_id).where(Unit.id.in_(ids)).distinct()
    rows = session.execute(
        select(Account.code, func.coalesce(func.sum(Posting.amount_fen), 0))
        .join(Posting, Posting.account_id == Account.id)
        .where(Account.community_id.in_(communities), Account.code.in_(codes))
        .group_by(Account.code)
    ).all()
    found = {codes[code]: -int(total or 0) for code, total in rows}
    return {unit_id: found.get(unit_id, 0) for unit_id in ids}
