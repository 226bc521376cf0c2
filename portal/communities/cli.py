"""`flask users create`: a user with a role scoped to a community (and, for an owner, a unit).

The command lives with communities because a user's scope is a community and a unit, which
accounts (listed before communities in DOMAINS) does not know.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.accounts import service as accounts
from portal.accounts import two_factor
from portal.accounts.models import Role
from portal.communities import service as communities
from portal.errors import DomainError
from portal.extensions import db
from portal.timeutil import local_today, now_utc

group = AppGroup("users", help="User accounts.")


@group.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", "role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--community", "community_code", default=None, help="Community code (staff, owner)")
@click.option("--unit", "unit_code", default=None, help="Unit code, e.g. A-3-1202 (owners)")
@click.option(
    "--totp-secret", default=None, help="Base32 TOTP secret: enrols two-factor (scripted set-up)"
)
def create_command(
    username: str,
    password: str,
    role: str,
    community_code: str | None,
    unit_code: str | None,
    totp_secret: str | None,
) -> None:
    """Create a user with one role, scoped to a community (and owning a unit for owners)."""
    try:
        community = None
        if community_code:
            community = communities.get_community(db.session, community_code)
            if community is None:
                raise DomainError(f"community {community_code} does not exist")
        if role == Role.OWNER and (community is None or not unit_code):
            raise DomainError("an owner needs --community and --unit")
        unit = None
        if unit_code:
            if community is None:
                raise DomainError("--unit needs --community")
            unit = communities.find_unit(db.session, community=community, code=unit_code)
            if unit is None:
                raise DomainError(f"unit {unit_code} is not in community {community.code}")
        now = now_utc()
        user = accounts.create_user(db.session, username=username, password=password, now=now)
        accounts.grant_role(
            db.session, user=user, role=role, community_id=community.id if community else None
        )
        if totp_secret:
            two_factor.enrol_with_secret(db.session, user=user, secret=totp_secret, now=now)
        if unit is not None:
            communities.add_ownership(
                db.session, user=user, unit=unit, started_on=local_today(now=now)
            )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    where = f" in {community.code}" if community else ""
    click.echo(f"created {username} ({role}{where})")
