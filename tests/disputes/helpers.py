"""Builders for dispute tests: a billed community with owners, staff and (optionally) late fees."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.billing import late_fees as billing_late_fees
from portal.billing import runs as billing_runs
from portal.billing.models import Bill, BillLine, LineKind
from portal.communities.models import Community, Unit
from tests import factories
from tests.factories import NOW


@dataclass
class World:
    community: Community
    unit: Unit
    owner: User
    bills: list[Bill]
    other_unit: Unit
    other_owner: User
    cs: User
    finance: User
    manager: User
    committee: User

    def line(self, index: int = 0, kind: str = LineKind.CHARGE) -> BillLine:
        lines = [ln for b in self.bills for ln in b.lines if ln.kind == kind]
        return lines[index]


def make_world(
    session: Session,
    *,
    code: str | None = None,
    periods: tuple[str, ...] = ("2026-09", "2026-10"),
    late_fees: bool = False,
    **community_fields: Any,
) -> World:
    """Two owners in one community, each with ¥250 monthly bills, and the four staff roles."""
    community = factories.make_community(session, code=code, **community_fields)
    factories.make_standard(session, community=community, rate="2.50")
    building = factories.make_building(session, community=community)
    unit = factories.make_unit(session, building=building, area_m2=Decimal("100.00"))
    other_unit = factories.make_unit(session, building=building, area_m2=Decimal("80.00"))
    owner = factories.make_user(
        session, role="owner", unit=unit, display_name="王芳", phone="13912345678"
    )
    other_owner = factories.make_user(session, role="owner", unit=other_unit)
    manager = factories.make_user(
        session, role="manager", community=community, display_name="赵经理"
    )
    for period in periods:
        billing_runs.generate_bills(
            session, community=community, period=billing_runs.period_start(period), now=NOW
        )
    if late_fees:
        billing_late_fees.set_late_fee_policy(
            session,
            community=community,
            enabled=True,
            daily_rate=Decimal("0.0005"),
            cap_rate=Decimal("0.1"),
            grace_days=0,
            clause_ref="物业服务合同第十二条",
            actor=manager,
            now=NOW,
        )
        billing_late_fees.assess_late_fees(
            session, community=community, on=date(2026, 10, 31), now=NOW
        )
    bills = list(session.scalars(select(Bill).where(Bill.unit_id == unit.id).order_by(Bill.period)))
    for bill in bills:
        session.refresh(bill)
    return World(
        community=community,
        unit=unit,
        owner=owner,
        bills=bills,
        other_unit=other_unit,
        other_owner=other_owner,
        cs=factories.make_user(session, role="cs", community=community, display_name="李客服"),
        finance=factories.make_user(
            session, role="finance", community=community, display_name="钱财务"
        ),
        manager=manager,
        committee=factories.make_user(
            session, role="committee", community=community, display_name="孙委员"
        ),
    )


def other_bill_line(session: Session, world: World) -> BillLine:
    line = session.scalar(
        select(BillLine).join(Bill).where(Bill.unit_id == world.other_unit.id).limit(1)
    )
    assert line is not None
    return line


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def png_bytes(colour: str = "#0f766e") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 20), colour).save(out, "PNG")
    return out.getvalue()


def spending_item(
    session: Session, world: World, *, publish: bool = True, amount_fen: int = 128_050
) -> Any:
    """A spending item of the world's community (published unless asked otherwise)."""
    from portal.transparency import service as spending
    from portal.transparency.models import SpendingCategory

    spending.ensure_default_categories(session, community=world.community)
    category = session.scalar(
        select(SpendingCategory).where(
            SpendingCategory.community_id == world.community.id,
            SpendingCategory.parent_id.is_not(None),
        )
    )
    assert category is not None
    item = spending.create_item(
        session,
        community=world.community,
        category_id=category.id,
        spent_on=date(2026, 11, 10),
        amount_fen=amount_fen,
        vendor="洁美环境服务有限公司",
        description="保洁外包服务费（11 月）",
        actor=world.finance,
        now=NOW,
        today=date(2026, 11, 20),
    )
    spending.add_evidence(
        session, item=item, data=png_bytes(), filename="invoice.png", actor=world.finance, now=NOW
    )
    if publish:
        item = spending.publish_item(
            session, item=item, community=world.community, actor=world.finance, now=NOW
        )
    return item


LATER = NOW + timedelta(days=1)
