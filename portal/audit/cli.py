"""`flask audit verify`: recompute the audit hash chain."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.audit import service
from portal.extensions import db

group = AppGroup("audit", help="The audit trail.")


@group.command("verify")
def verify_command() -> None:
    """Exit 0 and print OK when the audit chain holds; else name the first broken link."""
    result = service.verify(db.session)
    if result.ok:
        click.echo(f"OK ({result.entries} entries)")
        return
    raise click.ClickException(
        f"BROKEN at seq {result.broken_seq}: {result.reason} "
        f"({result.entries} entries before it verify)"
    )
