"""flask collections run [--date D] [--preview]: the daily collections pass (idempotent)."""

from __future__ import annotations

import time
from datetime import datetime

import click
from flask.cli import AppGroup

from portal.collections import engine
from portal.extensions import db
from portal.timeutil import DEFAULT_TZ, local_today, now_utc

group = AppGroup("collections", help="Arrears collection: the daily run.")


@group.command("run")
@click.option("--date", "run_on", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--preview", is_flag=True, help="Print what the run would do; change nothing.")
@click.option("--quiet", is_flag=True, help="Only the summary line.")
def run_command(run_on: datetime | None, preview: bool, quiet: bool) -> None:
    """Run the daily collections pass for a local date; re-running a date changes nothing."""
    now = now_utc()
    day = run_on.date() if run_on else local_today(DEFAULT_TZ, now=now)
    started = time.perf_counter()
    result = engine.run_daily(db.session, day=day, now=now)
    if preview:
        db.session.rollback()
    else:
        db.session.commit()
    took = time.perf_counter() - started
    if not quiet:
        for line in result.lines:
            click.echo(("would: " if preview else "") + line)
    click.echo(
        f"{day}{' (preview, nothing changed)' if preview else ''}: {result.cases} active cases, "
        f"{result.opened} opened, {result.reopened} reopened, {result.closed} closed, "
        f"{result.reminders} L1 reminders, {result.proposals} escalations proposed, "
        f"{result.recovery_tasks} service-recovery tasks, {result.plan_offers} plan offers, "
        f"{result.paused} paused, {result.skipped_disputed} skipped (disputed), "
        f"{result.plans_broken} plans broken; {took:.2f}s"
    )
