"""The demo seed makes disputes in every state, balanced in the ledger, quickly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.billing import ledger
from portal.disputes import overview
from portal.disputes.models import Dispute, DisputeStatus, ProposalStatus
from portal.extensions import db


@pytest.mark.parametrize(
    "now",
    [datetime(2026, 11, 20, 2, 0, tzinfo=UTC), datetime(2028, 3, 1, 15, 30, tzinfo=UTC)],
    ids=["autumn", "spring"],
)
def test_demo_disputes_cover_every_state(make_app: Callable[..., Flask], now: datetime) -> None:
    app = make_app(CLOCK_NOW=now)  # the demo tells the same story whatever day it is seeded
    result = app.test_cli_runner().invoke(
        args=["demo", "seed", "--communities", "1", "--units", "60", "--months", "4"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        _check_disputes(result.output, db.session)


def _check_disputes(output: str, session: Session) -> None:
    result_output = output
    assert "disputes:" in result_output
    disputes = session.scalars(select(Dispute)).all()
    assert {d.status for d in disputes} == set(DisputeStatus)
    outcomes = {d.outcome for d in disputes if d.outcome}
    assert {"upheld", "partly_upheld", "explained", "not_upheld", "withdrawn"} <= outcomes
    assert {d.target_type for d in disputes} == {"bill_line", "spending", "fee_standard", "service"}
    assert any(p.status == ProposalStatus.AWAITING_APPROVAL for d in disputes for p in d.proposals)
    assert sum(d.credited_fen for d in disputes) > 0
    for d in disputes:  # timelines run forward
        times = [e.at for e in d.events]
        assert times == sorted(times), d.reference
    assert ledger.check(session).ok
    stats = overview.dispute_stats(session, community_id=disputes[0].community_id)
    assert stats["too_few"] is False
    demo_owner = [d for d in disputes if d.owner.username == "demo-owner"]
    assert demo_owner
    assert demo_owner[0].status == DisputeStatus.PROPOSED
