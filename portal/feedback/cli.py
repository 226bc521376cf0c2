"""Feedback jobs: the daily service-recovery sweep and a survey's close."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from portal.communities import service as communities
from portal.extensions import db
from portal.feedback import recovery
from portal.timeutil import now_utc

group = AppGroup("feedback", help="Complaints, surveys and service recovery.")


@group.command("recovery")
@click.option("--community", "code", default=None, help="One community (default: all).")
@click.option(
    "--now",
    "at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
    default=None,
    help="The instant to run as (default: the clock).",
)
def recovery_command(code: str | None, at: datetime | None) -> None:
    """Open recovery tasks for dissatisfied units; re-running changes nothing."""
    now = now_utc() if at is None or at.tzinfo is None else at
    if code:
        community = communities.get_community(db.session, code.upper())
        if community is None:
            raise click.ClickException(f"no community {code}")
        targets = [community]
    else:
        targets = communities.list_communities(db.session, public_only=False)
    for community in targets:
        result = recovery.sweep(db.session, community=community, now=now)
        click.echo(f"{community.code}: {result.opened} opened, {result.updated} extended")
    db.session.commit()
