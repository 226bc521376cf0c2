import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.communities.models import Community
from portal.demo import service as demo
from portal.notices import demo as notices_demo
from portal.notices import service as notices
from portal.notices.models import Notice
from portal.publication import service as publication
from portal.transparency import demo as transparency_demo
from portal.transparency import summary
from portal.transparency.models import FundMovement, SpendingItem
from tests.factories import NOW


def test_demo_spending_notices_and_chain(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        demo.domains,
        "modules",
        lambda name: [transparency_demo, notices_demo] if name == "demo" else [],
    )
    # How long this takes is measured by the benchmarks (docs/benchmarks.md), not asserted.
    result = demo.seed(session, communities_count=2, units_per_community=40, now=NOW)
    session.commit()
    assert any(line.startswith("transparency:") for line in result.lines)
    demo1 = session.scalar(select(Community).where(Community.code == "DEMO1"))
    items = session.scalar(
        select(func.count(SpendingItem.id)).where(SpendingItem.community_id == demo1.id)
    )
    assert items > 12 * 11  # more than a year of monthly items
    published = session.scalars(
        select(SpendingItem).where(
            SpendingItem.community_id == demo1.id, SpendingItem.status == "published"
        )
    ).all()
    assert all(item.evidence for item in published if item.amount_fen)
    assert any(item.supersedes_id and item.amount_fen == 0 for item in published)  # a retraction
    assert any(item.supersedes_id and item.amount_fen for item in published)  # a correction
    rows, budget = summary.budget_vs_actual(
        session, community_id=demo1.id, year=2026, today=NOW.date()
    )
    assert budget is not None
    assert budget.version == 2
    assert rows
    assert (
        session.scalar(
            select(func.count(FundMovement.id)).where(FundMovement.community_id == demo1.id)
        )
        > 20
    )
    for community in result.communities:
        assert publication.verify(session, community).ok
        count = session.scalar(
            select(func.count(Notice.id)).where(Notice.community_id == community.id)
        )
        assert count >= 12
        fee_notices = notices.published_fee_change_notices(session, community_id=community.id)
        assert fee_notices
        oldest = fee_notices[-1]
        assert (NOW - oldest.published_at).days >= 30
