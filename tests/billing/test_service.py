from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import late_fees, ledger, queries, runs, standards
from portal.billing.models import Bill, BillLine, FeeStandard
from portal.errors import DomainError
from portal.publication import service as publication
from tests import factories
from tests.factories import NOW


def test_bill_lines_explain_and_round_once(session: Session) -> None:
    community = factories.make_community(session)
    factories.make_standard(session, community=community, rate="2.35")
    factories.make_standard(
        session, community=community, item_code="garbage", basis="per_unit_month", rate="8.00"
    )
    unit = factories.make_unit(session, community=community, area_m2=Decimal("89.50"))
    result = runs.generate_bills(session, community=community, period=date(2026, 10, 1), now=NOW)
    assert result.created == 1
    bill = session.scalar(select(Bill).where(Bill.unit_id == unit.id))
    amounts = {line.item_code: line.amount_fen for line in bill.lines}
    assert amounts == {"property_service": 21033, "garbage": 800}  # 210.325 → 210.33
    assert bill.amount_fen == bill.outstanding_fen == 21833
    line = next(line for line in bill.lines if line.item_code == "property_service")
    assert line.explanation == "89.50㎡ × 2.3500 元/㎡·月 × 1 月"
    assert bill.status == "unpaid"
    assert ledger.unit_balance(session, unit_id=unit.id) == 21833


def test_billing_run_is_idempotent(session: Session) -> None:
    community = factories.make_community(session)
    factories.make_standard(session, community=community)
    for _ in range(3):
        factories.make_unit(session, community=community)
    first = runs.generate_bills(session, community=community, period=date(2026, 11, 1), now=NOW)
    again = runs.generate_bills(session, community=community, period=date(2026, 11, 1), now=NOW)
    assert (first.created, again.created, again.existing) == (3, 0, 3)
    assert session.scalar(select(func.count(Bill.id))) == 3


def test_quarterly_billing(session: Session) -> None:
    community = factories.make_community(session, billing_cycle="quarterly")
    factories.make_standard(session, community=community, rate="2.00")
    factories.make_unit(session, community=community, area_m2=Decimal("100.00"))
    with pytest.raises(DomainError, match="季度"):
        runs.generate_bills(session, community=community, period=date(2026, 11, 1), now=NOW)
    runs.generate_bills(session, community=community, period=date(2026, 10, 1), now=NOW)
    bill = session.scalar(select(Bill))
    assert bill.period_label == "2026-Q4"
    assert bill.amount_fen == 60000  # 100㎡ × 2.00 × 3 months


def test_standard_versions_need_timely_notice(session: Session) -> None:
    community = factories.make_community(session, notice_period_days=30)
    v1 = factories.make_standard(session, community=community, rate="2.00")
    with pytest.raises(DomainError, match="公告") as info:
        standards.create_standard(
            session,
            community=community,
            property_type="residential",
            item_code="property_service",
            basis="per_m2_month",
            rate=Decimal("2.20"),
            effective_from=date(2027, 1, 1),
            approval_ref="业主大会决议 2026-3",
            now=NOW,
            actor_id=None,
        )
    assert info.value.field == "notice_id"
    assert session.scalar(select(func.count(FeeStandard.id))) == 1
    assert v1.version == 1


def _new_version(session: Session, community: object, **overrides: object) -> FeeStandard:
    args: dict[str, object] = {
        "community": community,
        "property_type": "residential",
        "item_code": "property_service",
        "basis": "per_m2_month",
        "rate": Decimal("2.20"),
        "effective_from": date(2026, 12, 1),
        "approval_ref": "业主大会决议 2026-3",
        "now": NOW,
        "actor_id": None,
    }
    args.update(overrides)
    return standards.create_standard(session, **args)  # type: ignore[arg-type]


ANNOUNCED = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)  # 10:00 on 1 November in Shanghai


