from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry
from portal.errors import DomainError
from portal.publication import service as publication
from portal.publication.models import PublicationEntry
from portal.transparency import service as spending
from portal.transparency import summary
from portal.transparency.models import (
    RecordStatus,
    SpendingCategory,
    SpendingEvidence,
    SpendingItem,
)
from portal.uploads.models import StoredFile
from tests import factories
from tests.factories import NOW
from tests.transparency import helpers
from tests.transparency.helpers import TODAY


def test_default_tree_is_two_levels_and_regime_aware(session: Session) -> None:
    lump = factories.make_community(session, fee_regime="lump_sum")
    commission = factories.make_community(session, fee_regime="commission")
    assert spending.ensure_default_categories(session, community=lump)
    assert not spending.ensure_default_categories(session, community=lump)  # idempotent
    spending.ensure_default_categories(session, community=commission)
    tree = spending.categories(session, community_id=lump.id)
    tops = [c.code for c in tree if c.parent_id is None]
    assert tops[:3] == ["staff", "cleaning", "security"]
    assert "surplus" in tops
    assert "surplus" not in [
        c.code for c in spending.top_categories(session, community_id=commission.id)
    ]
    for child in (c for c in tree if c.parent_id is not None):
        assert session.get(SpendingCategory, child.parent_id).parent_id is None


def test_categories_are_community_editable_but_codes_stay(session: Session) -> None:
    community = factories.make_community(session)
    actor = helpers.finance(session, community)
    spending.ensure_default_categories(session, community=community)
    repairs = next(
        c
        for c in spending.top_categories(session, community_id=community.id)
        if c.code == "repairs"
    )
    roof = spending.add_category(
        session,
        community=community,
        code="Repairs.Roof",
        name="屋面维修",
        parent_id=repairs.id,
        actor=actor,
        now=NOW,
    )
    assert roof.code == "repairs.roof"
    with pytest.raises(DomainError, match="两级"):
        spending.add_category(
            session,
            community=community,
            code="x",
            name="三级",
            parent_id=roof.id,
            actor=actor,
            now=NOW,
        )
    with pytest.raises(DomainError, match="已存在"):
        spending.add_category(
            session,
            community=community,
            code="repairs.roof",
            name="重复",
            parent_id=None,
            actor=actor,
            now=NOW,
        )
    with pytest.raises(DomainError, match="编码"):
        spending.add_category(
            session,
            community=community,
            code="维修",
            name="中文编码",
            parent_id=None,
            actor=actor,
            now=NOW,
        )
    spending.update_category(
        session, category=roof, name="屋面及防水", active=False, actor=actor, now=NOW
    )
    assert roof.code == "repairs.roof"
    assert roof.name == "屋面及防水"
    with pytest.raises(DomainError, match="未知的支出类别"):  # inactive: not for new items
        spending.create_item(
            session,
            community=community,
            category_id=roof.id,
            spent_on=TODAY,
            amount_fen=100,
            vendor="v",
            description="d",
            actor=actor,
            now=NOW,
            today=TODAY,
        )


def test_publish_appends_to_log_and_freezes_the_item(session: Session) -> None:
    community = factories.make_community(session, code="SP1")
    actor = helpers.finance(session, community)
    item = helpers.draft(session, community, actor)
    assert item.status == RecordStatus.DRAFT
    assert publication.count(session, community) == 0
    spending.publish_item(session, item=item, community=community, actor=actor, now=NOW)
    assert item.status == RecordStatus.PUBLISHED
    assert item.published_at == NOW
    chain = publication.entries(session, community)
    assert len(chain) == 1
    entry = chain[0]
    assert entry["kind"] == "spending"
    assert entry["record_id"] == item.id
    assert entry["payload"]["amount_fen"] == 128_050
    assert entry["payload"]["category"] == "cleaning.service"
    assert entry["payload"]["evidence_sha256"] == [item.evidence[0].file.sha256]
    assert publication.verify(session, community).ok
    with pytest.raises(DomainError, match="已经公开"):
        spending.publish_item(session, item=item, community=community, actor=actor, now=NOW)
    assert publication.count(session, community) == 1
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.target_id == item.id)
    ).all()
    assert "spending.publish" in actions


def test_publishing_needs_evidence(session: Session) -> None:
    community = factories.make_community(session)
    actor = helpers.finance(session, community)
    item = helpers.draft(session, community, actor, evidence=False)
    with pytest.raises(DomainError, match="凭证"):
        spending.publish_item(session, item=item, community=community, actor=actor, now=NOW)
    assert item.status == RecordStatus.DRAFT
    assert publication.count(session, community) == 0


