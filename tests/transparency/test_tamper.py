"""Editing any published row behind the application's back makes verify fail and name it."""

from decimal import Decimal

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from portal.communities.models import Community
from portal.publication import service as publication
from portal.publication.models import PublicationEntry
from portal.transparency import budgets, funds, statements
from portal.transparency.models import (
    AnnualStatement,
    BudgetLine,
    FundMovement,
    SpendingEvidence,
    SpendingItem,
)
from portal.uploads.models import StoredFile
from tests import factories
from tests.factories import NOW
from tests.transparency import helpers
from tests.transparency.helpers import TODAY


def _world(session: Session) -> dict[str, object]:
    """A community with one of each published kind; returns records and their seqs."""
    community = factories.make_community(
        session, code="TAMP", fee_regime="commission", commission_rate=Decimal("0.1000")
    )
    actor = helpers.finance(session, community)
    first = helpers.published(session, community, actor, amount_fen=100_000)
    second = helpers.published(session, community, actor, amount_fen=200_000, code="energy.power")
    budget = budgets.start_budget(session, community=community, year=2026, actor=actor, now=NOW)
    tops = {
        c.code: c.id for c in helpers.spending.top_categories(session, community_id=community.id)
    }
    budgets.set_lines(
        session,
        budget=budget,
        amounts={tops["cleaning"]: 1_000_000, tops["energy"]: 2_000_000},
        note="",
        actor=actor,
        now=NOW,
    )
    budgets.publish_budget(session, budget=budget, community=community, actor=actor, now=NOW)
    movement = funds.create_movement(
        session,
        community=community,
        actor=actor,
        now=NOW,
        today=TODAY,
        account="common_revenue",
        direction="in",
        kind="advertising",
        occurred_on=TODAY,
        amount_fen=300_000,
        counterparty="分众",
        description="电梯广告",
        approval_ref="",
    )
    funds.publish_movement(session, movement=movement, community=community, actor=actor, now=NOW)
    statement = statements.draft_statement(
        session,
        community=community,
        year=2026,
        fee_income_fen=5_000_000,
        other_income_fen=0,
        actor=actor,
        now=NOW,
    )
    statements.publish_statement(
        session, statement=statement, community=community, actor=actor, now=NOW
    )
    session.commit()
    assert publication.verify(session, community).ok
    return {
        "community": community,
        "first": first,
        "second": second,
        "budget": budget,
        "movement": movement,
        "statement": statement,
    }


def _bad_seq(session: Session, community: Community) -> int | None:
    session.expire_all()
    result = publication.verify(session, community)
    assert not result.ok
    return result.bad_seq


def test_changing_a_published_amount_names_its_entry(
    session: Session, runner: FlaskCliRunner
) -> None:
    world = _world(session)
    community = world["community"]
    second = world["second"]
    session.execute(update(SpendingItem).where(SpendingItem.id == second.id).values(amount_fen=1))
    session.commit()
    assert _bad_seq(session, community) == 2
    result = runner.invoke(args=["transparency", "verify", "--community", "TAMP"])
    assert result.exit_code == 1
    assert "seq 2" in result.output
    assert f"spending #{second.id}" in result.output


@pytest.mark.parametrize(
    "tamper",
    ["vendor", "date", "category", "evidence_swap", "evidence_delete", "unpublish"],
)
def test_every_published_spending_field_is_covered(session: Session, tamper: str) -> None:
    world = _world(session)
    community, first = world["community"], world["first"]
    if tamper == "vendor":
        stmt = update(SpendingItem).where(SpendingItem.id == first.id).values(vendor="别的公司")
    elif tamper == "date":
        stmt = (
            update(SpendingItem)
            .where(SpendingItem.id == first.id)
            .values(spent_on=TODAY.replace(day=1))
        )
    elif tamper == "category":
        other = helpers.category(session, community, "office.supplies")
        stmt = update(SpendingItem).where(SpendingItem.id == first.id).values(category_id=other.id)
    elif tamper == "evidence_swap":
        fake = StoredFile(
            sha256="f" * 64,
            content_type="image/png",
            extension="png",
            size_bytes=1,
            original_name="fake.png",
            created_at=NOW,
        )
        session.add(fake)
        session.flush()
        stmt = (
            update(SpendingEvidence)
            .where(SpendingEvidence.item_id == first.id)
            .values(stored_file_id=fake.id)
        )
    elif tamper == "evidence_delete":
        stmt = delete(SpendingEvidence).where(SpendingEvidence.item_id == first.id)
    else:
        stmt = update(SpendingItem).where(SpendingItem.id == first.id).values(status="draft")
    session.execute(stmt)
    session.commit()
    assert _bad_seq(session, community) == 1


@pytest.mark.parametrize("kind", ["budget", "common_revenue", "annual_statement"])
def test_budget_fund_and_statement_rows_are_covered(session: Session, kind: str) -> None:
    world = _world(session)
    community = world["community"]
    seqs = {e["kind"]: e["seq"] for e in publication.entries(session, community)}
    if kind == "budget":
        stmt = (
            update(BudgetLine)
            .where(BudgetLine.budget_id == world["budget"].id)
            .values(amount_fen=1)
        )
    elif kind == "common_revenue":
        stmt = (
            update(FundMovement).where(FundMovement.id == world["movement"].id).values(amount_fen=1)
        )
    else:
        stmt = (
            update(AnnualStatement)
            .where(AnnualStatement.id == world["statement"].id)
            .values(commission_fen=0)
        )
    session.execute(stmt)
    session.commit()
    assert _bad_seq(session, community) == seqs[kind]


def test_editing_or_deleting_log_entries_breaks_the_chain(session: Session) -> None:
    world = _world(session)
    community = world["community"]
    session.execute(
        update(PublicationEntry)
        .where(PublicationEntry.community_id == community.id, PublicationEntry.seq == 3)
        .values(published_at=NOW.replace(year=2020))
    )
    session.commit()
    assert _bad_seq(session, community) == 3
    session.execute(
        update(PublicationEntry)
        .where(PublicationEntry.community_id == community.id, PublicationEntry.seq == 3)
        .values(published_at=NOW)
    )
    session.commit()
    session.expire_all()
    assert publication.verify(session, community).ok
    session.execute(
        delete(PublicationEntry).where(
            PublicationEntry.community_id == community.id, PublicationEntry.seq == 2
        )
    )
    session.commit()
    assert _bad_seq(session, community) == 3  # seq 3 now sits where 2 should be


def test_verify_all_communities_cli(session: Session, runner: FlaskCliRunner) -> None:
    world = _world(session)
    factories.make_community(session, code="EMPTY")
    session.commit()
    ok = runner.invoke(args=["transparency", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "TAMP: 5 entries OK" in ok.output
    assert ok.output.strip().endswith("OK")
    session.execute(
        update(SpendingItem).where(SpendingItem.id == world["first"].id).values(description="x")
    )
    session.commit()
    broken = runner.invoke(args=["transparency", "verify"])
    assert broken.exit_code == 1
    assert "TAMP: BROKEN at seq 1" in broken.output
