"""`flask db upgrade` builds exactly the schema the models describe, and goes back down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from portal import ROOT, create_app
from portal.extensions import db
from tests.conftest import TEST_SETTINGS, server_database_url


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    url = server_database_url()
    if not url:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    base = make_url(url)
    name = f"{base.database}_migrations"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_matches_models_and_downgrades(empty_database_url: str) -> None:
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    directory = str(ROOT / "migrations")
    with app.app_context():
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == []
        downgrade(directory=directory, revision="base")
        with db.engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_holds_revision_backfills_open_bill_line_disputes(empty_database_url: str) -> None:
    """0006holds gives every dispute open at upgrade time the hold it had implicitly."""
    from datetime import timedelta

    from portal.billing.models import LineHold
    from portal.disputes.models import Dispute
    from tests import factories
    from tests.factories import NOW

    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    directory = str(ROOT / "migrations")
    with app.app_context():
        # The rows are made with today's models at head (older schemas lack today's columns),
        # then the schema goes back to 0005 and up through 0006, whose backfill is the subject.
        upgrade(directory=directory)
        unit, bills = factories.make_billed_unit(db.session, periods=("2026-08", "2026-09"))
        owner = factories.make_user(db.session, role="owner", unit=unit)
        lines = [bill.lines[0] for bill in bills]

        def dispute(line_id: int, status: str, outcome: str, amount: int | None) -> int:
            row = Dispute(
                community_id=unit.community_id,
                unit_id=unit.id,
                owner_id=owner.id,
                target_type="bill_line",
                target_id=line_id,
                bill_line_id=line_id,
                reason="other",
                statement="金额有误",
                requested_outcome=outcome,
                requested_amount_fen=amount,
                status=status,
                open_key=None if status == "closed" else f"bill_line:{line_id}",
                credited_fen=0,
                closing_note="",
                created_at=NOW,
                updated_at=NOW,
                first_response_due_on=NOW.date() + timedelta(days=2),
                proposal_due_on=NOW.date() + timedelta(days=10),
            )
            db.session.add(row)
            db.session.flush()
            return row.id

        line_ids = [line.id for line in lines]
        unit_id = unit.id
        credit = dispute(lines[0].id, "under_review", "credit", 5_000)
        correction = dispute(lines[1].id, "escalated", "correction", 7_000)
        dispute(lines[1].id, "closed", "credit", 3_000)
        db.session.commit()
        db.session.remove()
        downgrade(directory=directory, revision="0005disputes")
        upgrade(directory=directory, revision="0006holds")
        rows = {
            h.source_id: (h.bill_line_id, h.unit_id, h.requested_fen, h.released_at)
            for h in db.session.scalars(select(LineHold))
        }
        assert rows == {
            credit: (line_ids[0], unit_id, 5_000, None),
            correction: (line_ids[1], unit_id, None, None),
        }
        db.session.remove()
        downgrade(directory=directory, revision="0005disputes")
        with db.engine.connect() as conn:
            assert "line_holds" not in inspect(conn).get_table_names()
        downgrade(directory=directory, revision="base")
        db.engine.dispose()
