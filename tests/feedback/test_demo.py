"""The demo's feedback story: a published annual survey, an open pulse survey the demo owners
have not answered, complaints across categories, recovery tasks, nothing after now."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select

from portal.accounts.models import User
from portal.communities import service as communities
from portal.extensions import db
from portal.feedback import surveys
from portal.feedback.models import RecoveryTask, Survey, SurveyResponse
from portal.tickets.models import Ticket, TicketKind

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def test_demo_feedback_story(make_app: Callable[..., Flask]) -> None:
    app = make_app(CLOCK_NOW=NOW)
    result = app.test_cli_runner().invoke(
        args=["demo", "seed", "--communities", "1", "--units", "60", "--months", "6"]
    )
    assert result.exit_code == 0, result.output
    assert "feedback:" in result.output
    with app.app_context():
        s = db.session
        annual, pulse = s.scalars(select(Survey).order_by(Survey.id)).all()
        assert annual.status == "closed"
        assert annual.published_at is not None
        assert pulse.status == "open"
        assert surveys.results(s, survey=annual).responses >= 5
        owner = s.scalar(select(User).where(User.username == "demo-owner"))
        mine = surveys.owner_surveys(s, owner=owner, now=NOW)
        assert mine
        assert not any(o.answered for o in mine)
        assert communities.units_of(s, owner)
        categories = {
            t.category.code
            for t in s.scalars(select(Ticket).where(Ticket.kind == TicketKind.COMPLAINT))
        }
        assert len(categories) >= 5
        assert s.scalars(select(RecoveryTask)).first() is not None
        assert all(r.created_at <= NOW for r in s.scalars(select(SurveyResponse)))
        assert all(t.created_at <= NOW for t in s.scalars(select(RecoveryTask)))
        assert all(t.done_at is None or t.done_at <= NOW for t in s.scalars(select(RecoveryTask)))
