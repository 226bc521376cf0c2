"""Races on PostgreSQL: parallel submissions on one line make one dispute; parallel accepts
post one credit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.billing import ledger
from portal.billing.models import JournalEntry
from portal.disputes import decisions, intake
from portal.disputes.models import Dispute
from portal.errors import Conflict
from portal.extensions import db
from tests.disputes.helpers import make_world
from tests.factories import NOW

pytestmark = pytest.mark.pg
WORKERS = 8


def _race(app: Flask, work: Callable[[Session], None]) -> list[str]:
    barrier = threading.Barrier(WORKERS)
    engine = db.engine

    def attempt(_: int) -> str:
        with app.app_context(), Session(engine) as session:
            barrier.wait()
            try:
                work(session)
                session.commit()
            except Conflict:
                session.rollback()
                return "conflict"
            return "ok"

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(attempt, range(WORKERS)))


def test_parallel_submissions_make_one_dispute(app: Flask, session: Session) -> None:
    world = make_world(session)
    session.commit()
    owner_id, line_id = world.owner.id, world.line(0).id

    def submit(s: Session) -> None:
        intake.open_dispute(
            s,
            owner=s.get(User, owner_id),
            target_type="bill_line",
            target_id=line_id,
            reason="wrong_area",
            statement="面积有误，请核实",
            requested_outcome="credit",
            requested_amount_fen=1_000,
            now=NOW,
        )

    results = _race(app, submit)
    assert results.count("ok") == 1
    assert results.count("conflict") == WORKERS - 1
    assert session.scalar(select(func.count(Dispute.id))) == 1


def test_parallel_accepts_post_one_credit(app: Flask, session: Session) -> None:
    world = make_world(session)
    dispute = intake.open_dispute(
        session,
        owner=world.owner,
        target_type="bill_line",
        target_id=world.line(0).id,
        reason="wrong_area",
        statement="面积有误，请核实",
        requested_outcome="credit",
        requested_amount_fen=1_000,
        now=NOW,
    )
    proposal = decisions.propose(
        session,
        dispute=dispute,
        actor=world.finance,
        kind="credit",
        body="减免",
        amount_fen=1_000,
        now=NOW,
    )
    session.commit()
    dispute_id, proposal_id, owner_id = dispute.id, proposal.id, world.owner.id

    def accept(s: Session) -> None:
        decisions.accept_proposal(
            s,
            dispute=s.get(Dispute, dispute_id),
            owner=s.get(User, owner_id),
            proposal_id=proposal_id,
            now=NOW,
        )

    results = _race(app, accept)
    assert results.count("ok") == 1
    session.expire_all()
    adjustments = session.scalar(
        select(func.count(JournalEntry.id)).where(JournalEntry.kind == "adjustment")
    )
    assert adjustments == 1
    assert session.get(Dispute, dispute_id).credited_fen == 1_000
    assert ledger.check(session).ok
