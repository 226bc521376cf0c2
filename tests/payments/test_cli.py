from datetime import date
from pathlib import Path

from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from portal.payments import crediting
from tests import factories
from tests.factories import NOW


def test_billing_generate_and_ledger_check(runner: FlaskCliRunner, session: Session) -> None:
    community = factories.make_community(session, code="CLI1")
    factories.make_standard(session, community=community)
    factories.make_unit(session, community=community)
    session.commit()
    first = runner.invoke(
        args=["billing", "generate", "--community", "CLI1", "--period", "2026-11"]
    )
    assert first.exit_code == 0, first.output
    assert "1 bills created" in first.output
    again = runner.invoke(
        args=["billing", "generate", "--community", "CLI1", "--period", "2026-11"]
    )
    assert "0 bills created, 1 already existed" in again.output
    bad = runner.invoke(args=["billing", "generate", "--community", "CLI1", "--period", "11/26"])
    assert bad.exit_code != 0
    unknown = runner.invoke(
        args=["billing", "generate", "--community", "NOPE", "--period", "2026-11"]
    )
    assert unknown.exit_code != 0
    check = runner.invoke(args=["ledger", "check"])
    assert check.exit_code == 0
    assert "OK" in check.output


def test_reconcile_reports_both_sides(
    runner: FlaskCliRunner, session: Session, tmp_path: Path
) -> None:
    unit, _ = factories.make_billed_unit(session)
    finance = factories.make_user(session, role="finance", community=unit.community)
    for ref, amount in (("BT-1", 10000), ("BT-2", 5000)):
        crediting.record_offline_payment(
            session,
            unit=unit,
            channel="bank_transfer",
            reference=ref,
            amount_fen=amount,
            received_on=date(2026, 11, 19),
            actor=finance,
            now=NOW,
        )
    session.commit()
    statement = tmp_path / "statement.csv"
    statement.write_text(
        "txn_id,out_trade_no,amount_yuan,paid_at\n"
        "BT-1,,100.00,2026-11-19 10:00:00\n"
        "BT-3,,20.00,2026-11-19 11:00:00\n"
    )
    result = runner.invoke(
        args=["payments", "reconcile", "--channel", "bank_transfer", "--file", str(statement)]
    )
    assert result.exit_code == 1, result.output
    assert "matched: 1" in result.output
    assert "missing on our side: 1" in result.output
    assert "missing on their side: 1" in result.output
