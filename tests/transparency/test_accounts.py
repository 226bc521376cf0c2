"""Budgets (budget vs actual), common revenue and the maintenance fund, annual statements,
and the owner's share."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from portal.errors import DomainError
from portal.publication import service as publication
from portal.transparency import budgets, funds, statements, summary
from portal.transparency import service as spending
from portal.transparency.models import Budget, FundMovement, RecordStatus
from tests import factories
from tests.factories import NOW
from tests.transparency import helpers
from tests.transparency.helpers import TODAY


def _tops(session: Session, community: object) -> dict[str, int]:
    return {c.code: c.id for c in spending.top_categories(session, community_id=community.id)}


def test_budget_versions_and_budget_vs_actual(session: Session) -> None:
    community = factories.make_community(session, code="BUD")
    actor = helpers.finance(session, community)
    helpers.published(session, community, actor, amount_fen=1_100_000)  # cleaning: over budget
    helpers.published(session, community, actor, amount_fen=950_000, code="energy.power")  # ahead
    helpers.published(session, community, actor, amount_fen=100_000, code="office.supplies")
    tops = _tops(session, community)
    budget = budgets.start_budget(session, community=community, year=2026, actor=actor, now=NOW)
    with pytest.raises(DomainError, match="草稿"):
        budgets.start_budget(session, community=community, year=2026, actor=actor, now=NOW)
    with pytest.raises(DomainError, match="至少"):
        budgets.publish_budget(session, budget=budget, community=community, actor=actor, now=NOW)
    with pytest.raises(DomainError, match="金额"):
        budgets.set_lines(
            session, budget=budget, amounts={tops["cleaning"]: -5}, note="", actor=actor, now=NOW
        )
    with pytest.raises(DomainError, match="类别"):
        budgets.set_lines(
            session, budget=budget, amounts={999_999: 5}, note="", actor=actor, now=NOW
        )
    budgets.set_lines(
        session,
        budget=budget,
        amounts={tops["cleaning"]: 1_000_000, tops["energy"]: 1_000_000, tops["staff"]: 500_000},
        note="业主大会通过",
        actor=actor,
        now=NOW,
    )
    budgets.publish_budget(session, budget=budget, community=community, actor=actor, now=NOW)
    with pytest.raises(DomainError, match="修订版"):
        budgets.set_lines(session, budget=budget, amounts={}, note="", actor=actor, now=NOW)
    rows, current = budgets_rows = summary.budget_vs_actual(
        session, community_id=community.id, year=2026, today=TODAY
    )
    assert current.id == budget.id
    by_code = {r.code: r for r in rows}
    assert by_code["cleaning"].status == "over"
    assert by_code["cleaning"].variance_fen == 100_000
    assert by_code["cleaning"].used_pct == Decimal("110.0")
    # 20 Nov is day 324 of 365: pro rata 887,671 fen; 950,000 is within 10% → ok
    assert by_code["energy"].expected_fen == 1_000_000 * 324 // 365
    assert by_code["energy"].status == "ok"
    assert by_code["office"].status == "unbudgeted"
    assert by_code["staff"].actual_fen == 0
    assert by_code["staff"].status == "ok"
    assert budgets_rows
    # A revision needs a reason, copies the lines, and supersedes on publication.
    with pytest.raises(DomainError, match="修订原因"):
        budgets.start_budget(session, community=community, year=2026, actor=actor, now=NOW)
    revision = budgets.start_budget(
        session, community=community, year=2026, reason="追加维修预算", actor=actor, now=NOW
    )
    assert revision.version == 2
    assert revision.supersedes_id == budget.id
    assert sorted(line.amount_fen for line in revision.lines) == [500_000, 1_000_000, 1_000_000]
    budgets.set_lines(
        session,
        budget=revision,
        amounts={tops["cleaning"]: 1_200_000},
        note="",
        actor=actor,
        now=NOW,
    )
    budgets.publish_budget(session, budget=revision, community=community, actor=actor, now=NOW)
    rows, current = summary.budget_vs_actual(
        session, community_id=community.id, year=2026, today=TODAY
    )
    assert current.id == revision.id
    assert {r.code: r.status for r in rows}["cleaning"] == "ok"
    assert session.get(Budget, budget.id).status == RecordStatus.PUBLISHED  # old stays
    assert publication.verify(session, community).ok


def test_elapsed_fraction() -> None:
    assert summary.elapsed_fraction(2025, date(2026, 1, 5)) == (365, 365)
    assert summary.elapsed_fraction(2027, date(2026, 1, 5)) == (0, 365)
    assert summary.elapsed_fraction(2024, date(2024, 12, 31)) == (366, 366)


def test_fund_accounts_and_rules(session: Session) -> None:
    community = factories.make_community(session, code="FUND")
    actor = helpers.finance(session, community)
    base = {"counterparty": "", "approval_ref": "", "account": "common_revenue"}

    def move(**values: object) -> FundMovement:
        movement = funds.create_movement(
            session, community=community, actor=actor, now=NOW, today=TODAY, **{**base, **values}
        )
        return funds.publish_movement(
            session, movement=movement, community=community, actor=actor, now=NOW
        )

    move(
        direction="in",
        kind="opening",
        occurred_on=date(2025, 12, 31),
        amount_fen=500_000,
        description="期初",
    )
    move(
        direction="in",
        kind="advertising",
        occurred_on=date(2026, 3, 1),
        amount_fen=120_000,
        description="广告",
    )
    move(
        direction="in",
        kind="parking_rent",
        occurred_on=date(2026, 4, 1),
        amount_fen=80_000,
        description="车位",
    )
    spent = move(
        direction="out",
        kind="facility",
        occurred_on=date(2026, 5, 1),
        amount_fen=50_000,
        description="健身器材",
    )
    for bad, message in (
        ({"direction": "in", "kind": "facility"}, "不符"),
        ({"direction": "sideways", "kind": "facility"}, "收入或支出"),
        ({"account": "petty_cash", "direction": "in", "kind": "opening"}, "账户"),
    ):
        with pytest.raises(DomainError, match=message):
            funds.create_movement(
                session,
                community=community,
                actor=actor,
                now=NOW,
                today=TODAY,
                **{**base, "occurred_on": TODAY, "amount_fen": 100, "description": "x", **bad},
            )
    with pytest.raises(DomainError, match="业主表决"):
        funds.create_movement(
            session,
            community=community,
            actor=actor,
            now=NOW,
            today=TODAY,
            **{
                **base,
                "account": "maintenance_fund",
                "direction": "out",
                "kind": "repair",
                "occurred_on": TODAY,
                "amount_fen": 100,
                "description": "外墙维修",
            },
        )
    result = funds.summary(session, community_id=community.id, account="common_revenue", year=2026)
    assert (result.opening_fen, result.in_fen, result.out_fen) == (500_000, 200_000, 50_000)
    assert result.closing_fen == 650_000
    correction = funds.start_correction(
        session, movement=spent, reason="实际为 400 元", retract=False, actor=actor, now=NOW
    )
    funds.update_movement(
        session,
        movement=correction,
        actor=actor,
        now=NOW,
        today=TODAY,
        correction_reason="实际为 400 元",
        account="common_revenue",
        direction="out",
        kind="facility",
        occurred_on=date(2026, 5, 1),
        amount_fen=40_000,
        counterparty="",
        description="健身器材",
        approval_ref="",
    )
    funds.publish_movement(session, movement=correction, community=community, actor=actor, now=NOW)
    result = funds.summary(session, community_id=community.id, account="common_revenue", year=2026)
    assert result.out_fen == 40_000
    assert funds.superseded_by(session, [spent.id]) == {spent.id: correction.id}
    kinds = [e["kind"] for e in publication.entries(session, community)]
    assert kinds == ["common_revenue"] * 5
    assert publication.verify(session, community).ok


def test_commission_statement(session: Session) -> None:
    community = factories.make_community(
        session, code="STMT", fee_regime="commission", commission_rate=Decimal("0.0850")
    )
    actor = helpers.finance(session, community)
    helpers.published(session, community, actor, amount_fen=3_000_000)
    helpers.published(session, community, actor, amount_fen=1_000_000, code="energy.power")
    statement = statements.draft_statement(
        session,
        community=community,
        year=2026,
        fee_income_fen=5_000_005,
        other_income_fen=100_000,
        actor=actor,
        now=NOW,
    )
    # 5,000,005 × 0.085 = 425,000.425 → half-up 425,000
    assert statement.commission_fen == 425_000
    assert statement.spending_fen == 4_000_000
    assert statement.balance_fen == 5_100_005 - 4_000_000 - 425_000
    assert [line["code"] for line in statement.spending_lines] == ["cleaning", "energy"]
    with pytest.raises(DomainError, match="草稿"):
        statements.draft_statement(
            session,
            community=community,
            year=2026,
            fee_income_fen=0,
            other_income_fen=0,
            actor=actor,
            now=NOW,
        )
    with pytest.raises(DomainError, match="金额"):
        statements.update_statement(
            session,
            statement=statement,
            community=community,
            fee_income_fen=-1,
            other_income_fen=0,
            note="",
            actor=actor,
            now=NOW,
        )
    statements.publish_statement(
        session, statement=statement, community=community, actor=actor, now=NOW
    )
    entry = publication.entries(session, community)[-1]
    assert entry["kind"] == "annual_statement"
    assert entry["payload"]["commission_fen"] == 425_000
    assert entry["payload"]["commission_rate"] == "0.0850"
    assert (
        statements.current_statement(session, community_id=community.id, year=2026).id
        == statement.id
    )
    with pytest.raises(DomainError, match="修订版"):
        statements.update_statement(
            session,
            statement=statement,
            community=community,
            fee_income_fen=1,
            other_income_fen=0,
            note="",
            actor=actor,
            now=NOW,
        )


def test_lump_sum_statement_has_no_commission(session: Session) -> None:
    community = factories.make_community(session, fee_regime="lump_sum")
    actor = helpers.finance(session, community)
    statement = statements.draft_statement(
        session,
        community=community,
        year=2026,
        fee_income_fen=1_000_000,
        other_income_fen=0,
        actor=actor,
        now=NOW,
    )
    assert statement.commission_fen == 0
    assert statement.commission_rate is None


@given(
    amount=st.integers(min_value=0, max_value=10**10),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12),
)
def test_split_by_weights_adds_up_exactly(amount: int, weights: list[int]) -> None:
    parts = summary.split_by_weights(amount, weights)
    assert len(parts) == len(weights)
    assert all(p >= 0 for p in parts)
    if sum(weights) and amount:
        assert sum(parts) == amount
        for part, weight in zip(parts, weights, strict=True):
            exact = amount * weight / sum(weights)
            assert abs(part - exact) < 1
    else:
        assert sum(parts) == 0


def test_owner_share_under_commission(session: Session) -> None:
    community = factories.make_community(
        session, fee_regime="commission", commission_rate=Decimal("0.1000")
    )
    actor = helpers.finance(session, community)
    helpers.published(session, community, actor, amount_fen=300_000)
    helpers.published(session, community, actor, amount_fen=100_000, code="energy.power")
    rows = summary.owner_share(session, community=community, year=2026, fee_fen=301_001)
    assert rows[0].code == "commission"
    assert rows[0].share_fen == 30_100
    assert sum(r.share_fen for r in rows) == 301_001
    shares = {r.code: r.share_fen for r in rows}
    assert (
        shares["cleaning"] == 3 * shares["energy"]
        or abs(shares["cleaning"] - 3 * shares["energy"]) <= 3
    )
