"""`flask bench seed`: company-scale data for benchmarks, written with bulk inserts.

PostgreSQL gets COPY (psycopg's `cursor.copy`), SQLite multi-row INSERTs; no ORM object per
row. The data follows the ledger's rules exactly (each bill is a balanced entry, each payment
one too, line and bill balances equal their postings), so `flask ledger check` accepts it,
and the collection summaries are rebuilt at the end. About 88 % of bills are paid; units that
stopped paying 1 to 14 months ago leave arrears in every collection tier (L1 to L4), and a
quarter of the others miss bills now and then; the rest are paid up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from portal.accounts import service as accounts
from portal.accounts import two_factor
from portal.accounts.models import RoleAssignment, User
from portal.billing import standards as billing_standards
from portal.billing import summaries
from portal.billing.models import (
    Account,
    AccountKind,
    Bill,
    BillLine,
    EntryKind,
    JournalEntry,
    LineKind,
    Posting,
)
from portal.billing.runs import DUE_DAYS, add_months
from portal.communities import service as communities
from portal.communities.models import Building, Community, FeeRegime, Ownership, Unit
from portal.config import NON_PRODUCTION
from portal.demo.service import DEMO_PASSWORD, DEMO_STAFF
from portal.extensions import db
from portal.money import line_amount_fen
from portal.payments.models import Payment, Receipt, ReceiptCounter
from portal.timeutil import local_today, now_utc, zone

group = AppGroup("bench", help="Company-scale benchmark data.")

UNITS_PER_BUILDING = 100
# The first community's sixth owner signs in as the demo owner (the benchmark's owner pages).
DEMO_OWNER, DEMO_OWNER_INDEX = "demo-owner", 5
PAID_SHARE = 0.88  # of all bills, as in the description of a normal customer
STOPPED_SHARE = 0.06  # units that stopped paying some months ago (arrears by age: L1-L4)
MISSER_SHARE = 0.25  # of the others: they miss bills now and then; the rest pay every bill
CHANNELS = ("wechat", "alipay", "bank_transfer", "cash", "pos")
ITEMS = (  # item code, name, basis, rate (yuan)
    ("property_service", "物业服务费", "per_m2_month", Decimal("2.35")),
    ("garbage", "垃圾清运费", "per_unit_month", Decimal("15.00")),
)


@dataclass
class BenchResult:
    communities: int = 0
    units: int = 0
    bills: int = 0
    paid: int = 0
    rows: int = 0
    seconds: float = 0.0
    service_seconds: float = 0.0  # of which the service history (the domains' demo seeders)


class _Writer:
    """Bulk rows into a table: COPY on PostgreSQL, multi-row INSERT elsewhere."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pg = session.get_bind().dialect.name == "postgresql"
        self.rows = 0

    def skip_row_triggers(self) -> None:
        """Bulk load as pg_restore --disable-triggers does: the rows are built consistent, so
        the per-row foreign-key triggers (most of COPY's time) are skipped for this
        transaction. Needs a superuser; without one COPY just checks every row."""
        if not self.pg:
            return
        try:
            with self.session.begin_nested():
                self.session.execute(text("SET LOCAL session_replication_role = replica"))
        except Exception:  # noqa: S110 - not a superuser: keep the checks
            pass

    def drop_indexes(self, tables: Sequence[Table]) -> list[str]:
        """Drop the secondary indexes and unique constraints of the big tables for the load
        (as pg_restore builds them after the data); returns the statements that rebuild them."""
        if not self.pg:
            return []
        names = [t.name for t in tables]
        rebuild: list[str] = []
        for table, name, definition in self.session.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE contype = 'u' AND conrelid::regclass::text = ANY(:t)"
            ),
            {"t": names},
        ):
            self.session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
            rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in self.session.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(:t) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
            ),
            {"t": names},
        ):
            self.session.execute(text(f'DROP INDEX "{name}"'))
            rebuild.append(definition)
        return rebuild

    def rebuild_indexes(self, statements: Sequence[str]) -> None:
        for statement in statements:
            self.session.execute(text(statement))

    def stamp(self, at: datetime) -> datetime:
        """An aware instant as the table takes it: COPY bypasses UTCDateTime (naive UTC)."""
        return _naive(at) if self.pg else at

    def write(self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        if self.pg:
            raw = self.session.connection().connection.driver_connection
            sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
            with raw.cursor() as cursor, cursor.copy(sql) as copy:
                # COPY's text format, joined here: psycopg's write_row costs ~8 µs a row.
                # Our values hold no tab, newline or backslash; None is \N.
                chunk: list[str] = []
                for row in rows:
                    chunk.append("\t".join(["\\N" if v is None else str(v) for v in row]))
                    if len(chunk) >= 10_000:
                        copy.write("\n".join(chunk) + "\n")
                        self.rows += len(chunk)
                        chunk = []
                if chunk:
                    copy.write("\n".join(chunk) + "\n")
                    self.rows += len(chunk)
            return
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(dict(zip(columns, row, strict=True)))
            if len(batch) >= 2000:
                self._insert(table, batch)
                batch = []
        if batch:
            self._insert(table, batch)

    def _insert(self, table: Table, batch: list[dict[str, Any]]) -> None:
        self.session.execute(insert(table), batch)
        self.rows += len(batch)

    def next_id(self, table: Table) -> int:
        return int(self.session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0) + 1

    def fix_sequences(self, tables: Iterable[Table]) -> None:
        """After COPY with explicit ids, move PostgreSQL's id sequences past them."""
        if not self.pg:
            return
        for table in tables:
            # The table names are the models' own (SQLAlchemy metadata), never user input;
            # identifiers cannot be bound parameters, so they are formatted in.
            sql = (
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608 # nosec B608
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
            )
            self.session.execute(text(sql))


def _naive(at: datetime) -> datetime:
    """COPY writes the stored form of UTCDateTime columns: naive UTC."""
    return at.astimezone(UTC).replace(tzinfo=None)


def seed(
    session: Session,
    *,
    units: int,
    months: int,
    communities_count: int,
    now: datetime,
    seed_value: int = 2026,
    service_units: int | None = None,
) -> BenchResult:
    """Write `communities_count` communities sharing `units` units, each with `months` months
    of bills up to the current one, payments for ~88 % of them, and arrears in every tier."""
    started = time.monotonic()
    rng = random.Random(seed_value)
    writer = _Writer(session)
    writer.skip_row_triggers()
    big = [t.__table__ for t in (Bill, BillLine, JournalEntry, Posting, Payment, Receipt)]
    # Dropping and rebuilding the indexes pays when the load is most of the table; adding a
    # small community to a big database is cheaper with the indexes kept.
    present = session.scalar(select(func.count()).select_from(Bill)) or 0
    rebuild = writer.drop_indexes(big) if present < units * months else []
    result = BenchResult(communities=communities_count, units=units)
    today = local_today(zone("Asia/Shanghai"), now=now)
    first_period = add_months(today.replace(day=1), -(months - 1))
    existing = session.scalar(select(func.count(Community.id))) or 0
    owner_hash = accounts.hash_password(DEMO_PASSWORD)
    # The first community's staff get the demo log-ins (demo-cs …), which the domains' demo
    # seeders of tickets, feedback and disputes look for.
    demo_names_taken = bool(session.scalar(select(User.id).where(User.username == "demo-cs")))
    made: list[Community] = []
    per_community = [units // communities_count] * communities_count
    for i in range(units % communities_count):
        per_community[i] += 1
    for index, count in enumerate(per_community):
        code = f"BENCH{existing + index + 1}"
        community = communities.create_community(
            session,
            code=code,
            name=f"基准小区{existing + index + 1}",
            city="上海市",
            fee_regime=FeeRegime.COMMISSION if index % 2 == 0 else FeeRegime.LUMP_SUM,
            commission_rate=Decimal("0.1000") if index % 2 == 0 else None,
            now=now,
        )
        standards = {
            item: billing_standards.create_standard(
                session,
                community=community,
                property_type="residential",
                item_code=item,
                basis=basis,
                rate=rate,
                effective_from=first_period,
                approval_ref="物业服务合同第五条",
                now=now,
                actor_id=None,
            )
            for item, _name, basis, rate in ITEMS
        }
        demo_names = index == 0 and not demo_names_taken
        _staff(session, community, owner_hash, now, demo_names=demo_names)
        session.flush()
        made.append(community)
        _community_data(
            session,
            writer,
            rng,
            community,
            standards,
            count,
            months,
            first_period,
            today,
            owner_hash,
            now,
            result,
            demo_owner=demo_names,
        )
        # The next community's staff are ORM rows: move the id sequences past the COPY.
        writer.fix_sequences(
            t.__table__
            for t in (
                Building,
                Unit,
                User,
                Ownership,
                RoleAssignment,
                Account,
                Bill,
                BillLine,
                JournalEntry,
                Posting,
                Payment,
                Receipt,
            )
        )
    writer.rebuild_indexes(rebuild)
    service_started = time.monotonic()
    _service_history(
        session,
        made,
        months=months,
        now=now,
        seed_value=seed_value,
        units_each=SERVICE_UNITS if service_units is None else service_units,
    )
    result.service_seconds = time.monotonic() - service_started
    summaries.rebuild(session)
    # Fresh planner statistics: without them PostgreSQL guessed a seq scan of 6 M bills for
    # an owner's open bills (650 ms a page instead of 21 ms), as after any bulk load.
    session.execute(text("ANALYZE"))
    result.rows = writer.rows
    result.seconds = time.monotonic() - started
    return result


SERVICE_UNITS = 2000  # units per community given tickets, complaints, surveys, disputes
SERVICE_MONTHS = 12


def _service_history(
    session: Session,
    made: list[Community],
    *,
    months: int,
    now: datetime,
    seed_value: int,
    units_each: int = SERVICE_UNITS,
) -> None:
    """Tickets (repairs and complaints), ratings, surveys and disputes from the domains' own
    demo seeders, over the last 12 months of the first 2,000 units of each community (their
    volume per unit is the demo's; the whole company's would add millions of tickets)."""
    from faker import Faker

    from portal.demo.service import DemoContext, SeedResult

    units = {
        c.id: list(
            session.scalars(
                select(Unit).where(Unit.community_id == c.id).order_by(Unit.id).limit(units_each)
            )
        )
        for c in made
    }
    ctx = DemoContext(
        session=session,
        rng=random.Random(seed_value),
        fake=Faker("zh_CN"),
        now=now,
        months=min(months, SERVICE_MONTHS),
        communities=made,
        units=units,
        result=SeedResult(communities=made),
    )
    if units_each <= 0:
        return
    from portal.disputes import demo as disputes_demo
    from portal.feedback import demo as feedback_demo
    from portal.tickets import demo as tickets_demo

    for module in (tickets_demo, feedback_demo, disputes_demo):
        module.seed(ctx)
        session.flush()


def _staff(
    session: Session,
    community: Community,
    password_hash: str,
    now: datetime,
    *,
    demo_names: bool,
) -> None:
    """One staff user per role for the community (bench-<role>-<code>, or the demo log-ins
    demo-<role> and demo-admin for the first), demo password, TOTP."""
    if demo_names:
        admin = accounts.create_user(session, username="demo-admin", password=None, now=now)
        admin.password_hash = password_hash
        accounts.grant_role(session, user=admin, role="admin", community_id=None)
        two_factor.enrol_with_secret(session, user=admin, secret=two_factor.DEMO_SECRET, now=now)
    for role in DEMO_STAFF:
        username = f"demo-{role}" if demo_names else f"bench-{role}-{community.code.lower()}"
        user = accounts.create_user(session, username=username, password=None, now=now)
        user.password_hash = password_hash  # one argon2 hash for all: each costs ~0.5 s
        user.password_changed_at = now
        accounts.grant_role(session, user=user, role=role, community_id=community.id)
        two_factor.enrol_with_secret(session, user=user, secret=two_factor.DEMO_SECRET, now=now)


def _community_data(
    session: Session,
    w: _Writer,
    rng: random.Random,
    community: Community,
    standards: dict[str, Any],
    count: int,
    months: int,
    first_period: date,
    today: date,
    owner_hash: str,
    now: datetime,
    result: BenchResult,
    *,
    demo_owner: bool = False,
) -> None:
    cid = community.id
    at = w.stamp(now)
    # Buildings and units.
    b0 = w.next_id(Building.__table__)
    n_buildings = -(-count // UNITS_PER_BUILDING)
    w.write(
        Building.__table__,
        ("id", "community_id", "code", "name", "floors"),
        ((b0 + b, cid, f"B-{b + 1}", f"{b + 1}号楼", 25) for b in range(n_buildings)),
    )
    u0 = w.next_id(Unit.__table__)
    units: list[tuple[int, int, Decimal]] = []  # id, building id, area
    for i in range(count):
        units.append(
            (u0 + i, b0 + i // UNITS_PER_BUILDING, Decimal(rng.randint(5800, 16500)) / 100)
        )
    w.write(
        Unit.__table__,
        ("id", "community_id", "building_id", "code", "floor", "area_m2", "property_type"),
        (
            (
                uid,
                cid,
                bid,
                f"B-{(i // UNITS_PER_BUILDING) + 1}-{i % UNITS_PER_BUILDING + 1:03d}",
                (i % UNITS_PER_BUILDING) // 4 + 1,
                area,
                "residential",
            )
            for i, (uid, bid, area) in enumerate(units)
        ),
    )
    # Owners: one per unit, sharing one password hash (hashing each would take hours).
    us0 = w.next_id(User.__table__)
    w.write(
        User.__table__,
        (
            "id",
            "username",
            "password_hash",
            "display_name",
            "phone",
            "active",
            "created_at",
            "password_changed_at",
        ),
        (
            (
                us0 + i,
                DEMO_OWNER
                if demo_owner and i == DEMO_OWNER_INDEX
                else f"owner-{community.code.lower()}-{i + 1}",
                owner_hash,
                f"业主{i + 1}",
                f"139{(cid * 1_000_000 + i) % 100_000_000:08d}",
                True,
                at,
                at,
            )
            for i in range(count)
        ),
    )
    start_on = first_period - timedelta(days=365)
    o0 = w.next_id(Ownership.__table__)
    w.write(
        Ownership.__table__,
        ("id", "user_id", "unit_id", "started_on"),
        ((o0 + i, us0 + i, uid, start_on) for i, (uid, _b, _a) in enumerate(units)),
    )
    r0 = w.next_id(RoleAssignment.__table__)
    w.write(
        RoleAssignment.__table__,
        ("id", "user_id", "role", "community_id"),
        ((r0 + i, us0 + i, "owner", cid) for i in range(count)),
    )
    # Accounts: a receivable per unit, income per item, cash per channel.
    a0 = w.next_id(Account.__table__)
    receivable = {uid: a0 + i for i, (uid, _b, _a) in enumerate(units)}
    other: dict[str, int] = {}
    rows = [
        (receivable[uid], cid, f"receivable:unit:{uid}", AccountKind.ASSET.value, uid, "应收物业费")
        for uid, _b, _a in units
    ]
    next_account = a0 + len(units)
    for item, name, _basis, _rate in ITEMS:
        other[f"income:{item}"] = next_account
        rows.append((next_account, cid, f"income:{item}", AccountKind.INCOME.value, None, name))
        next_account += 1
    for channel in CHANNELS:
        other[f"cash:{channel}"] = next_account
        rows.append(
            (
                next_account,
                cid,
                f"cash:{channel}",
                AccountKind.ASSET.value,
                None,
                f"收款渠道 {channel}",
            )
        )
        next_account += 1
    w.write(Account.__table__, ("id", "community_id", "code", "kind", "unit_id", "name"), rows)
    # Who pays: most units every bill; some units stopped paying 1-14 months ago (arrears in
    # every tier by age); a quarter of the rest miss a bill now and then (old debts: L4).
    # Arrears gather in a minority of units, as they do: spread evenly over every unit, the
    # 12 % unpaid left no unit paid up over five years and every unit a collections case.
    stopped: dict[int, date] = {}
    missers: set[int] = set()
    for i, (uid, _b, _a) in enumerate(units):
        if rng.random() < STOPPED_SHARE:
            stopped[uid] = add_months(today.replace(day=1), -rng.randint(0, 13))
        elif rng.random() < MISSER_SHARE or (demo_owner and i == DEMO_OWNER_INDEX):
            missers.add(uid)  # the demo owner has old debts to see on the owner pages
    # The missers miss the share of their bills that brings the total paid to PAID_SHARE.
    stopped_bills = STOPPED_SHARE * sum(min(k + 1, months) for k in range(14)) / 14 / months
    misses = (1 - PAID_SHARE - stopped_bills) / ((1 - STOPPED_SHARE) * MISSER_SHARE)
    pays = 1 - min(1.0, max(0.0, misses))
    # The latest bill is due only 15 days after issue: many owners have not paid it yet.
    ids = {
        t: w.next_id(t.__table__) for t in (Bill, BillLine, JournalEntry, Posting, Payment, Receipt)
    }
    receipt_seq: dict[int, int] = {}
    # A unit's charges are the same every month (one standard version over the whole span).
    charges: dict[int, tuple[list[tuple[Any, ...]], int]] = {}
    for uid, _bid, area in units:
        amounts = []
        for item, name, basis, rate in ITEMS:
            quantity = area if basis == "per_m2_month" else Decimal(1)
            unit_label = "元/㎡·月" if basis == "per_m2_month" else "元/户·月"
            what = f"{quantity}㎡" if basis == "per_m2_month" else "1 户"
            amounts.append(
                (
                    item,
                    name,
                    quantity,
                    rate,
                    line_amount_fen(quantity, rate),
                    f"{what} × {rate} {unit_label} × 1 月",
                )
            )
        charges[uid] = (amounts, sum(a[4] for a in amounts))
    for m in range(months):
        period = add_months(first_period, m)
        issued = period
        due = issued + timedelta(days=DUE_DAYS)
        created = w.stamp(datetime.combine(issued, dtime(1, 0), tzinfo=UTC))
        bills, lines, entries, postings, payments, receipts = [], [], [], [], [], []
        for uid, _bid, _area in units:
            amounts, total = charges[uid]
            last = m == months - 1
            if uid in stopped and period >= stopped[uid]:
                paid = False
            elif last and today < due:
                paid = rng.random() < 0.45
            else:
                paid = uid not in missers or rng.random() < pays
            bill_id = ids[Bill]
            ids[Bill] += 1
            bills.append(
                (bill_id, cid, uid, period, 1, issued, due, total, 0 if paid else total, 0, created)
            )
            entry_id = ids[JournalEntry]
            ids[JournalEntry] += 1
            entries.append(
                (
                    entry_id,
                    cid,
                    EntryKind.BILL.value,
                    f"账单 {period:%Y-%m}",
                    "bill",
                    bill_id,
                    created,
                )
            )
            line_ids = []
            for item, name, quantity, rate, amount, explanation in amounts:
                line_id = ids[BillLine]
                ids[BillLine] += 1
                line_ids.append((line_id, amount))
                lines.append(
                    (
                        line_id,
                        bill_id,
                        LineKind.CHARGE.value,
                        item,
                        name,
                        standards[item].id,
                        quantity,
                        rate,
                        1,
                        amount,
                        0 if paid else amount,
                        0,
                        explanation,
                    )
                )
                postings.append((ids[Posting], entry_id, receivable[uid], amount, line_id))
                postings.append(
                    (ids[Posting] + 1, entry_id, other[f"income:{item}"], -amount, None)
                )
                ids[Posting] += 2
            result.bills += 1
            if not paid:
                continue
            result.paid += 1
            received = datetime.combine(
                issued + timedelta(days=rng.randint(0, DUE_DAYS + 5)),
                dtime(rng.randint(1, 13), rng.randint(0, 59)),
                tzinfo=UTC,
            )
            received = w.stamp(min(received, now))
            channel = rng.choice(CHANNELS)
            payment_id = ids[Payment]
            ids[Payment] += 1
            payments.append(
                (payment_id, cid, None, uid, channel, f"BN{payment_id}", total, 0, received, "")
            )
            year = received.year
            seq = receipt_seq.get(year, 0) + 1
            receipt_seq[year] = seq
            receipts.append(
                (
                    ids[Receipt],
                    cid,
                    year,
                    seq,
                    f"{community.code}-{year}-{seq:06d}",
                    payment_id,
                    received,
                )
            )
            ids[Receipt] += 1
            pay_entry = ids[JournalEntry]
            ids[JournalEntry] += 1
            entries.append(
                (
                    pay_entry,
                    cid,
                    EntryKind.PAYMENT.value,
                    f"{channel} BN{payment_id}",
                    "payment",
                    payment_id,
                    received,
                )
            )
            postings.append((ids[Posting], pay_entry, other[f"cash:{channel}"], total, None))
            ids[Posting] += 1
            for line_id, amount in line_ids:
                postings.append((ids[Posting], pay_entry, receivable[uid], -amount, line_id))
                ids[Posting] += 1
        w.write(
            Bill.__table__,
            (
                "id",
                "community_id",
                "unit_id",
                "period",
                "period_months",
                "issued_on",
                "due_date",
                "amount_fen",
                "outstanding_fen",
                "waived_fen",
                "created_at",
            ),
            bills,
        )
        w.write(
            BillLine.__table__,
            (
                "id",
                "bill_id",
                "kind",
                "item_code",
                "item_name",
                "fee_standard_id",
                "quantity",
                "rate",
                "months",
                "amount_fen",
                "outstanding_fen",
                "waived_fen",
                "explanation",
            ),
            lines,
        )
        w.write(
            JournalEntry.__table__,
            ("id", "community_id", "kind", "memo", "source_type", "source_id", "created_at"),
            entries,
        )
        w.write(
            Posting.__table__,
            ("id", "entry_id", "account_id", "amount_fen", "bill_line_id"),
            postings,
        )
        w.write(
            Payment.__table__,
            (
                "id",
                "community_id",
                "payer_id",
                "unit_id",
                "channel",
                "txn_id",
                "amount_fen",
                "refund_due_fen",
                "received_at",
                "note",
            ),
            payments,
        )
        w.write(
            Receipt.__table__,
            ("id", "community_id", "year", "seq", "number", "payment_id", "issued_at"),
            receipts,
        )
    for year, seq in receipt_seq.items():
        session.add(ReceiptCounter(community_id=cid, year=year, last_seq=seq))
    session.flush()


@group.command("seed")
@click.option("--units", default=2000, show_default=True, type=click.IntRange(1, 200_000))
@click.option("--months", default=12, show_default=True, type=click.IntRange(1, 120))
@click.option(
    "--communities",
    "communities_count",
    default=1,
    show_default=True,
    type=click.IntRange(1, 500),
    help="The units are shared out over this many.",
)
@click.option("--seed", "seed_value", default=2026, show_default=True, type=int)
@click.option(
    "--service-units",
    default=SERVICE_UNITS,
    show_default=True,
    type=click.IntRange(0, 200_000),
    help="Units per community given tickets, complaints, surveys and disputes (0: none).",
)
def seed_command(
    units: int, months: int, communities_count: int, seed_value: int, service_units: int
) -> None:
    """Write company-scale data (bills, payments, ledger, arrears) with bulk inserts."""
    if current_app.config.get("CLEARFEE_ENV") not in NON_PRODUCTION:
        raise click.ClickException("bench seed is refused in production mode")
    if communities_count > units:
        raise click.ClickException("need at least one unit per community")
    result = seed(
        db.session,
        units=units,
        months=months,
        communities_count=communities_count,
        now=now_utc(),
        seed_value=seed_value,
        service_units=service_units,
    )
    db.session.commit()
    rate = result.bills / result.seconds if result.seconds else 0
    click.echo(
        f"bench: {result.communities} communities, {result.units} units, {result.bills} bills "
        f"({result.paid / max(1, result.bills):.1%} paid), {result.rows} rows in "
        f"{result.seconds:.1f}s ({rate:,.0f} bills/s; service history "
        f"{result.service_seconds:.1f}s of it)"
    )
