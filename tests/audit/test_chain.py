"""The audit trail is append-only in the database and hash-chained; tampering is reported."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from portal.audit import service as audit
from tests.factories import NOW


def _three(session: Session) -> None:
    for i in range(3):
        audit.record(
            session,
            actor_id=None,
            action=f"test.action{i}",
            target_type="thing",
            target_id=i,
            community_id=None,
            now=NOW + timedelta(seconds=i, microseconds=123),
            details={"amount_fen": 100 * i, "note": "中文", "when": NOW},
        )
    session.commit()


@contextmanager
def _triggers_off(session: Session) -> Iterator[None]:
    """What someone with direct database rights could do: take the triggers away."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
    else:
        session.execute(text("DROP TRIGGER audit_entries_no_update"))
        session.execute(text("DROP TRIGGER audit_entries_no_delete"))
    session.commit()
    try:
        yield
    finally:
        if dialect == "postgresql":
            session.execute(
                text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
            )
            session.commit()


def test_entries_chain_and_verify(session: Session, runner: FlaskCliRunner) -> None:
    _three(session)
    result = audit.verify(session)
    assert result.ok
    assert result.entries == 3
    out = runner.invoke(args=["audit", "verify"])
    assert out.exit_code == 0
    assert out.output.startswith("OK")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET action = 'nothing.happened' WHERE seq = 2",
        "DELETE FROM audit_entries WHERE seq = 3",
    ],
)
def test_update_and_delete_are_refused_by_the_database(session: Session, statement: str) -> None:
    _three(session)
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text(statement))
    session.rollback()
    assert audit.verify(session).entries == 3


def test_an_edit_behind_the_triggers_back_is_found(
    session: Session, runner: FlaskCliRunner
) -> None:
    _three(session)
    with _triggers_off(session):
        session.execute(text("UPDATE audit_entries SET target_id = 99 WHERE seq = 2"))
        session.commit()
        result = audit.verify(session)
        assert not result.ok
        assert result.broken_seq == 2
        assert result.reason == "content changed"
        out = runner.invoke(args=["audit", "verify"])
        assert out.exit_code == 1
        assert "BROKEN at seq 2" in out.output


def test_a_deleted_entry_is_found(session: Session) -> None:
    _three(session)
    with _triggers_off(session):
        session.execute(text("DELETE FROM audit_entries WHERE seq = 2"))
        session.commit()
        result = audit.verify(session)
    assert (result.ok, result.broken_seq) == (False, 2)
    assert "missing" in result.reason


def test_a_rewritten_chain_tail_is_found(session: Session) -> None:
    """Recomputing an edited entry's own hash still breaks the next link."""
    _three(session)
    with _triggers_off(session):
        entry = session.scalars(
            text("SELECT id FROM audit_entries WHERE seq = 2")  # type: ignore[arg-type]
        ).one()
        from portal.audit.models import AuditEntry

        row = session.get(AuditEntry, entry)
        row.details = {"amount_fen": 1}
        row.hash = audit.compute_hash(row)
        session.commit()
        result = audit.verify(session)
    assert (result.ok, result.broken_seq, result.reason) == (False, 3, "prev_hash does not match")
