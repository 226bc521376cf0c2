"""Rewards for paying on time: the policy, and each reward a ledger entry given once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import ledger
from portal.billing.models import JournalEntry
from portal.errors import DomainError
from portal.governance import rewards
from portal.governance.models import RewardGrant, RewardKind, RewardPolicy
from portal.payments import crediting
from portal.payments.models import AutoDebitMandate
from tests import factories
from tests.governance.test_views import login

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def setup(session: Session, **policy: Any) -> tuple[Any, Any, list[Any], Any]:
    community = factories.make_community(session, code="RW1")
    unit, bills = factories.make_billed_unit(
        session, community=community, periods=("2026-10", "2026-11")
    )
    finance = factories.make_user(session, role="finance", community=community)
    manager = factories.make_user(session, role="manager", community=community)
    settings = {"prepay_year_rate": Decimal("0"), "autopay_credit_fen": 0, "early_points": 0}
    settings.update(policy)
    rewards.set_policy(session, community=community, actor=manager, now=NOW, **settings)
    session.commit()
    return community, unit, bills, finance


def pay(session: Session, unit: Any, finance: Any, amount_fen: int, at: datetime, ref: str) -> None:
    crediting.record_offline_payment(
        session,
        unit=unit,
        channel="bank_transfer",
        reference=ref,
        amount_fen=amount_fen,
        received_on=at.date(),
        actor=finance,
        now=at,
    )
    session.commit()


def test_points_for_bills_paid_by_the_due_date_once(session: Session, clock: Any) -> None:
    clock.set(NOW)
    community, unit, bills, finance = setup(session, early_points=10)
    on_time = min(b.due_date for b in bills)
    paid_at = datetime(on_time.year, on_time.month, on_time.day, 1, 0, tzinfo=UTC)
    pay(session, unit, finance, bills[0].amount_fen, paid_at - timedelta(days=1), "T1")
    result = rewards.run_rewards(session, community=community, now=NOW)
    session.commit()
    assert result.early_points == 1
    assert rewards.points_of(session, unit_ids=[unit.id]) == 10
    assert rewards.run_rewards(session, community=community, now=NOW).early_points == 0


def test_late_payment_earns_no_points(session: Session, clock: Any) -> None:
    clock.set(NOW)
    community, unit, bills, finance = setup(session, early_points=10)
    late = max(b.due_date for b in bills) + timedelta(days=3)
    pay(
        session,
        unit,
        finance,
        sum(b.amount_fen for b in bills),
        datetime(late.year, late.month, late.day, 3, 0, tzinfo=UTC),
        "T2",
    )
    assert rewards.run_rewards(session, community=community, now=NOW).early_points == 0
    assert session.scalar(select(func.count(RewardGrant.id))) == 0


def test_autopay_credit_is_a_balanced_ledger_entry_given_once(session: Session, clock: Any) -> None:
    clock.set(NOW)
    community, unit, _bills, _finance = setup(session, autopay_credit_fen=1000)
    owner = factories.make_user(session, unit=unit)
    session.add(
        AutoDebitMandate(
            user_id=owner.id,
            unit_id=unit.id,
            bank_account_masked="6222 **** 1234",
            max_amount_fen=100_000,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    session.commit()
    result = rewards.run_rewards(session, community=community, now=NOW)
    session.commit()
    assert (result.autopay, result.credit_fen) == (1, 1000)
    assert ledger.prepayment_balance(session, unit_id=unit.id) == 1000
    grant = session.scalar(select(RewardGrant))
    entry = session.get(JournalEntry, grant.journal_entry_id)
    assert entry is not None
    assert entry.source_type == "reward"
    assert ledger.check(session, community_id=community.id).ok
    assert rewards.run_rewards(session, community=community, now=NOW).autopay == 0
    assert rewards.totals(session, community=community)["credit_fen"] == 1000


def test_prepaying_a_year_earns_the_rate(session: Session, clock: Any) -> None:
    clock.set(NOW)
    community, unit, bills, finance = setup(session, prepay_year_rate=Decimal("0.0200"))
    monthly = bills[-1].amount_fen
    owed = sum(b.amount_fen for b in bills)
    pay(session, unit, finance, owed + monthly * 12, NOW, "T3")
    result = rewards.run_rewards(session, community=community, now=NOW)
    session.commit()
    assert result.prepay == 1
    assert result.credit_fen == round(monthly * 12 * Decimal("0.02"))
    kinds = set(session.scalars(select(RewardGrant.kind)))
    assert kinds == {RewardKind.PREPAY_YEAR}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"prepay_year_rate": Decimal("0.2")}, "bad_rate"),
        ({"autopay_credit_fen": -1}, "bad_credit"),
        ({"early_points": 5000}, "bad_points"),
    ],
)
def test_bad_policies_are_refused(session: Session, fields: dict[str, Any], code: str) -> None:
    community = factories.make_community(session)
    manager = factories.make_user(session, role="manager", community=community)
    settings: dict[str, Any] = {
        "prepay_year_rate": Decimal("0"),
        "autopay_credit_fen": 0,
        "early_points": 0,
    }
    settings.update(fields)
    with pytest.raises(DomainError) as exc:
        rewards.set_policy(session, community=community, actor=manager, now=NOW, **settings)
    session.rollback()
    assert exc.value.code == code
    assert session.scalar(select(func.count(RewardPolicy.id))) == 0


def test_percent_parsing() -> None:
    assert rewards.parse_percent("2.5") == Decimal("0.0250")
    for bad in ("-1", "11", "abc", "0.001"):
        with pytest.raises(DomainError):
            rewards.parse_percent(bad)


def test_reward_pages(client: FlaskClient, session: Session, clock: Any) -> None:
    clock.set(NOW)
    community = factories.make_community(session, code="RW2")
    manager = factories.make_user(session, role="manager", community=community)
    owner = factories.make_user(session, community=community)
    session.commit()
    login(client, manager)
    bad = client.post(
        "/governance/RW2/rewards",
        data={"prepay_year_percent": "50", "autopay_credit": "5", "early_points": "10"},
    )
    assert bad.status_code == 422
    assert "0 到 10" in bad.get_data(as_text=True)
    assert session.scalar(select(func.count(RewardPolicy.id))) == 0
    ok = client.post(
        "/governance/RW2/rewards",
        data={"prepay_year_percent": "2", "autopay_credit": "5", "early_points": "10"},
    )
    assert ok.status_code == 302
    client.post("/logout")
    login(client, owner)
    page = client.get("/rewards").get_data(as_text=True)
    assert "2%" in page
    assert "¥5.00" in page


def test_cli_jobs_are_idempotent(runner: Any, session: Session, clock: Any) -> None:
    clock.set(NOW)
    setup(session, early_points=5)
    first = runner.invoke(
        args=["governance", "rewards", "--community", "RW1", "--now", "2026-11-20T10:00+08:00"]
    )
    assert first.exit_code == 0, first.output
    assert "RW1:" in first.output
    closed = runner.invoke(args=["governance", "close-due", "--now", "2026-11-20T10:00+08:00"])
    assert closed.exit_code == 0, closed.output
    assert "0 votes closed" in closed.output
    missing = runner.invoke(args=["governance", "rewards", "--community", "NOPE"])
    assert missing.exit_code != 0
