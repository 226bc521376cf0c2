"""`flask backup create PATH` and `flask backup restore PATH [--force]`.

SQLite: the online backup API (`sqlite3.Connection.backup`), which copies a consistent
snapshot page by page while the portal keeps serving. PostgreSQL: `pg_dump -Fc` (one
consistent snapshot as well) and `pg_restore`. A restore goes into an empty database; a
database that already has tables is refused unless --force, which replaces what is there.
The ledger's and the audit trail's append-only triggers travel with the schema.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import Engine, inspect, make_url, text

from portal.extensions import db

group = AppGroup("backup", help="Back up and restore the database.")

SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(Exception):
    pass


def _sqlite_file(engine: Engine) -> str:
    name = engine.url.database
    if not name or name == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return name


def _pg_command(engine: Engine, tool: str) -> tuple[list[str], dict[str, str]]:
    """The libpq connection options for `tool`, with the password in the environment
    (never on the command line, where `ps` shows it)."""
    binary = shutil.which(tool)
    if binary is None:
        raise BackupError(f"{tool} not found; install the PostgreSQL client tools")
    url = make_url(engine.url)
    args = [binary, "--no-password"]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return [*args, "--dbname", str(url.database)], env


def _run(args: list[str], env: dict[str, str]) -> None:
    # S603/B603: pg_dump or pg_restore found by shutil.which, an argument list, no shell.
    done = subprocess.run(  # noqa: S603  # nosec
        args, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[:2000]}")


def create(engine: Engine, path: Path) -> None:
    """Write a consistent snapshot of the database to `path`."""
    if engine.dialect.name == "sqlite":
        source = sqlite3.connect(_sqlite_file(engine))
        target = sqlite3.connect(path)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
        return
    if engine.dialect.name == "postgresql":
        args, env = _pg_command(engine, "pg_dump")
        _run([*args, "--format=custom", "--no-owner", "--file", str(path)], env)
        return
    raise BackupError(f"backups of {engine.dialect.name} are not supported")


def is_empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


def restore(engine: Engine, path: Path, *, force: bool = False) -> None:
    """Load the backup at `path` into the (empty, unless `force`) database."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    if not force and not is_empty(engine):
        raise BackupError(
            "the target database is not empty; restore into a new, empty database "
            "(or pass --force to replace everything in it)"
        )
    engine.dispose()
    if engine.dialect.name == "sqlite":
        with path.open("rb") as fh:
            if fh.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                raise BackupError(f"{path} is not a SQLite backup")
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        target = sqlite3.connect(_sqlite_file(engine))
        try:
            with target:
                source.backup(target)  # replaces every page of the target
        finally:
            target.close()
            source.close()
        return
    if engine.dialect.name == "postgresql":
        if force:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        args, env = _pg_command(engine, "pg_restore")
        _run([*args, "--no-owner", "--exit-on-error", "--single-transaction", str(path)], env)
        return
    raise BackupError(f"restores into {engine.dialect.name} are not supported")


@group.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def create_command(path: Path) -> None:
    """Write a consistent backup of the database to PATH."""
    if path.exists():
        raise click.ClickException(f"{path} already exists; choose a new file")
    try:
        create(db.engine, path)
    except BackupError as exc:
        path.unlink(missing_ok=True)
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {path} ({path.stat().st_size} bytes)")


@group.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already has tables.")
def restore_command(path: Path, force: bool) -> None:
    """Restore PATH into the configured (empty) database."""
    db.session.remove()
    try:
        restore(db.engine, path, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored {path}")