def test_standard_with_notice_in_time(session: Session) -> None:
    community = factories.make_community(session, notice_period_days=30)
    factories.make_standard(session, community=community, rate="2.00")
    notice = factories.make_fee_notice(
        session, community=community, rate="2.20", published_at=ANNOUNCED
    )
    with pytest.raises(DomainError, match="最早 2026-12-01") as info:
        _new_version(session, community, effective_from=date(2026, 11, 20), notice_id=notice.id)
    assert info.value.field == "effective_from"
    assert info.value.code == "notice_too_late"
    eligible = standards.eligible_notices(session, community=community, now=NOW)
    assert [(e.notice.id, e.earliest) for e in eligible] == [(notice.id, date(2026, 12, 1))]
    v2 = _new_version(session, community, notice_id=notice.id)
    assert v2.version == 2
    assert v2.supersedes_id is not None
    assert v2.notice_id == notice.id
    assert standards.eligible_notices(session, community=community, now=NOW) == []
    in_force = standards.current_standards(session, community_id=community.id, on=date(2026, 12, 1))
    assert [s.rate for s in in_force] == [Decimal("2.2000")]
    before = standards.current_standards(session, community_id=community.id, on=date(2026, 11, 30))
    assert [s.rate for s in before] == [Decimal("2.0000")]


@pytest.mark.parametrize(
    ("notice_args", "version_args", "field", "code", "message"),
    [
        pytest.param(
            {"item_code": "garbage", "rate": "2.20"},
            {},
            "notice_id",
            "notice_wrong_item",
            "生活垃圾清运费",
            id="wrong-item",
        ),
        pytest.param(
            {"property_type": "commercial", "rate": "2.20"},
            {},
            "notice_id",
            "notice_wrong_item",
            "商业",
            id="wrong-property-type",
        ),
        pytest.param({"rate": "2.30"}, {}, "rate", "notice_wrong_rate", "2.3 元", id="wrong-rate"),
        pytest.param(
            {"rate": "2.20", "published_at": datetime(2026, 11, 10, 2, 0, tzinfo=UTC)},
            {},
            "effective_from",
            "notice_too_late",
            "最早 2026-12-10",
            id="too-late",
        ),
        pytest.param(
            {"rate": "2.20", "publish": False},
            {},
            "notice_id",
            "notice_unpublished",
            "尚未发布",
            id="unpublished",
        ),
    ],
)
def test_standard_refuses_a_notice_that_is_not_for_this_change(
    session: Session,
    notice_args: dict[str, object],
    version_args: dict[str, object],
    field: str,
    code: str,
    message: str,
) -> None:
    community = factories.make_community(session, notice_period_days=30)
    factories.make_standard(session, community=community, rate="2.00")
    notice = factories.make_fee_notice(
        session, community=community, **{"published_at": ANNOUNCED, **notice_args}
    )
    standards_before = session.scalar(select(func.count(FeeStandard.id)))
    log_before = publication.count(session, community)
    with pytest.raises(DomainError, match=message) as info:
        _new_version(session, community, notice_id=notice.id, **version_args)
    assert (info.value.field, info.value.code) == (field, code)
    assert session.scalar(select(func.count(FeeStandard.id))) == standards_before
    assert publication.count(session, community) == log_before


def test_a_notice_justifies_one_version_only(session: Session) -> None:
    community = factories.make_community(session, notice_period_days=30)
    factories.make_standard(session, community=community, rate="2.00")
    notice = factories.make_fee_notice(
        session, community=community, rate="2.20", published_at=ANNOUNCED
    )
    _new_version(session, community, notice_id=notice.id)
    with pytest.raises(DomainError, match="第 2 版") as info:
        _new_version(session, community, notice_id=notice.id, effective_from=date(2027, 1, 1))
    assert (info.value.field, info.value.code) == ("notice_id", "notice_used")
    assert session.scalar(select(func.count(FeeStandard.id))) == 2


