from typing import Any

from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts import service as accounts
from portal.accounts.models import User
from portal.communities import service as communities
from portal.communities.models import Community, Unit
from portal.demo.service import DEMO_PASSWORD
from portal.extensions import db


def test_seed_creates_demo_world(runner: FlaskCliRunner, session: Session) -> None:
    result = runner.invoke(args=["demo", "seed", "--units", "40"])
    assert result.exit_code == 0, result.output
    for login in (
        "demo-owner",
        "demo-owner-2",
        "demo-cs",
        "demo-engineer",
        "demo-finance",
        "demo-collector",
        "demo-manager",
        "demo-committee",
        "demo-admin",
    ):
        assert login in result.output
        assert accounts.authenticate(session, username=login, password=DEMO_PASSWORD), login
    demo1 = session.scalar(select(Community).where(Community.code == "DEMO1"))
    assert demo1.is_public
    assert session.scalar(select(func.count(Unit.id))) == 80
    owner = session.scalar(select(User).where(User.username == "demo-owner"))
    owner2 = session.scalar(select(User).where(User.username == "demo-owner-2"))
    units1, units2 = communities.units_of(session, owner), communities.units_of(session, owner2)
    assert units1[0].community_id == units2[0].community_id == demo1.id
    assert units1 != units2
    manager = session.scalar(select(User).where(User.username == "demo-manager"))
    assert manager.community_ids("manager") == {demo1.id}
    phones = session.scalars(select(User.phone).where(User.username.like("owner%"))).all()
    assert all(p and p[0] == "1" and len(p) == 11 for p in phones)


def test_seed_is_reproducible_and_refuses_non_empty(
    runner: FlaskCliRunner, session: Session
) -> None:
    assert runner.invoke(args=["demo", "seed", "--units", "20", "--seed", "7"]).exit_code == 0
    names = session.scalars(select(User.display_name).order_by(User.id).limit(5)).all()
    again = runner.invoke(args=["demo", "seed"])
    assert again.exit_code != 0
    assert "already has data" in again.output
    skip = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert skip.exit_code == 0
    assert "not seeding" in skip.output
    assert len(names) == 5


def test_seed_refused_in_production(make_app: Any) -> None:
    # No `session` fixture here: its app context would be the one the command runs in.
    app = make_app(CLEARFEE_ENV="production", PAYMENTS_SANDBOX=False, CLOCK_NOW=None)
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--units", "10"])
    assert result.exit_code != 0
    assert "production" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 0
