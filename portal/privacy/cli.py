"""`flask privacy retention`: pseudonymise closed accounts, delete old messages and uploads
after their retention periods (run daily from cron; idempotent)."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from portal.extensions import db
from portal.privacy import retention, service
from portal.timeutil import DEFAULT_TZ, local_today, now_utc

group = AppGroup("privacy", help="Personal data retention.")


@group.command("retention")
@click.option("--date", "run_on", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--days", type=int, default=None, help="Retention after the last ownership ended")
def retention_command(run_on: datetime | None, days: int | None) -> None:
    """Pseudonymise owners whose every ownership ended before the retention period; idempotent."""
    day = run_on.date() if run_on else local_today(DEFAULT_TZ)
    keep = days if days is not None else current_app.config["PRIVACY_RETENTION_DAYS"]
    now = now_utc()
    count = service.apply_retention(db.session, today=day, retention_days=keep, now=now)
    swept = retention.apply(
        db.session,
        now=now,
        message_days=current_app.config["MESSAGE_RETENTION_DAYS"],
        upload_days=current_app.config["UPLOAD_RETENTION_DAYS"],
    )
    db.session.commit()
    retention.remove_files(swept.unlink)
    click.echo(f"{day}: {count} closed accounts pseudonymised (retention {keep} days)")
    click.echo(
        f"{swept.messages} messages, {swept.ticket_photos} ticket photos and {swept.files} "
        "unreferenced files deleted"
    )