def test_old_notice_of_another_change_justifies_nothing(session: Session) -> None:
    """The issue's case: a 2025 notice (another rate) cannot justify a 2026 rate."""
    community = factories.make_community(session, notice_period_days=30)
    factories.make_standard(session, community=community, rate="2.00")
    old = factories.make_fee_notice(
        session,
        community=community,
        rate="2.10",
        published_at=datetime(2025, 3, 1, 2, 0, tzinfo=UTC),
    )
    with pytest.raises(DomainError) as info:
        _new_version(session, community, notice_id=old.id)
    assert info.value.code == "notice_wrong_rate"
    other = factories.make_community(session)
    foreign = factories.make_fee_notice(
        session, community=other, rate="2.20", published_at=ANNOUNCED
    )
    with pytest.raises(DomainError, match="本小区") as info:
        _new_version(session, community, notice_id=foreign.id)
    assert info.value.code == "notice_unknown"
    assert session.scalar(select(func.count(FeeStandard.id))) == 1


def test_a_cited_notice_cannot_be_withdrawn(session: Session) -> None:
    from portal.notices import service as notices

    community = factories.make_community(session, notice_period_days=30)
    factories.make_standard(session, community=community, rate="2.00")
    notice = factories.make_fee_notice(
        session, community=community, rate="2.20", published_at=ANNOUNCED
    )
    _new_version(session, community, notice_id=notice.id)
    actor = factories.make_user(session, role="cs", community=community)
    with pytest.raises(DomainError, match="不能撤回") as info:
        notices.withdraw_notice(session, notice=notice, actor=actor, now=NOW)
    assert info.value.code == "cited"
    session.refresh(notice)
    assert notice.status == "published"


def test_withdrawn_notice_is_refused(session: Session) -> None:
    from portal.notices import service as notices

    community = factories.make_community(session, notice_period_days=30)
    factories.make_standard(session, community=community, rate="2.00")
    notice = factories.make_fee_notice(
        session, community=community, rate="2.20", published_at=ANNOUNCED
    )
    actor = factories.make_user(session, role="cs", community=community)
    notices.withdraw_notice(session, notice=notice, actor=actor, now=NOW)
    with pytest.raises(DomainError, match="已撤回") as info:
        _new_version(session, community, notice_id=notice.id)
    assert info.value.code == "notice_unpublished"
    assert standards.eligible_notices(session, community=community, now=NOW) == []


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("rate", {"rate": Decimal("-1")}),
        ("rate", {"rate": Decimal("1.23456")}),
        ("basis", {"basis": "per_smile"}),
        ("property_type", {"property_type": "castle"}),
        ("approval_ref", {"approval_ref": "  "}),
        ("item_code", {"item_code": "mystery"}),
    ],
)
def test_bad_standards_refused(session: Session, field: str, kwargs: dict) -> None:
    community = factories.make_community(session)
    args = {
        "property_type": "residential",
        "item_code": "property_service",
        "basis": "per_m2_month",
        "rate": Decimal("2"),
        "effective_from": date(2026, 1, 1),
        "approval_ref": "合同",
    } | kwargs
    with pytest.raises(DomainError) as info:
        standards.create_standard(session, community=community, now=NOW, actor_id=None, **args)
    assert info.value.field == field
    assert session.scalar(select(func.count(FeeStandard.id))) == 0


def test_standards_are_published_and_tamper_evident(session: Session) -> None:
    community = factories.make_community(session)
    standard = factories.make_standard(session, community=community, rate="2.35")
    session.commit()
    session.expire_all()  # read back from the database: "2.35" comes back as 2.3500
    assert publication.verify(session, community).ok
    standard.rate = Decimal("9.99")  # an in-place edit, which the app never does
    session.flush()
    result = publication.verify(session, community)
    assert not result.ok
    assert result.bad_seq == 1


