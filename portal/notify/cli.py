"""flask notify send | due-soon: the outbox jobs (idempotent; safe to run from cron often)."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from portal.communities import service as communities
from portal.extensions import db
from portal.notify import outbox, sending, service
from portal.timeutil import DEFAULT_TZ, local_today, now_utc, parse_instant

group = AppGroup("notify", help="Outbound messages: delivery and daily reminders.")


def _instant(value: str | None) -> datetime:
    if not value:
        return now_utc()
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from exc


@group.command("send")
@click.option("--now", "now_text", default=None, help="ISO-8601 instant with offset (default: now)")
def send_command(now_text: str | None) -> None:
    """Deliver the messages due at that instant; never twice, never 21:00–08:00 local."""
    now = _instant(now_text)
    channels = service.available_channels()
    report = sending.send_due(db.session, now=now, channels=channels, commit=db.session.commit)
    click.echo(f"notify send at {now.isoformat()} (channels: {', '.join(sorted(channels))})")
    for line in report.lines():
        click.echo(line)


@group.command("due-soon")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--now", "now_text", default=None, help="ISO-8601 instant (default: now)")
def due_soon_command(on: datetime | None, now_text: str | None) -> None:
    """Queue the daily reminders (bills due in 3 days…) for a local date; idempotent."""
    now = _instant(now_text)
    day = on.date() if on else local_today(DEFAULT_TZ, now=now)
    counts = service.run_daily(db.session, day=day, now=now)
    db.session.commit()
    if not counts:
        click.echo(f"{day}: no daily producers registered")
    for name, count in counts.items():
        click.echo(f"{day}: {name}: {count} messages queued")


@group.command("stats")
@click.option("--community", "code", required=True)
def stats_command(code: str) -> None:
    """Print the outbox's counts per channel and status for a community."""
    community = communities.get_community(db.session, code)
    if community is None:
        raise click.ClickException(f"community {code} does not exist")
    since = datetime(2000, 1, 1, tzinfo=DEFAULT_TZ)
    for rate in outbox.delivery_rates(db.session, community_id=community.id, since=since):
        click.echo(
            f"{rate.channel}: {rate.total} total, {rate.done} sent, {rate.delivered} delivered, "
            f"{rate.failed} failed, {rate.suppressed} held back, {rate.pending} pending"
        )
