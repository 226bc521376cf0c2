from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.communities import service as communities
from portal.extensions import db
from portal.payments import autodebit
from portal.payments.models import Payment, PaymentIntent
from portal.timeutil import local_today, now_utc, zone

group = AppGroup("payments", help="Payments jobs and reconciliation.")


@group.command("autodebit")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), default=None)
def autodebit_command(on: datetime | None) -> None:
    """Collect issued bills through active auto-debit mandates; re-running changes nothing."""
    total = 0
    for community in communities.list_communities(db.session, public_only=False):
        day = on.date() if on else local_today(zone(community.timezone))
        total += autodebit.debit_due_bills(db.session, community=community, on=day, now=now_utc())
    db.session.commit()
    click.echo(f"{total} bills collected by auto-debit")


@group.command("reconcile")
@click.option("--channel", required=True)
@click.option("--file", "path", required=True, type=click.Path(exists=True, dir_okay=False))
def reconcile_command(channel: str, path: str) -> None:
    """Compare a gateway or bank statement with our payments; exit 1 when they differ."""
    from portal.payments import reconcile

    try:
        theirs = reconcile.parse_statement(
            channel, reconcile.decode_statement(Path(path).read_bytes())
        )
    except reconcile.StatementError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = db.session.execute(
        select(Payment.txn_id, PaymentIntent.out_trade_no, Payment.amount_fen)
        .outerjoin(PaymentIntent, PaymentIntent.id == Payment.intent_id)
        .where(Payment.channel == channel)
    ).all()
    ours = [
        reconcile.OurPayment(txn_id=txn, out_trade_no=trade_no, amount_fen=amount)
        for txn, trade_no, amount in rows
    ]
    report = reconcile.compare(ours, theirs)
    click.echo(f"matched: {len(report.matched)}")
    for title, rows in (
        ("missing on our side", report.missing_on_our_side),
        ("missing on their side", report.missing_on_their_side),
        ("amount mismatches", report.amount_mismatches),
        ("transaction id mismatches", report.txn_id_mismatches),
    ):
        click.echo(f"{title}: {len(rows)}")
        for row in rows[:50]:
            click.echo(f"  {row}")
    if not report.ok:
        raise SystemExit(1)
