"""Read-only report queries on a replica: dashboards and exports read from
`DATABASE_REPLICA_URL` when it is set (a PostgreSQL streaming replica), the primary otherwise.

A replica runs a little behind the primary (usually well under a second), which dashboards and
exports can afford and a page that shows what its user just did cannot; so only the report
queries named at their call sites use it, and they never write. The session lives for the
request (or CLI command) and is closed at teardown.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

BIND = "replica"


def configure(settings: dict[str, Any], url: str | None) -> None:
    """Add the replica as an SQLAlchemy bind when a URL is given."""
    if url:
        settings.setdefault("SQLALCHEMY_BINDS", {})[BIND] = url


def enabled() -> bool:
    return BIND in (current_app.config.get("SQLALCHEMY_BINDS") or {})


def read_session() -> Session:
    """The session for read-only report queries (the replica's, else the app's own)."""
    from portal.extensions import db

    if not enabled():
        return db.session  # type: ignore[return-value]
    session = g.get("replica_session")
    if session is None:
        session = Session(bind=db.engines[BIND], autoflush=False, expire_on_commit=False)
        g.replica_session = session
    return session


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def close_replica_session(_exc: BaseException | None) -> None:
        session = g.pop("replica_session", None)
        if session is not None:
            session.rollback()
            session.close()
