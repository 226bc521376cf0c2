"""Shared fixtures: one schema per test session, rows deleted after each test."""

from __future__ import annotations

import contextlib
import contextvars
import os
import select
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, exists, literal, make_url, text, union_all
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from portal import create_app
from portal.extensions import db as _db
from tests.factories import NOW

# Property tests have no per-example deadline: CI and a shared machine are slow in bursts, and a
# deadline turns that into a flaky failure instead of a finding.
settings.register_profile(
    "clearfee", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("clearfee")

# The app's clock is pinned for every test (factories.NOW, 10:00 in Shanghai); a test that
# needs another instant uses the `clock` fixture. Nothing here reads the real date.
CLOCK = NOW

TEST_SETTINGS: dict[str, Any] = {
    "TESTING": True,
    "CLEARFEE_ENV": "test",
    "CLOCK_NOW": CLOCK,
    "PAYMENTS_SANDBOX": True,
    "SECRET_KEY": "test-secret",
    "WTF_CSRF_ENABLED": False,
    "PASSWORD_HASH_TIME_COST": 1,
    "PASSWORD_HASH_MEMORY_COST": 1024,
    "RATELIMIT_STORAGE_URI": "memory://",
    "SANDBOX_SECRET": "sandbox-test-secret",
    "SERVER_NAME": None,
}


def server_database_url() -> str | None:
    """TEST_DATABASE_URL, or None on SQLite. Under pytest-xdist each worker gets its own
    database (`test_gw0`, `test_gw1`, ...), created on first use, so workers never share rows."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not url.startswith("postgresql"):
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _database_url(tmp_root: Path) -> str:
    return server_database_url() or f"sqlite:///{tmp_root / 'test.db'}"


@pytest.fixture(scope="session")
def _session_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PostgreSQL: the test database, schema rebuilt once. SQLite: a template file that each
    test copies, so every test starts from a fresh schema without cleanup."""
    url = _database_url(tmp_path_factory.mktemp("db"))
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        if _db.engine.dialect.name == "postgresql":
            with _db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        _db.create_all()
        _db.engine.dispose()
    return url


@contextlib.contextmanager
def seeded_demo_app(
    session_database: str, root: Path, *seed_args: str, **settings: Any
) -> Iterator[Flask]:
    """A demo seeded once for a whole module (tests that only read it), on its own copy of the
    SQLite template, or on the worker's PostgreSQL database, emptied again afterwards."""
    url = session_database
    if url.startswith("sqlite:///"):
        shutil.copyfile(url.removeprefix("sqlite:///"), root / "demo.db")
        url = f"sqlite:///{root / 'demo.db'}"
    app = create_app(
        {
            **TEST_SETTINGS,
            "SQLALCHEMY_DATABASE_URI": url,
            "UPLOAD_FOLDER": str(root / "up"),
            **settings,
        }
    )
    app.test_client_class = IsolatedClient
    result = app.test_cli_runner().invoke(args=["demo", "seed", *seed_args])
    assert result.exit_code == 0, result.output
    try:
        yield app
    finally:
        with app.app_context():
            _db.session.remove()
            _clean(_db.session)
            _db.engine.dispose()


@pytest.fixture
def database_url(_session_database: str, tmp_path: Path) -> str:
    if not _session_database.startswith("sqlite:///"):
        return _session_database
    copy = tmp_path / "test.db"
    shutil.copyfile(_session_database.removeprefix("sqlite:///"), copy)
    return f"sqlite:///{copy}"


# Sequences used since they were last reset (a test that inserted rows, even if it deleted
# them again), with their start values.
_USED_SEQUENCES = """
SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), start_value
FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL
"""


def _clean(session: Session) -> None:
    """PostgreSQL: empty every table and reset every id sequence, as TRUNCATE ... RESTART
    IDENTITY of all tables would. That TRUNCATE cost 0.26 s of server CPU and seconds of
    wall per test (new files for 82 tables and their indexes), while a test writes a
    handful: so only the tables holding a row are emptied, with DELETE, in a session with
    session_replication_role = replica (no triggers: neither the ledger's no-delete guards
    nor foreign-key checks; superuser only, else the full TRUNCATE), and only the used
    sequences are reset."""
    if _db.engine.dialect.name != "postgresql":
        return  # SQLite tests each have their own copy of the template database
    tables = _db.metadata.sorted_tables
    if session.execute(text("SELECT current_setting('is_superuser')")).scalar() != "on":
        names = ", ".join(f'"{t.name}"' for t in tables)
        session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        session.commit()
        return
    probe = union_all(*(sa.select(literal(t.name)).where(exists().select_from(t)) for t in tables))
    holding = set(session.execute(probe).scalars())
    session.execute(text("SET LOCAL session_replication_role = replica"))
    for table in reversed(tables):
        if table.name in holding:
            session.execute(table.delete())
    for name, start in session.execute(text(_USED_SEQUENCES)).all():
        session.execute(text("SELECT setval(:name, :start, false)"), {"name": name, "start": start})
    session.commit()


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build an app on the test database with extra settings."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        settings = {
            **TEST_SETTINGS,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            **overrides,
        }
        app = create_app(settings)
        app.test_client_class = IsolatedClient
        apps.append(app)
        return app

    yield build
    for index, app in enumerate(apps):
        with app.app_context():
            _db.session.remove()
            if index == 0:
                _clean(_db.session)
            _db.engine.dispose()


