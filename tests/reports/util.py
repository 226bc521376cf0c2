"""A small hand-made community whose KPIs are worked out by hand in tests/reports.

Five units of 100 m² at ¥2.50/m²·month: every bill is ¥250 (25 000 fen). Bills for
2026-09, -10 and -11, each issued on the 1st and due on the 16th. The clock is 2026-11-10 10:00
Shanghai, so November is not yet due (in progress).

Payments (local dates): U1 pays each month on the 5th by WeChat; U2 pays September late on
10-08 and October on 10-10 by Alipay; U3 pays September on 10-20 by WeChat and nothing since;
U4 pays nothing; U5 pays September and October on the 12th in cash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.billing import runs as billing_runs
from portal.billing.models import Bill
from portal.communities.models import Community, Unit
from portal.feedback.models import RecoveryStatus, RecoveryTask
from portal.payments.bulk import ImportRow, import_payments
from portal.timeutil import DEFAULT_TZ
from tests import factories
from tests.tickets.util import World

NOW = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def local(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=DEFAULT_TZ).astimezone(UTC)


@dataclass
class Town:
    community: Community
    units: list[Unit]
    owners: list[User]
    world: World  # for the ticket helpers
    manager: User


def make_town(session: Session, *, code: str = "KPI1") -> Town:
    community = factories.make_community(session, code=code, name="指标小区")
    building = factories.make_building(session, community=community, code="K1")
    factories.make_standard(session, community=community, rate="2.50")
    units = [
        factories.make_unit(session, building=building, code=f"K1-{i}", area_m2=Decimal("100.00"))
        for i in range(1, 6)
    ]
    owners = [
        factories.make_user(session, role="owner", unit=units[0], display_name="王芳"),
        factories.make_user(session, role="owner", unit=units[1]),
        factories.make_user(session, role="owner", unit=units[2], phone="13800000003"),
        factories.make_user(session, role="owner", unit=units[3]),
        factories.make_user(session, role="owner", unit=units[4]),
    ]
    owners[3].email = "u4@example.com"
    manager = factories.make_user(session, role="manager", community=community)
    world = World(
        community=community,
        unit=units[0],
        owner=owners[0],
        other_unit=units[1],
        other_owner=owners[1],
        cs=factories.make_user(session, role="cs", community=community),
        engineer=factories.make_user(session, role="engineer", community=community),
        engineer2=factories.make_user(session, role="engineer", community=community),
        manager=manager,
    )
    for month in (9, 10, 11):
        first = date(2026, month, 1)
        billing_runs.generate_bills(
            session, community=community, period=first, now=local(first, 9), announce=False
        )
    bill = {
        (b.unit_id, b.period.month): b
        for b in session.scalars(select(Bill).where(Bill.community_id == community.id))
    }
    plan = [
        (0, 9, "wechat", date(2026, 9, 5)),
        (0, 10, "wechat", date(2026, 10, 5)),
        (0, 11, "wechat", date(2026, 11, 5)),
        (1, 9, "alipay", date(2026, 10, 8)),
        (1, 10, "alipay", date(2026, 10, 10)),
        (2, 9, "wechat", date(2026, 10, 20)),
        (4, 9, "cash", date(2026, 9, 12)),
        (4, 10, "cash", date(2026, 10, 12)),
    ]
    rows = [
        ImportRow(
            unit_id=units[u].id,
            bill_id=bill[(units[u].id, month)].id,
            channel=channel,
            txn_id=f"{code}-{u}-{month}",
            amount_fen=25_000,
            received_at=local(day),
        )
        for u, month, channel, day in plan
    ]
    # One batch per day, in order, as payments arrive.
    for day in sorted({r.received_at for r in rows}):
        import_payments(
            session, community=community, rows=[r for r in rows if r.received_at == day]
        )
    session.flush()
    return Town(community, units, owners, world, manager)


def add_recovery_task(session: Session, town: Town, *, unit: Unit, done_at: datetime) -> None:
    session.add(
        RecoveryTask(
            community_id=town.community.id,
            unit_id=unit.id,
            status=RecoveryStatus.DONE,
            open_unit_id=None,
            problems=[],
            created_at=done_at,
            period=done_at.astimezone(DEFAULT_TZ).strftime("%Y-%m"),
            due_on=done_at.date(),
            done_at=done_at,
            done_on_time=True,
        )
    )
    session.flush()
