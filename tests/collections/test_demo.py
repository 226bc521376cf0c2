"""The demo's collections: every tier and reason with contact histories, the owner whose overdue
repair gets a service-recovery task and no L2, one on a plan, one near limitation; and the
daily run on the demo is idempotent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select

from portal.collections import engine, signals
from portal.collections.models import (
    CollectionCase,
    CollectionContact,
    CollectionTask,
    PaymentPlan,
)
from portal.extensions import db
from portal.timeutil import DEFAULT_TZ, local_today
from tests.collections.helpers import snapshot

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def test_demo_collections_tell_every_story(make_app: Callable[..., Flask]) -> None:
    app = make_app(CLOCK_NOW=NOW)
    result = app.test_cli_runner().invoke(
        args=["demo", "seed", "--communities", "1", "--units", "150", "--months", "12"]
    )
    assert result.exit_code == 0, result.output
    assert "collections:" in result.output
    with app.app_context():
        s = db.session
        cases = s.scalars(select(CollectionCase)).all()
        assert {c.tier for c in cases} >= {"L1", "L2", "L3", "L4"}
        assert {c.reason or c.suggested_reason for c in cases} >= {
            "forgot",
            "dissatisfied",
            "hardship",
            "wilful",
        }
        assert any(c.near_limitation for c in cases)
        assert s.scalar(select(PaymentPlan).where(PaymentPlan.status == "active")) is not None
        l4 = next(c for c in cases if c.tier == "L4")
        channels = {
            c.channel
            for c in s.scalars(select(CollectionContact).where(CollectionContact.case_id == l4.id))
        }
        assert {"letter", "visit"} <= channels
        # The owner whose repair is overdue: a service-recovery task naming it, and no L2.
        unhappy = [
            c for c in cases if any(e["signal"] == "overdue_ticket" for e in c.evidence or [])
        ]
        assert unhappy
        for case in unhappy:
            tasks = s.scalars(select(CollectionTask).where(CollectionTask.case_id == case.id))
            kinds = {(t.kind, t.tier) for t in tasks}
            assert ("service_recovery", None) in kinds
            assert not any(k == "escalate" for k, _t in kinds)
            assert case.tier in ("none", "L1")
        for case in cases:
            if signals.open_service_dispute(s, unit_id=case.unit_id):
                assert case.tier in ("none", "L1")
        before = snapshot(s)
        engine.run_daily(s, day=local_today(DEFAULT_TZ, now=NOW), now=NOW)
        s.commit()
        assert snapshot(s) == before
