"""`flask governance close-due` and `flask governance rewards`: idempotent daily jobs."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from portal.communities import service as communities
from portal.extensions import db
from portal.governance import rewards, service
from portal.timeutil import now_utc, parse_instant

group = AppGroup("governance", help="Owners' votes and on-time rewards.")


def _now(value: str | None) -> datetime:
    return parse_instant(value) if value else now_utc()


@group.command("close-due")
@click.option("--now", "at", default=None, help="ISO-8601 instant (default: now)")
def close_due_command(at: str | None) -> None:
    """Close, count and publish every vote whose closing time has passed."""
    closed = service.close_due(db.session, now=_now(at))
    db.session.commit()
    for vote in closed:
        result = vote.result or {}
        click.echo(
            f"vote {vote.id}: valid={result.get('valid')} passed={result.get('passed')} "
            f"area={result.get('area_participation')} "
            f"headcount={result.get('headcount_participation')}"
        )
    click.echo(f"{len(closed)} votes closed")


@group.command("rewards")
@click.option("--community", "code", default=None, help="community code (default: all)")
@click.option("--now", "at", default=None, help="ISO-8601 instant (default: now)")
def rewards_command(code: str | None, at: str | None) -> None:
    """Give the on-time rewards each community's policy earns; re-running changes nothing."""
    now = _now(at)
    targets = [communities.get_community(db.session, code)] if code else None
    if targets == [None]:
        raise click.ClickException(f"no community {code}")
    for community in targets or communities.list_communities(db.session, public_only=False):
        assert community is not None  # noqa: S101 (checked above)
        result = rewards.run_rewards(db.session, community=community, now=now)
        click.echo(
            f"{community.code}: {result.early_points} on-time bills, {result.autopay} autopay, "
            f"{result.prepay} prepaid years, {result.credit_fen} fen credited"
        )
    db.session.commit()
