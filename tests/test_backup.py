"""`flask backup create` / `flask backup restore`: a restore into an empty database holds the
same books — ledger balances, every community's publication log head and verification, and
the audit chain — on SQLite always, and on PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, make_url, select, text

from portal import create_app
from portal.audit import service as audit
from portal.audit.models import AuditEntry
from portal.billing import ledger
from portal.billing.models import Bill, Posting
from portal.communities import service as communities
from portal.extensions import db
from portal.publication import service as publication
from portal.publication.models import PublicationEntry
from tests.conftest import TEST_SETTINGS, seeded_demo_app

SEED = ("--communities", "2", "--units", "10", "--months", "4")


def fingerprint(app: Flask) -> dict[str, Any]:
    with app.app_context():
        session = db.session
        check = ledger.check(session)
        chain = audit.verify(session)
        heads = {}
        for community in communities.list_communities(session, public_only=False):
            result = publication.verify(session, community)
            head = session.scalar(
                select(PublicationEntry.hash)
                .where(PublicationEntry.community_id == community.id)
                .order_by(PublicationEntry.seq.desc())
                .limit(1)
            )
            heads[community.code] = (result.ok, result.entries, head)
        out = {
            "accounts": sorted(
                session.execute(
                    select(Posting.account_id, func.sum(Posting.amount_fen)).group_by(
                        Posting.account_id
                    )
                ).all()
            ),
            "outstanding": session.scalar(select(func.sum(Bill.outstanding_fen))),
            "ledger_ok": (check.ok, check.entries),
            "publication": heads,
            "audit": (
                chain.ok,
                chain.entries,
                session.scalar(select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)),
            ),
        }
        session.remove()
        db.engine.dispose()
        return out


def _round_trip(source: Flask, target: Flask, backup: Path) -> None:
    before = fingerprint(source)
    assert before["ledger_ok"][0]
    assert before["ledger_ok"][1] > 0
    assert before["audit"][0]
    assert before["audit"][1] > 0
    assert all(ok and entries > 0 for ok, entries, _ in before["publication"].values())

    made = source.test_cli_runner().invoke(args=["backup", "create", str(backup)])
    assert made.exit_code == 0, made.output
    again = source.test_cli_runner().invoke(args=["backup", "create", str(backup)])
    assert again.exit_code != 0
    assert "already exists" in again.output

    restored = target.test_cli_runner().invoke(args=["backup", "restore", str(backup)])
    assert restored.exit_code == 0, restored.output
    assert fingerprint(target) == before

    # The target now has data: a second restore is refused, and --force replaces it.
    refused = target.test_cli_runner().invoke(args=["backup", "restore", str(backup)])
    assert refused.exit_code != 0
    assert "not empty" in refused.output
    forced = target.test_cli_runner().invoke(args=["backup", "restore", "--force", str(backup)])
    assert forced.exit_code == 0, forced.output
    assert fingerprint(target) == before


def _app(url: str, root: Path) -> Flask:
    return create_app(
        {**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(root / "up")}
    )


def test_sqlite_backup_restores_the_same_books(tmp_path: Path) -> None:
    template = tmp_path / "template.db"
    setup = _app(f"sqlite:///{template}", tmp_path)
    with setup.app_context():
        db.create_all()
        db.engine.dispose()
    with seeded_demo_app(f"sqlite:///{template}", tmp_path, *SEED) as source:
        target = _app(f"sqlite:///{tmp_path / 'restored.db'}", tmp_path)
        _round_trip(source, target, tmp_path / "clearfee.backup")


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    target = _app(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database")
    result = target.test_cli_runner().invoke(args=["backup", "restore", str(bogus)])
    assert result.exit_code != 0
    assert "not a SQLite backup" in result.output
    missing = target.test_cli_runner().invoke(args=["backup", "restore", str(tmp_path / "no")])
    assert missing.exit_code != 0
    assert "no such file" in missing.output


@pytest.fixture
def session_url(_session_database: str) -> str:
    return _session_database


@pytest.mark.pg
@pytest.mark.skipif(
    not (shutil.which("pg_dump") and shutil.which("pg_restore")),
    reason="needs pg_dump and pg_restore",
)
def test_postgresql_backup_restores_the_same_books(session_url: str, tmp_path: Path) -> None:
    base = make_url(session_url)
    restore_name = f"{base.database}_restore"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{restore_name}"'))
        conn.execute(text(f'CREATE DATABASE "{restore_name}"'))
    try:
        with seeded_demo_app(session_url, tmp_path, *SEED) as source:
            url = base.set(database=restore_name).render_as_string(hide_password=False)
            target = _app(url, tmp_path)
            _round_trip(source, target, tmp_path / "clearfee.dump")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{restore_name}" WITH (FORCE)'))
        admin.dispose()
