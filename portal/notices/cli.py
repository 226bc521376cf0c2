from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from portal.extensions import db
from portal.notices import service
from portal.timeutil import now_utc

group = AppGroup("notices", help="Notice board jobs.")


@group.command("release")
@click.option("--at", "at", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z"]), default=None)
def release_command(at: datetime | None) -> None:
    """Publish scheduled notices whose time has come; running it again changes nothing."""
    released = service.release_due(db.session, now=at or now_utc())
    db.session.commit()
    click.echo(f"{released} notices released")
