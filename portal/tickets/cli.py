"""Ticket jobs: the daily follow-ups, and the statistics as a hand-checkable printout."""

from __future__ import annotations

import time
from datetime import datetime

import click
from flask.cli import AppGroup

from portal.communities import service as communities
from portal.extensions import db
from portal.tickets import aftercare, stats
from portal.timeutil import DEFAULT_TZ, local_today, now_utc

group = AppGroup("tickets", help="Repair requests: follow-up jobs and statistics.")


@group.command("followups")
@click.option("--date", "run_on", type=click.DateTime(["%Y-%m-%d"]), default=None)
def followups_command(run_on: datetime | None) -> None:
    """Close tickets resolved 7+ days ago, ask "still fixed?" at 14 days; idempotent per date."""
    day = run_on.date() if run_on else local_today(DEFAULT_TZ)
    result = aftercare.run_followups(db.session, day=day, now=now_utc())
    db.session.commit()
    click.echo(
        f"{day}: {result.closed} closed, {result.rechecks} recheck prompts, "
        f"{result.expired} expired"
    )


def _h(value: object) -> str:
    return "too few" if value is None else str(value)


@group.command("stats")
@click.option("--community", "code", required=True)
@click.option("--months", default=12, show_default=True, type=click.IntRange(1, stats.MAX_MONTHS))
def stats_command(code: str, months: int) -> None:
    """Print the responsiveness figures of a community (and how long the queries took)."""
    community = communities.get_community(db.session, code.upper())
    if community is None:
        raise click.ClickException(f"no community {code}")
    started = time.perf_counter()
    report = stats.responsiveness(db.session, community=community, months=months, now=now_utc())
    elapsed = time.perf_counter() - started
    click.echo(f"{community.code} {report.period_from}..{report.period_to}")
    click.echo(
        f"{'category':<20}{'tickets':>8}{'fr_med':>9}{'fr_p90':>9}{'res_med':>9}{'res_p90':>9}"
        f"{'sla':>8}{'reopen':>8}{'rating':>7}{'open':>6}"
    )
    rows = [(r.category.code, r.figures) for r in report.categories]
    rows.append(("ALL", report.overall))
    for name, f in rows:
        click.echo(
            f"{name:<20}{f.tickets:>8}{_h(f.median_first_response_h):>9}"
            f"{_h(f.p90_first_response_h):>9}{_h(f.median_resolution_h):>9}"
            f"{_h(f.p90_resolution_h):>9}{_h(f.sla_compliance):>8}{_h(f.reopen_rate):>8}"
            f"{_h(f.mean_rating):>7}{f.backlog if f.backlog is not None else '':>6}"
        )
    click.echo(f"computed in {elapsed * 1000:.0f} ms")