class IsolatedClient(FlaskClient):
    """Runs each request in an empty contextvars context, so it gets its own app context,
    `g` and database session, as in production, although the test holds an app context."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        # Buffered: a streamed response (exports) is read to its end inside the request's
        # own context, as a WSGI server does, so stream_with_context pops what it pushed.
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    application = make_app()
    application.test_client_class = IsolatedClient
    with application.app_context():
        yield application
        _db.session.remove()


class Clock:
    """The pinned clock of the app under test: `set` and `advance` move it."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    @property
    def now(self) -> datetime:
        return self.app.config["CLOCK_NOW"]

    def set(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:
            raise ValueError("naive datetime")
        self.app.config["CLOCK_NOW"] = instant
        return instant

    def advance(self, **delta: float) -> datetime:
        return self.set(self.now + timedelta(**delta))


@pytest.fixture
def clock(app: Flask) -> Clock:
    return Clock(app)


@pytest.fixture
def db(app: Flask) -> Any:
    return _db


@pytest.fixture
def session(app: Flask) -> Session:
    return _db.session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, username: str, password: str = "pass-word-123") -> Any:
        return self.client.post("/login", data={"username": username, "password": password})

    def logout(self) -> Any:
        return self.client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def login_as(client: FlaskClient, session: Session) -> Callable[..., Any]:
    """Create a user with a role and log the test client in as them."""
    from tests import factories

    def login(role: str = "owner", community: Any = None, **kwargs: Any) -> Any:
        user = factories.make_user(session, role=role, community=community, **kwargs)
        session.commit()
        response = client.post("/login", data=factories.login_fields(user.username))
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return login


if "faketime" in os.environ.get("LD_PRELOAD", ""):
    # Under faketime with FAKETIME_DONT_FAKE_MONOTONIC=1 (scripts/faketime-check),
    # libfaketime 0.9.10 mangles the absolute deadline that Python's time.sleep hands to
    # clock_nanosleep, which then fails with EINVAL; select() takes a relative timeout.
    _real_sleep = time.sleep

    def _sleep(seconds: float) -> None:
        try:
            _real_sleep(seconds)
        except OSError:
            select.select([], [], [], seconds)

    time.sleep = _sleep


def _memoize_url_builders() -> None:
    """Every test builds its own app, and werkzeug compiles two URL-builder functions (AST
    walk + compile) for each of its ~270 rules: 88 % of create_app's CPU. The function
    depends only on the rule text, its parsed trace, which defaults it takes and whether it
    appends unknown arguments (it reaches converters through its `.self` argument), so the
    test process compiles each one once. A rule with a default for one of its own variables
    (folded into the code through a converter) is compiled afresh every time."""
    compile_builder = Rule._compile_builder
    cache: dict[tuple[Any, ...], Callable[..., tuple[str, str]]] = {}

    def cached(self: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        defaults = self.defaults or {}
        if any(is_dynamic and data in defaults for is_dynamic, data in self._trace):
            return compile_builder(self, append_unknown)
        key = (self.rule, tuple(self._trace), tuple(map(str, defaults)), append_unknown)
        function = cache.get(key)
        if function is None:
            function = cache[key] = compile_builder(self, append_unknown)
        return function

    Rule._compile_builder = cached  # type: ignore[method-assign]


_memoize_url_builders()

_real_connect = socket.socket.connect


@pytest.fixture(autouse=True)
def _no_outbound_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any outbound connection except to local services (database, test servers)."""

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (
            host in ("localhost", "::1") or host.startswith("127.") or host.startswith("/")
        ):
            return _real_connect(self, address)
        if self.family == socket.AF_UNIX:
            return _real_connect(self, address)
        raise RuntimeError(f"test tried to reach the network: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_pg = (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgres")
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL")
    for item in items:
        if "pg" in item.keywords and not on_pg:
            item.add_marker(skip_pg)
