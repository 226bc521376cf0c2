from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup

from portal.accounts import two_factor
from portal.config import NON_PRODUCTION
from portal.demo import service
from portal.extensions import db
from portal.timeutil import now_utc

group = AppGroup("demo", help="Demo data.")


@group.command("seed")
@click.option(
    "--communities", "communities_count", default=2, show_default=True, type=click.IntRange(1, 50)
)
@click.option(
    "--units",
    "units",
    default=150,
    show_default=True,
    type=click.IntRange(10, 20000),
    help="Units per community.",
)
@click.option(
    "--months",
    default=12,
    show_default=True,
    type=click.IntRange(1, 60),
    help="Months of history (bills, payments, tickets).",
)
@click.option("--seed", "seed_value", default=2026, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has data.")
def seed_command(
    communities_count: int, units: int, months: int, seed_value: int, if_empty: bool
) -> None:
    """Fill an empty database with realistic demo data and print the demo log-ins."""
    if current_app.config.get("CLEARFEE_ENV") not in NON_PRODUCTION:
        # Demo accounts share a published password: never on a production database.
        raise click.ClickException(
            "demo seed is refused in production mode; set CLEARFEE_ENV=demo (make run does)"
        )
    if not service.database_is_empty(db.session):
        if if_empty:
            click.echo("database already has data; not seeding")
            return
        raise click.ClickException("database already has data; demo seed needs an empty one")
    started = time.monotonic()
    result = service.seed(
        db.session,
        communities_count=communities_count,
        units_per_community=units,
        months=months,
        seed_value=seed_value,
        now=now_utc(),
    )
    db.session.commit()
    click.echo(
        f"seeded {len(result.communities)} communities, {result.units} units, "
        f"{result.owners} owners in {time.monotonic() - started:.1f}s"
    )
    for line in result.lines:
        click.echo(f"  {line}")
    click.echo(f"demo log-ins (password {service.DEMO_PASSWORD}):")
    for username, what in result.logins:
        click.echo(f"  {username:<16} {what}")
    click.echo(
        f"two-factor staff: TOTP secret {two_factor.DEMO_SECRET} (base32; add it to an "
        'authenticator app, or: python -c "import pyotp; '
        f"print(pyotp.TOTP('{two_factor.DEMO_SECRET}').now())\")"
    )
