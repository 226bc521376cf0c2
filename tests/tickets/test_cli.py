from datetime import timedelta

from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from portal.tickets.models import Ticket, TicketStatus
from portal.timeutil import now_utc
from tests.tickets.util import make_world, resolved_ticket


def test_followups_job_is_idempotent_for_a_date(runner: FlaskCliRunner, session: Session) -> None:
    world = make_world(session)
    ticket = resolved_ticket(session, world, now=now_utc() - timedelta(days=20))
    session.commit()
    day = (now_utc() + timedelta(days=1)).strftime("%Y-%m-%d")
    first = runner.invoke(args=["tickets", "followups", "--date", day])
    assert first.exit_code == 0, first.output
    assert "1 closed, 1 recheck prompts" in first.output
    again = runner.invoke(args=["tickets", "followups", "--date", day])
    assert "0 closed, 0 recheck prompts" in again.output
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == TicketStatus.CLOSED


def test_stats_command_prints_the_figures(runner: FlaskCliRunner, session: Session) -> None:
    world = make_world(session, code="CLI")
    for hours in (1, 2, 3, 4, 5):
        resolved_ticket(session, world, now=now_utc() - timedelta(days=1), hours=hours)
    session.commit()
    result = runner.invoke(args=["tickets", "stats", "--community", "cli", "--months", "2"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("plumbing_electric"))
    assert line.split()[1:2] == ["5"]
    assert "3.00" in line
    assert "too few" in result.output  # the other categories
    missing = runner.invoke(args=["tickets", "stats", "--community", "NOPE"])
    assert missing.exit_code != 0
