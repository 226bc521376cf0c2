"""The demo's feedback story: a published annual survey, an open pulse survey the demo owners
have not answered, complaints across categories, recovery tasks, nothing after now."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.billing.models import Bill
from portal.communities import service as communities
from portal.communities.models import Unit
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
        # The scatter of satisfaction against collection by building tells a story: the
        # buildings owners rate lower also collect worse.
        collected = {
            b: (int(paid) / int(billed))
            for b, billed, paid in s.execute(
                select(
                    Unit.building_id,
                    func.sum(Bill.amount_fen),
                    func.sum(Bill.amount_fen - Bill.outstanding_fen),
                )
                .join(Unit, Unit.id == Bill.unit_id)
                .group_by(Unit.building_id)
            )
        }
        satisfied = dict(
            s.execute(
                select(SurveyResponse.building_id, func.avg(SurveyResponse.mean_x100))
                .where(SurveyResponse.survey_id == annual.id)
                .group_by(SurveyResponse.building_id)
                .having(func.count(SurveyResponse.id) >= 5)
            ).all()
        )
        assert len(satisfied) >= 2
        by_satisfaction = sorted(satisfied, key=lambda b: satisfied[b])
        by_collection = sorted(satisfied, key=lambda b: collected[b])
        assert by_satisfaction == by_collection
        worst, best = by_satisfaction[0], by_satisfaction[-1]
        assert satisfied[best] - satisfied[worst] >= 100  # a point or more on the 1-5 scale
        assert collected[best] - collected[worst] >= 0.05  # five points of collection rate