def test_late_fees_off_by_default_then_capped_and_idempotent(session: Session) -> None:
    community = factories.make_community(session)
    _unit, bills = factories.make_billed_unit(session, community=community, periods=("2026-01",))
    bill = bills[0]
    on = date(2026, 6, 30)
    assert late_fees.assess_late_fees(session, community=community, on=on, now=NOW) == 0
    manager = factories.make_user(session, role="manager", community=community)
    with pytest.raises(DomainError, match="合同依据"):
        late_fees.set_late_fee_policy(
            session,
            community=community,
            enabled=True,
            daily_rate=Decimal("0.0005"),
            cap_rate=Decimal("0.1"),
            grace_days=30,
            clause_ref="",
            actor=manager,
            now=NOW,
        )
    late_fees.set_late_fee_policy(
        session,
        community=community,
        enabled=True,
        daily_rate=Decimal("0.0005"),
        cap_rate=Decimal("0.1"),
        grace_days=30,
        clause_ref="合同第十二条",
        actor=manager,
        now=NOW,
    )
    total = 0
    for month in range(3, 13):
        day = runs.add_months(date(2026, month, 1), 1) - timedelta(days=1)
        late_fees.assess_late_fees(session, community=community, on=day, now=NOW)
        again = late_fees.assess_late_fees(session, community=community, on=day, now=NOW)
        assert again == 0
    session.expire_all()
    late = [line for line in bill.lines if line.kind == "late_fee"]
    total = sum(line.amount_fen for line in late)
    assert total == 2500  # capped at 10% of ¥250
    assert bill.amount_fen == 25000 + 2500
    assert ledger.check(session).ok


def test_waive_line_is_audited_and_reduces_balance(session: Session) -> None:
    unit, bills = factories.make_billed_unit(session)
    finance = factories.make_user(session, role="finance", community=unit.community)
    line = bills[0].lines[0]
    with pytest.raises(DomainError):
        late_fees.waive_line(
            session, line=line, amount_fen=30000, reason="x", actor=finance, now=NOW
        )
    with pytest.raises(DomainError, match="原因"):
        late_fees.waive_line(session, line=line, amount_fen=100, reason=" ", actor=finance, now=NOW)
    late_fees.waive_line(
        session, line=line, amount_fen=5000, reason="电梯停运两周", actor=finance, now=NOW
    )
    session.expire_all()
    assert line.outstanding_fen == 20000
    assert line.waived_fen == 5000
    assert bills[0].paid_fen == 0
    assert ledger.check(session).ok


def test_collection_stats_suppress_small_buildings(session: Session) -> None:
    community = factories.make_community(session)
    factories.make_standard(session, community=community)
    big = factories.make_building(session, community=community, code="A-1")
    small = factories.make_building(session, community=community, code="A-2")
    for _ in range(5):
        factories.make_unit(session, building=big)
    factories.make_unit(session, building=small)
    runs.generate_bills(session, community=community, period=date(2026, 11, 1), now=NOW)
    stats = queries.collection_stats(session, community_id=community.id, today=date(2026, 11, 20))
    rates = {row["code"]: row for row in stats["by_building"]}
    assert rates["A-1"]["rate"] == 0.0
    assert rates["A-2"]["rate"] is None
    assert stats["collection_rate_by_month"][0]["month"] == "2026-11"


def test_owner_cannot_load_another_owners_bill(session: Session) -> None:
    community = factories.make_community(session)
    unit_a, bills_a = factories.make_billed_unit(session, community=community)
    _unit_b, bills_b = factories.make_billed_unit(session, community=community)
    owner_a = factories.make_user(session, role="owner", unit=unit_a)
    assert queries.get_owned_bill(session, owner=owner_a, bill_id=bills_a[0].id) is not None
    assert queries.get_owned_bill(session, owner=owner_a, bill_id=bills_b[0].id) is None
    assert session.scalar(select(func.count(BillLine.id))) >= 2
