"""Demo fee standards from the contract, and the announced change of one of them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from portal.billing import runs, standards
from portal.communities.models import Community
from portal.demo.service import DemoContext
from portal.notices import demo as notice_demo
from portal.notices import service as notices
from portal.timeutil import local_today

STANDARDS = [  # (property type, item, basis, rate)
    ("residential", "property_service", "per_m2_month", "2.35"),
    ("residential", "garbage", "per_unit_month", "8.00"),
    ("commercial", "property_service", "per_m2_month", "4.80"),
    ("commercial", "garbage", "per_unit_month", "30.00"),
]


def first_period(ctx: DemoContext) -> date:
    """The first billed month of the demo (ctx.months back from today)."""
    today = local_today(now=ctx.now)
    return runs.add_months(today.replace(day=1), -(ctx.months - 1))


def seed(ctx: DemoContext) -> None:
    """Standards from the contract for each community (bills and payments: payments/demo.py)."""
    first = first_period(ctx)
    for community in ctx.communities:
        _standards(ctx, community, first)


def _standards(ctx: DemoContext, community: Community, first: date) -> None:
    start = min(first, date(first.year, 1, 1))
    for property_type, item, basis, rate in STANDARDS:
        standards.create_standard(
            ctx.session,
            community=community,
            property_type=property_type,
            item_code=item,
            basis=basis,
            rate=Decimal(rate),
            effective_from=start,
            approval_ref=f"《物业服务合同》第五条；{community.city}物价备案 {start.year}-017",
            now=ctx.now,
            actor_id=None,
        )
    # The new garbage fee cites the notice that announced it (notices/demo.py); the other
    # announced change (shared utilities) is left for finance to enter, so the standards
    # page has an eligible notice to offer.
    announced = [
        n
        for n in notices.published_fee_change_notices(ctx.session, community_id=community.id)
        if (n.fee_property_type, n.fee_item_code) == ("residential", "garbage")
    ]
    if not announced:
        return
    notice = announced[0]
    assert notice.published_at is not None  # noqa: S101 - published notices have a time
    standards.create_standard(
        ctx.session,
        community=community,
        property_type="residential",
        item_code="garbage",
        basis="per_unit_month",
        rate=Decimal(notice.fee_rate or 0),
        effective_from=notice_demo.fee_change_effective(notice.published_at, community),
        approval_ref="业主大会 2026 年第二次会议决议（生活垃圾分类清运成本上涨）",
        notice_id=notice.id,
        now=ctx.now,
        actor_id=None,
        note="垃圾分类清运费由 8 元/户·月 调整为 10 元/户·月",
    )
