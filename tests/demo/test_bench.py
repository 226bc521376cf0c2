"""`flask bench seed` writes books the ledger check accepts, with arrears in every tier, on
SQLite too; `billing rebuild-summaries` puts stale summary rows right."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.accounts import service as accounts
from portal.billing import ledger, summaries
from portal.billing.models import Bill, BillLine, CollectionSummary, JournalEntry, Posting
from portal.communities import service as communities
from portal.communities.models import Community, Unit
from portal.demo.service import DEMO_PASSWORD
from portal.disputes.models import Dispute
from portal.feedback.models import SurveyResponse
from portal.payments.models import Payment, Receipt
from portal.tickets.models import Ticket
from portal.timeutil import local_today, now_utc, zone


def test_bench_seed_is_consistent_and_has_every_tier(
    app: Flask, runner: FlaskCliRunner, session: Session
) -> None:
    result = runner.invoke(
        args=["bench", "seed", "--units", "41", "--months", "6", "--communities", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "41 units, 246 bills" in result.output
    assert session.scalar(select(func.count(Community.id))) == 2
    assert session.scalar(select(func.count(Unit.id))) == 41
    assert session.scalar(select(func.count(Bill.id))) == 246
    assert session.scalar(select(func.count(BillLine.id))) == 2 * 246
    # The bench's own payments (the disputes seeded after them credit a few lines too).
    paid = session.scalar(select(func.count(Payment.id)).where(Payment.txn_id.startswith("BN")))
    assert session.scalar(select(func.count(Receipt.id))) >= paid
    kinds_of_entries = dict(
        session.execute(select(JournalEntry.kind, func.count()).group_by(JournalEntry.kind)).all()
    )
    assert kinds_of_entries["bill"] == 246
    assert kinds_of_entries["payment"] >= paid
    assert session.scalar(select(func.count(Posting.id))) >= 4 * 246 + 3 * paid
    assert 0.75 < paid / 246 < 0.95
    # Service history from the domains' demo seeders: repairs, complaints, surveys, disputes.
    kinds = dict(session.execute(select(Ticket.kind, func.count()).group_by(Ticket.kind)).all())
    assert kinds.get("repair", 0) > 0
    assert kinds.get("complaint", 0) > 0
    assert session.scalar(select(func.count(SurveyResponse.id))) > 0
    assert session.scalar(select(func.count(Dispute.id))) > 0
    report = ledger.check(session)
    assert report.ok, report
    assert summaries.differences(session) == []
    assert runner.invoke(args=["ledger", "check", "--community", "BENCH2"]).exit_code == 0
    assert accounts.authenticate(session, username="owner-bench1-1", password=DEMO_PASSWORD)
    # The benchmark's owner pages sign in as the demo owner, a BENCH1 owner with bills.
    demo_owner = accounts.authenticate(session, username="demo-owner", password=DEMO_PASSWORD)
    assert demo_owner is not None
    assert {u.community.code for u in communities.units_of(session, demo_owner)} == {"BENCH1"}
    assert "service history" in result.output
    assert accounts.authenticate(session, username="bench-finance-bench2", password=DEMO_PASSWORD)
    # Open bills of every age: L1 (< 30 days overdue), L2 (30+), L3 (60+), L4 (90+).
    today = local_today(zone("Asia/Shanghai"), now=now_utc())
    tiers = set()
    for due in session.scalars(select(Bill.due_date).where(Bill.outstanding_fen > 0)):
        days = (today - due).days
        if days > 0:
            tiers.add(min(days // 30, 3))
    assert tiers == {0, 1, 2, 3}
    # Arrears gather in a minority of units, as they do; most are paid up.
    behind = session.scalar(
        select(func.count(func.distinct(Bill.unit_id))).where(
            Bill.outstanding_fen > 0, Bill.due_date < today
        )
    )
    assert 0 < behind < 41 / 2
    assert today - timedelta(days=200) < min(session.scalars(select(Bill.period))) < today


def test_bench_seed_without_service_history(runner: FlaskCliRunner, session: Session) -> None:
    result = runner.invoke(
        args=["bench", "seed", "--units", "12", "--months", "3", "--service-units", "0"]
    )
    assert result.exit_code == 0, result.output
    assert session.scalar(select(func.count(Bill.id))) == 36
    assert session.scalar(select(func.count(Ticket.id))) == 0
    assert session.scalar(select(func.count(SurveyResponse.id))) == 0
    assert ledger.check(session).ok


def test_ledger_check_of_a_community_reads_its_own_books(
    runner: FlaskCliRunner, session: Session
) -> None:
    assert (
        runner.invoke(
            args=["bench", "seed", "--units", "10", "--months", "2", "--communities", "2"]
        ).exit_code
        == 0
    )
    first, second = session.scalars(select(Community).order_by(Community.id)).all()
    line_id = session.scalar(
        select(BillLine.id).join(Bill).where(Bill.community_id == second.id).limit(1)
    )
    session.execute(update(BillLine).where(BillLine.id == line_id).values(waived_fen=1))
    assert ledger.check(session, community_id=first.id).ok
    assert not ledger.check(session, community_id=second.id).ok


def test_rebuild_summaries_puts_stale_rows_right(runner: FlaskCliRunner, session: Session) -> None:
    assert runner.invoke(args=["bench", "seed", "--units", "10", "--months", "2"]).exit_code == 0
    session.execute(update(CollectionSummary).values(collected_fen=0))
    session.commit()
    assert summaries.differences(session)
    result = runner.invoke(args=["billing", "rebuild-summaries", "--community", "BENCH1"])
    assert result.exit_code == 0, result.output
    assert "were out of step" in result.output
    assert "(0 were" not in result.output
    session.expire_all()
    assert summaries.differences(session) == []
