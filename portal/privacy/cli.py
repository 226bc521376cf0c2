"""`flask privacy retention`: pseudonymise closed accounts after the retention period."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from portal.extensions import db
from portal.privacy import service
from portal.timeutil import DEFAULT_TZ, local_today, now_utc

group = AppGroup("privacy", help="Personal data retention.")


@group.command("retention")
@click.option("--date", "run_on", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--days", type=int, default=None, help="Retention after the last ownership ended")
def retention_command(run_on: datetime | None, days: int | None) -> None:
    """Pseudonymise owners whose every ownership ended before the retention period; idempotent."""
    day = run_on.date() if run_on else local_today(DEFAULT_TZ)
    keep = days if days is not None else current_app.config["PRIVACY_RETENTION_DAYS"]
    count = service.apply_retention(db.session, today=day, retention_days=keep, now=now_utc())
    db.session.commit()
    click.echo(f"{day}: {count} closed accounts pseudonymised (retention {keep} days)")