def test_editing_a_published_item_is_refused(session: Session) -> None:
    community = factories.make_community(session)
    actor = helpers.finance(session, community)
    item = helpers.published(session, community, actor)
    session.commit()
    with pytest.raises(DomainError, match="已公开的支出不能修改"):
        spending.update_item(
            session,
            item=item,
            category_id=item.category_id,
            spent_on=item.spent_on,
            amount_fen=1,
            vendor="改",
            description="改",
            actor=actor,
            now=NOW,
            today=TODAY,
        )
    with pytest.raises(DomainError, match="已公开"):
        spending.add_evidence(
            session,
            item=item,
            data=helpers.png_bytes("#fff"),
            filename="x.png",
            actor=actor,
            now=NOW,
        )
    with pytest.raises(DomainError, match="已公开"):
        spending.delete_draft(session, item=item, actor=actor, now=NOW)
    session.rollback()
    session.expire_all()
    fresh = session.get(SpendingItem, item.id)
    assert fresh.amount_fen == 128_050
    assert fresh.vendor == "洁美环境服务有限公司"
    assert len(fresh.evidence) == 1


def test_draft_edit_and_delete(session: Session) -> None:
    community = factories.make_community(session)
    actor = helpers.finance(session, community)
    item = helpers.draft(session, community, actor)
    spending.update_item(
        session,
        item=item,
        category_id=helpers.category(session, community, "energy.power").id,
        spent_on=TODAY,
        amount_fen=99_900,
        vendor="国网",
        description="电费",
        actor=actor,
        now=NOW,
        today=TODAY,
    )
    assert (item.amount_fen, item.category.code) == (99_900, "energy.power")
    spending.remove_evidence(
        session, item=item, evidence_id=item.evidence[0].id, actor=actor, now=NOW
    )
    assert item.evidence == []
    item_id = item.id
    spending.delete_draft(session, item=item, actor=actor, now=NOW)
    assert session.get(SpendingItem, item_id) is None


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (-100, "大于 0"),
        (0, "大于 0"),
        (None, "金额"),
        ("12.5", "金额"),
        (10**13, "过大"),
        (True, "金额"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(
    session: Session, amount: object, message: str
) -> None:
    community = factories.make_community(session)
    actor = helpers.finance(session, community)
    category = helpers.category(session, community)
    before = helpers.count(session, SpendingItem)
    with pytest.raises(DomainError, match=message):
        spending.create_item(
            session,
            community=community,
            category_id=category.id,
            spent_on=TODAY,
            amount_fen=amount,
            vendor="v",
            description="d",
            actor=actor,
            now=NOW,
            today=TODAY,
        )
    assert helpers.count(session, SpendingItem) == before


def test_unknown_or_foreign_category_and_future_date(session: Session) -> None:
    community = factories.make_community(session)
    other = factories.make_community(session)
    actor = helpers.finance(session, community)
    foreign = helpers.category(session, other)
    for category_id in (foreign.id, 999_999, "3", None):
        with pytest.raises(DomainError, match="未知的支出类别") as caught:
            spending.create_item(
                session,
                community=community,
                category_id=category_id,
                spent_on=TODAY,
                amount_fen=100,
                vendor="v",
                description="d",
                actor=actor,
                now=NOW,
                today=TODAY,
            )
        assert caught.value.field == "category_id"
    with pytest.raises(DomainError, match="晚于今天"):
        helpers.draft(session, community, actor, spent_on=TODAY + timedelta(days=1))
    assert helpers.count(session, SpendingItem) == 0


def test_correction_supersedes_and_both_stay_visible(session: Session) -> None:
    community = factories.make_community(session, code="COR")
    actor = helpers.finance(session, community)
    old = helpers.published(session, community, actor, amount_fen=100_000)
    other = helpers.published(session, community, actor, amount_fen=50_000, code="energy.power")
    with pytest.raises(DomainError, match="原因"):
        spending.start_correction(
            session, item=old, reason=" ", retract=False, actor=actor, now=NOW
        )
    correction = spending.start_correction(
        session, item=old, reason="发票金额应为 900 元", retract=False, actor=actor, now=NOW
    )
    assert correction.status == RecordStatus.DRAFT
    assert [e.stored_file_id for e in correction.evidence] == [
        e.stored_file_id for e in old.evidence
    ]
    with pytest.raises(DomainError, match="待发布的更正"):
        spending.start_correction(
            session, item=old, reason="again", retract=False, actor=actor, now=NOW
        )
    # Not yet published: totals still count the old version.
    totals = summary.spending_by_category(session, community_id=community.id, year=TODAY.year)
    assert sum(t.total_fen for t in totals) == 150_000
    spending.update_item(
        session,
        item=correction,
        category_id=old.category_id,
        spent_on=old.spent_on,
        amount_fen=90_000,
        vendor=old.vendor,
        description=old.description,
        correction_reason="发票金额应为 900 元",
        actor=actor,
        now=NOW,
        today=TODAY,
    )
    spending.publish_item(session, item=correction, community=community, actor=actor, now=NOW)
    assert spending.superseded_by(session, [old.id, other.id]) == {old.id: correction.id}
    totals = summary.spending_by_category(session, community_id=community.id, year=TODAY.year)
    assert sum(t.total_fen for t in totals) == 140_000
    chain = spending.correction_chain(session, old)
    assert [i.id for i in chain] == [old.id, correction.id]
    assert old.status == RecordStatus.PUBLISHED  # the original stays, unchanged
    assert old.amount_fen == 100_000
    with pytest.raises(DomainError, match="已被更正"):
        spending.start_correction(
            session, item=old, reason="x", retract=False, actor=actor, now=NOW
        )
    assert publication.verify(session, community).ok
    assert [e["kind"] for e in publication.entries(session, community)] == ["spending"] * 3


def test_retraction_is_a_zero_correction(session: Session) -> None:
    community = factories.make_community(session)
    actor = helpers.finance(session, community)
    duplicate = helpers.published(session, community, actor, amount_fen=77_700)
    retraction = spending.start_correction(
        session, item=duplicate, reason="重复录入", retract=True, actor=actor, now=NOW
    )
    assert retraction.amount_fen == 0
    assert retraction.evidence == []
    spending.publish_item(session, item=retraction, community=community, actor=actor, now=NOW)
    totals = summary.spending_by_category(session, community_id=community.id, year=TODAY.year)
    assert sum(t.total_fen for t in totals) == 0
    document = summary.spending_document(session, community=community, year=TODAY.year)
    by_id = {i["id"]: i for i in document["items"]}
    assert by_id[duplicate.id]["superseded_by"] == retraction.id
    assert by_id[retraction.id]["correction_reason"] == "重复录入"


def test_evidence_is_content_checked(session: Session) -> None:
    community = factories.make_community(session)
    actor = helpers.finance(session, community)
    item = helpers.draft(session, community, actor, evidence=False)
    stored_before = helpers.count(session, StoredFile)
    for data, name in (
        (helpers.EXE_AS_JPG, "invoice.jpg"),
        (helpers.SVG_WITH_SCRIPT, "invoice.svg"),
        (b"%PDF-1.4\n/JavaScript (app.alert(1))\n%%EOF", "contract.pdf"),
        (b"\xff\xd8\xff" + b"0" * (11 * 1024 * 1024), "huge.jpg"),
    ):
        with pytest.raises(DomainError):
            spending.add_evidence(
                session, item=item, data=data, filename=name, actor=actor, now=NOW
            )
    assert helpers.count(session, StoredFile) == stored_before
    assert helpers.count(session, SpendingEvidence) == 0
    evidence = spending.add_evidence(
        session,
        item=item,
        data=helpers.png_bytes(exif=True),
        filename="photo.jpg",
        actor=actor,
        now=NOW,
    )
    assert evidence.file.content_type == "image/jpeg"
    with pytest.raises(DomainError, match="上传过"):
        spending.add_evidence(
            session,
            item=item,
            data=helpers.png_bytes(exif=True),
            filename="again.jpg",
            actor=actor,
            now=NOW,
        )


def test_years_and_listing(session: Session) -> None:
    community = factories.make_community(session)
    actor = helpers.finance(session, community)
    helpers.published(session, community, actor, spent_on=TODAY.replace(year=2025, month=3))
    helpers.published(session, community, actor, code="energy.power")
    helpers.draft(session, community, actor)
    assert spending.years_with_spending(session, community_id=community.id) == [2026, 2025]
    page = spending.list_items(session, community_id=community.id, year=2026)
    assert page.total == 1
    energy = next(
        c for c in spending.top_categories(session, community_id=community.id) if c.code == "energy"
    )
    assert (
        spending.list_items(session, community_id=community.id, top_category_id=energy.id).total
        == 1
    )
    assert spending.list_items(session, community_id=community.id, status=None).total == 3
    assert helpers.count(session, PublicationEntry) == 2
