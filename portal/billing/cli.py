from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from portal.billing import late_fees, ledger, runs, summaries
from portal.communities import service as communities
from portal.errors import DomainError
from portal.extensions import db
from portal.timeutil import local_today, now_utc, zone

group = AppGroup("billing", help="Billing runs and late fees.")
ledger_group = AppGroup("ledger", help="Double-entry ledger.")
groups = (group, ledger_group)  # the ledger is billing's books; its commands keep their name


@group.command("generate")
@click.option("--community", "code", required=True)
@click.option("--period", required=True, help="YYYY-MM")
@click.option(
    "--no-announce",
    "quiet",
    is_flag=True,
    help="Do not queue the bill-issued messages (back-filling past periods).",
)
def generate_command(code: str, period: str, quiet: bool) -> None:
    """Create the period's bills for every unit; re-running the period creates nothing."""
    community = communities.get_community(db.session, code)
    if community is None:
        raise click.ClickException(f"community {code} does not exist")
    try:
        result = runs.generate_bills(
            db.session,
            community=community,
            period=runs.period_start(period),
            now=now_utc(),
            announce=not quiet,
        )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(
        f"{code} {period}: {result.created} bills created, {result.existing} already "
        f"existed, {result.without_standard} units without a fee standard"
    )


@group.command("late-fees")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), default=None)
def late_fees_command(on: datetime | None) -> None:
    """Assess this month's late fees where the contract provides them; idempotent per date."""
    total = 0
    for community in communities.list_communities(db.session, public_only=False):
        day = on.date() if on else local_today(zone(community.timezone))
        total += late_fees.assess_late_fees(db.session, community=community, on=day, now=now_utc())
    db.session.commit()
    click.echo(f"{total} late-fee lines added")


@group.command("rebuild-summaries")
@click.option("--community", "code", default=None)
def rebuild_summaries_command(code: str | None) -> None:
    """Recompute the monthly collection summaries from the bills (all communities, or one)."""
    community_id = None
    if code:
        community = communities.get_community(db.session, code)
        if community is None:
            raise click.ClickException(f"community {code} does not exist")
        community_id = community.id
    stale = len(summaries.differences(db.session, community_id=community_id))
    rows = summaries.rebuild(db.session, community_id=community_id)
    db.session.commit()
    click.echo(f"{rows} summary rows rebuilt ({stale} were out of step)")


# ---------------------------------------------------------------- the ledger


@ledger_group.command("check")
@click.option("--community", "code", default=None)
def check_command(code: str | None) -> None:
    """Verify every entry balances and bill balances equal their postings; exit 1 if not."""
    community_id = None
    if code:
        community = communities.get_community(db.session, code)
        if community is None:
            raise click.ClickException(f"community {code} does not exist")
        community_id = community.id
    report = ledger.check(db.session, community_id=community_id)
    click.echo(f"{report.entries} entries checked")
    if report.unbalanced:
        click.echo(f"unbalanced entries: {report.unbalanced[:20]}", err=True)
    if report.line_mismatches:
        click.echo(
            f"bill lines whose balance differs from postings: {report.line_mismatches[:20]}",
            err=True,
        )
    if report.bill_mismatches:
        click.echo(
            f"bills whose totals differ from their lines: {report.bill_mismatches[:20]}", err=True
        )
    if not report.ok:
        raise SystemExit(1)
    click.echo("OK: debits = credits, balances match postings")
