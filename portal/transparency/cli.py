from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.communities import service as communities
from portal.extensions import db
from portal.publication import service as publication

group = AppGroup("transparency", help="Publication log.")


@group.command("verify")
@click.option("--community", "code", default=None, help="Community code (default: all)")
def verify_command(code: str | None) -> None:
    """Recompute every publication chain; exit 0 and print OK when all hold."""
    if code:
        community = communities.get_community(db.session, code)
        if community is None:
            raise click.ClickException(f"community {code} does not exist")
        targets = [community]
    else:
        targets = communities.list_communities(db.session, public_only=False)
    failed = False
    for community in targets:
        result = publication.verify(db.session, community)
        if result.ok:
            click.echo(f"{community.code}: {result.entries} entries OK")
        else:
            failed = True
            click.echo(
                f"{community.code}: BROKEN at seq {result.bad_seq}: {result.reason}", err=True
            )
    if failed:
        raise SystemExit(1)
    click.echo("OK")
