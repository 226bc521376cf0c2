from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.communities import service as communities
from portal.extensions import db
from portal.ledger import service

group = AppGroup("ledger", help="Double-entry ledger.")


@group.command("check")
@click.option("--community", "code", default=None)
def check_command(code: str | None) -> None:
    """Verify every entry balances and bill balances equal their postings; exit 1 if not."""
    community_id = None
    if code:
        community = communities.get_community(db.session, code)
        if community is None:
            raise click.ClickException(f"community {code} does not exist")
        community_id = community.id
    report = service.check(db.session, community_id=community_id)
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
