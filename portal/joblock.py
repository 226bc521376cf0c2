"""One run of a job at a time: every `flask <group> <command>` takes a lock named after it.

Jobs run from cron, possibly on several worker hosts (docs/scaling.md). Two runs of the same
job must never overlap: on PostgreSQL a session-level advisory lock (held on a connection of
its own for the job's duration, released by the server if the process dies), on SQLite a file
lock beside the database file (SQLite is one machine anyway). A second run finds the lock
taken and stops at once with exit status 1, writing nothing. Different jobs run side by side.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import func, select

# pg_try_advisory_lock(class, key): this class keeps job locks apart from the single-key
# transaction locks elsewhere (audit.service uses pg_advisory_xact_lock(7420131)).
LOCK_CLASS = 0x4A4F  # "JO"


class JobLocked(click.ClickException):
    exit_code = 1


def _key(database: str, name: str) -> int:
    """A signed 32-bit key for the job in this database (advisory locks span the server)."""
    digest = hashlib.sha256(f"{database}\x00{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


@contextlib.contextmanager
def job_lock(app: Flask, name: str) -> Iterator[None]:
    """Hold the lock of job `name` for the block; JobLocked if another run holds it."""
    from portal.extensions import db

    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        key = _key(str(engine.url.database), name)
        with engine.connect() as conn:
            got = conn.scalar(select(func.pg_try_advisory_lock(LOCK_CLASS, key)))
            conn.commit()
            if not got:
                raise JobLocked(f"{name} is already running (lock held); not started")
            try:
                yield
            finally:
                conn.scalar(select(func.pg_advisory_unlock(LOCK_CLASS, key)))
                conn.commit()
        return
    database = engine.url.database or ""
    if database in ("", ":memory:"):
        yield  # an in-memory database belongs to this process alone
        return
    slug = hashlib.sha256(name.encode()).hexdigest()[:12]
    path = Path(f"{database}.job-{slug}.lock")
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobLocked(f"{name} is already running (lock held); not started") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def locked(name: str, callback: Callable[..., Any]) -> Callable[..., Any]:
    """The command's callback, run under the job's lock."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        app = click.get_current_context().ensure_object(ScriptInfo).load_app()
        with job_lock(app, name):
            return callback(*args, **kwargs)

    return run


def install(group: click.Group) -> None:
    """Put every command of a CLI group (and its subgroups) under its own lock."""
    for command_name, command in group.commands.items():
        if isinstance(command, click.Group):
            install(command)
        elif command.callback is not None and not getattr(command, "_job_locked", False):
            command.callback = locked(f"{group.name} {command_name}", command.callback)
            command._job_locked = True  # type: ignore[attr-defined]
