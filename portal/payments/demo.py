"""Demo bills and payments, 1-3 years of them, with a realistic collection rate.

Bills and payments alternate month by month (a payment settles the bills issued before it,
and the next run applies what was overpaid), so the history is seeded here, in payments,
which sits above billing; billing's own demo seeds the fee standards first.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from portal.billing import runs as billing_runs
from portal.billing.demo import first_period
from portal.billing.models import Bill
from portal.communities.models import Community, Ownership, Unit
from portal.demo.service import DemoContext
from portal.notify import sending as notify_sending
from portal.notify.channels import InboxChannel
from portal.payments.bulk import ImportRow, import_payments
from portal.payments.models import Channel
from portal.timeutil import DEFAULT_TZ, local_today

INBOX_ONLY = {"inbox": InboxChannel()}

ONLINE = [
    (Channel.WECHAT, 45),
    (Channel.ALIPAY, 30),
    (Channel.BANK_TRANSFER, 9),
    (Channel.CASH, 5),
    (Channel.POS, 5),
    (Channel.AUTO_DEBIT, 6),
]


def _instant(day: date, rng_minutes: int) -> datetime:
    local = datetime.combine(day, time(9, 0), tzinfo=DEFAULT_TZ) + timedelta(minutes=rng_minutes)
    return local.astimezone(UTC)


def seed(ctx: DemoContext) -> None:
    """Monthly bills and payments for each community."""
    today = local_today(now=ctx.now)
    first = first_period(ctx)
    totals = [0, 0]
    for community in ctx.communities:
        billed, collected = _bills_and_payments(ctx, community, first, today)
        totals[0] += billed
        totals[1] += collected
    rate = totals[1] / totals[0] * 100 if totals[0] else 0
    ctx.result.lines.append(f"billing: {ctx.months} months of bills, collection rate {rate:.1f}%")


# How well each building is served, in building order: owners of a well-run building pay more
# readily, those of a poorly run one fall behind more (and the feedback demo gives each building
# a satisfaction that follows its collection rate), so a scatter of satisfaction against
# collection by building tells the product's story. Not random: the rng draws stay the same.
BUILDING_SERVICE_SHIFT = (0.1, -0.16, 0.1, -0.04, 0.08, -0.08, 0.0, 0.06)


def _payer_profiles(ctx: DemoContext, units: list[Unit]) -> dict[int, str]:
    """Most owners pay on time; some forget, a few are dissatisfied, struggling or wilful;
    more of them fall behind in the buildings that are served worse."""
    buildings = sorted({unit.building_id for unit in units})
    shift = {
        b: BUILDING_SERVICE_SHIFT[i % len(BUILDING_SERVICE_SHIFT)] for i, b in enumerate(buildings)
    }
    profiles = {}
    for unit in units:
        roll = ctx.rng.random() - shift[unit.building_id]
        profiles[unit.id] = (
            "prompt"
            if roll < 0.78
            else "late"
            if roll < 0.90
            else "dissatisfied"
            if roll < 0.95
            else "hardship"
            if roll < 0.98
            else "wilful"
        )
    return profiles


def _bills_and_payments(
    ctx: DemoContext, community: Community, first: date, today: date
) -> tuple[int, int]:
    session, rng = ctx.session, ctx.rng
    units = ctx.units[community.id]
    profiles = _payer_profiles(ctx, units)
    demo_units = set(
        session.scalars(
            select(Ownership.unit_id)
            .join_from(Ownership, Unit)
            .where(Unit.community_id == community.id, Ownership.user_id.in_(_demo_user_ids()))
        )
    )
    owner_of = dict(
        session.execute(
            select(Ownership.unit_id, Ownership.user_id)
            .where(Ownership.unit_id.in_([u.id for u in units]))
            .order_by(Ownership.id)  # of co-owners, the later ownership pays
        ).all()
    )
    period = first
    step = 3 if community.billing_cycle == "quarterly" else 1
    billed = collected = 0
    while period <= today:
        run_at = _instant(period, 0)
        # Only the current period's bills are announced to owners (the history is not news).
        announce = billing_runs.add_months(period, step) > today
        billing_runs.generate_bills(
            session, community=community, period=period, now=run_at, announce=announce
        )
        if announce:  # the announcements reach the inboxes at the run's instant (09:00)
            notify_sending.send_due(
                session, now=run_at, channels=INBOX_ONLY, commit=session.flush, only=("inbox",)
            )
        bills = session.scalars(
            select(Bill)
            .where(Bill.community_id == community.id, Bill.period == period)
            .order_by(Bill.id)  # the rng draws follow this order, on every database
        ).all()
        months_ago = (today.year - period.year) * 12 + today.month - period.month
        batch: list[ImportRow] = []
        for bill in bills:
            billed += bill.amount_fen
            profile = profiles[bill.unit_id]
            if bill.unit_id in demo_units:
                profile = "demo"
            amount, delay = _decide(rng, profile, months_ago, bill.amount_fen)
            paid_on = bill.issued_on + timedelta(days=delay)
            if amount <= 0 or paid_on > today:
                continue
            channel = _channel(rng)
            batch.append(
                ImportRow(
                    unit_id=bill.unit_id,
                    bill_id=bill.id,
                    channel=channel,
                    txn_id=f"{channel[:2].upper()}{secrets.token_hex(8).upper()}",
                    amount_fen=amount,
                    received_at=_instant(paid_on, rng.randint(0, 720)),
                    payer_id=owner_of.get(bill.unit_id),
                )
            )
            collected += amount
        import_payments(session, community=community, rows=batch)
        session.flush()
        period = billing_runs.add_months(period, step)
    return billed, collected


def _demo_user_ids():  # type: ignore[no-untyped-def]
    from portal.accounts.models import User

    return select(User.id).where(User.username.in_(["demo-owner", "demo-owner-2"]))


def _decide(rng, profile: str, months_ago: int, amount: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(fen paid, days after issue) for one bill of a payer with this profile."""
    if profile == "demo":  # the demo owners keep their last two or three bills open
        return (0, 0) if months_ago < 2 else (amount, rng.randint(1, 20))
    if profile == "prompt":
        return (amount, rng.randint(0, 14)) if months_ago > 0 or rng.random() < 0.6 else (0, 0)
    if profile == "late":
        if months_ago < 2 and rng.random() < 0.7:
            return 0, 0
        return amount, rng.randint(20, 75)
    if profile == "dissatisfied":  # stopped paying some months ago after a service problem
        return (amount, rng.randint(5, 30)) if months_ago > 5 else (0, 0)
    if profile == "hardship":  # pays part, when they can
        if rng.random() < 0.5:
            return amount // 2, rng.randint(10, 60)
        return 0, 0
    return (amount, 10) if months_ago > 10 else (0, 0)  # wilful


def _channel(rng) -> str:  # type: ignore[no-untyped-def]
    pick = rng.randint(1, 100)
    for channel, weight in ONLINE:
        if pick <= weight:
            return str(channel)
        pick -= weight
    return str(Channel.WECHAT)
