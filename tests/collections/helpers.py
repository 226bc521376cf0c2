"""Builders for collections tests: a billed community with owners, a collector and a manager."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.billing import runs as billing_runs
from portal.billing.models import Bill
from portal.collections import engine
from portal.collections.models import CollectionCase
from portal.communities.models import Community, Unit
from portal.payments import crediting
from tests import factories
from tests.factories import NOW


@dataclass
class World:
    community: Community
    unit: Unit
    owner: User
    other_unit: Unit
    other_owner: User
    collector: User
    collector2: User
    manager: User
    finance: User
    cs: User

    def bills(self, session: Session, unit: Unit | None = None) -> list[Bill]:
        unit = unit or self.unit
        return list(
            session.scalars(select(Bill).where(Bill.unit_id == unit.id).order_by(Bill.period))
        )


def make_world(
    session: Session,
    *,
    code: str | None = None,
    periods: tuple[str, ...] = ("2026-07", "2026-08", "2026-09", "2026-10"),
    **community_fields: Any,
) -> World:
    """Two owners in one community, each with ¥250 monthly bills, and the staff."""
    community = factories.make_community(
        session, code=code, hotline="021-5888 1234", **community_fields
    )
    factories.make_standard(session, community=community, rate="2.50")
    building = factories.make_building(session, community=community)
    unit = factories.make_unit(session, building=building, area_m2=Decimal("100.00"))
    other_unit = factories.make_unit(session, building=building, area_m2=Decimal("80.00"))
    owner = factories.make_user(
        session, role="owner", unit=unit, display_name="王芳", phone="13912345678"
    )
    other_owner = factories.make_user(session, role="owner", unit=other_unit, phone="13800000000")
    world = World(
        community=community,
        unit=unit,
        owner=owner,
        other_unit=other_unit,
        other_owner=other_owner,
        collector=factories.make_user(
            session, role="collector", community=community, display_name="孙催缴"
        ),
        collector2=factories.make_user(
            session, role="collector", community=community, display_name="周催缴"
        ),
        manager=factories.make_user(
            session, role="manager", community=community, display_name="赵经理"
        ),
        finance=factories.make_user(session, role="finance", community=community),
        cs=factories.make_user(session, role="cs", community=community),
    )
    for period in periods:
        billing_runs.generate_bills(
            session, community=community, period=billing_runs.period_start(period), now=NOW
        )
    session.flush()
    return world


def run(session: Session, day: date, now: datetime = NOW) -> engine.RunResult:
    result = engine.run_daily(session, day=day, now=now)
    session.commit()
    return result


def case_of(session: Session, unit: Unit) -> CollectionCase | None:
    return session.scalar(select(CollectionCase).where(CollectionCase.unit_id == unit.id))


def pay(
    session: Session, world: World, unit: Unit, amount_fen: int, ref: str, now: datetime = NOW
) -> Any:
    payment = crediting.record_offline_payment(
        session,
        unit=unit,
        channel="cash",
        reference=ref,
        amount_fen=amount_fen,
        received_on=now.date(),
        actor=world.finance,
        now=now,
    )
    session.commit()
    return payment


def enable_late_fees(session: Session, world: World) -> None:
    """0.05 % a day from the due date, capped at 10 %, under the contract's clause."""
    from portal.billing import late_fees

    late_fees.set_late_fee_policy(
        session,
        community=world.community,
        enabled=True,
        daily_rate=Decimal("0.0005"),
        cap_rate=Decimal("0.1"),
        grace_days=0,
        clause_ref="物业服务合同第十二条",
        actor=world.manager,
        now=NOW,
    )


def dispute_line(session: Session, world: World, line: Any) -> Any:
    """The owner disputes a bill line's area (the line goes on hold)."""
    from portal.disputes import intake

    return intake.open_dispute(
        session,
        owner=world.owner,
        target_type="bill_line",
        target_id=line.id,
        reason="wrong_area",
        statement="面积应为 89.5 平方米，不是 100",
        now=NOW,
    )


def jpeg_bytes() -> bytes:
    img = Image.new("RGB", (60, 40), "steelblue")
    out = io.BytesIO()
    img.save(out, "JPEG")
    return out.getvalue()


def snapshot(session: Session) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, to show that something wrote nothing."""
    from portal.extensions import db

    session.expire_all()
    out = {}
    for table in db.metadata.sorted_tables:
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        out[table.name] = [tuple(r) for r in rows]
    return out


_snapshot = snapshot
