"""DATABASE_REPLICA_URL: dashboards and exports read from the replica (here: the same SQLite
file under a second engine, so the figures must come out identical)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal import config, replica
from portal.extensions import db
from tests import factories
from tests.collections.helpers import make_world, run
from tests.factories import NOW


def test_the_environment_variable_adds_the_bind(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DATABASE_REPLICA_URL", "postgresql://reader@replica/clearfee")
    settings = config.from_environment(str(tmp_path))
    assert settings["SQLALCHEMY_BINDS"]["replica"] == (
        "postgresql+psycopg://reader@replica/clearfee"
    )
    monkeypatch.delenv("DATABASE_REPLICA_URL")
    assert "SQLALCHEMY_BINDS" not in config.from_environment(str(tmp_path))


def test_dashboard_and_exports_read_from_the_replica(
    make_app: Callable[..., Flask], database_url: str
) -> None:
    app = make_app(SQLALCHEMY_BINDS={"replica": database_url}, PAGE_CACHE=False)
    with app.app_context():
        session: Session = db.session  # type: ignore[assignment]
        world = make_world(session, code="R")
        session.commit()
        run(session, NOW.date())
        manager = world.manager.username
        factories.login_fields(manager)  # resets the TOTP replay guard
        engine = db.engines["replica"]
        assert engine is not db.engine
    on_replica: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: on_replica.append(a[2]))
    client = app.test_client()
    with app.app_context():
        fields = factories.login_fields(manager)
    client.post("/login", data=fields)
    page = client.get("/collections/manager?community=R")
    assert page.status_code == 200
    assert any("collection_cases" in s for s in on_replica)
    on_replica.clear()
    download = client.get("/c/R/spending.json")
    assert download.status_code == 200
    assert on_replica
    engine.dispose()  # the fixture closes only the primary's pool


def test_without_a_replica_reports_use_the_app_session(app: Flask) -> None:
    with app.test_request_context():
        assert not replica.enabled()
        assert replica.read_session() is db.session
