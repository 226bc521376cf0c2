"""The demo tickets: realistic, and the statistics match a hand count from the event log."""

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import domains
from portal.demo import service as demo
from portal.tickets import aftercare, queries, stats
from portal.tickets import demo as ticket_demo
from portal.tickets.models import Ticket, TicketFollowup, TicketRating
from portal.timeutil import now_utc, to_local, zone


def _percentile(values: list[int], p: Fraction) -> Decimal:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    lo = position.numerator // position.denominator
    hi = min(lo + 1, len(ordered) - 1)
    frac = position - lo
    return Decimal(ordered[lo]) + (Decimal(ordered[hi]) - Decimal(ordered[lo])) * (
        Decimal(frac.numerator) / Decimal(frac.denominator)
    )


def _hours(seconds: list[int], p: Fraction) -> Decimal | None:
    if len(seconds) < 5:
        return None
    return (_percentile(seconds, p) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _share(part: int, whole: int) -> Decimal | None:
    if whole < 5:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@pytest.fixture
def seeded(session: Session, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The base demo world plus only the ticket demo (other domains' demos are theirs)."""
    monkeypatch.setattr(domains, "modules", lambda name: [ticket_demo] if name == "demo" else [])
    now = now_utc()
    result = demo.seed(session, communities_count=2, units_per_community=60, months=12, now=now)
    session.commit()
    return result, now


def test_demo_tickets_are_realistic(session: Session, seeded: Any) -> None:
    result, now = seeded
    assert any(line.startswith("tickets:") for line in result.lines)
    statuses = dict(
        session.execute(select(Ticket.status, func.count(Ticket.id)).group_by(Ticket.status)).all()
    )
    total = sum(statuses.values())
    assert total > 300
    assert statuses.get("closed", 0) > total * 0.8
    assert statuses.get("cancelled", 0) > 0
    assert statuses.get("submitted", 0) >= 3  # fresh ones waiting on the board
    periods = session.scalars(select(func.count(func.distinct(Ticket.period)))).one()
    assert periods >= 13  # a year and the current month
    assert session.scalar(select(func.count(Ticket.id)).where(Ticket.reopen_count > 0)) > 0
    # Ratings follow timeliness: on-time repairs are rated higher than late ones.
    rows = session.execute(
        select(Ticket.resolution_met, func.avg(TicketRating.score))
        .join(TicketRating, TicketRating.ticket_id == Ticket.id)
        .where(Ticket.reopen_count == 0, Ticket.resolution_met.is_not(None))
        .group_by(Ticket.resolution_met)
    ).all()
    means = {bool(met): Decimal(str(avg)) for met, avg in rows}
    assert means[True] > means[False] + Decimal("0.7")
    # Most repairs are on time, with a long tail.
    on_time = session.scalar(select(func.count(Ticket.id)).where(Ticket.resolution_met.is_(True)))
    late = session.scalar(select(func.count(Ticket.id)).where(Ticket.resolution_met.is_(False)))
    assert on_time > 4 * late > 0
    # demo-owner has something to rate, something in progress and a recheck to answer.
    from portal.accounts.models import User

    owner = session.scalar(select(User).where(User.username == "demo-owner"))
    mine = queries.owner_tickets(session, user=owner)
    assert any(t.status == "resolved" and t.rating is None for t in mine)
    assert any(t.is_open and t.assignee and t.assignee.username == "demo-engineer" for t in mine)
    assert aftercare.pending_rechecks(session, user=owner)
    assert session.scalar(
        select(func.count(TicketFollowup.id)).where(TicketFollowup.kind == "service_recovery")
    )
    # The daily job finds nothing left to do for today (the seed already ran it).
    today = to_local(now, zone("Asia/Shanghai")).date()
    again = aftercare.run_followups(session, day=today, now=now)
    assert (again.closed, again.rechecks) == (0, 0)


def test_statistics_match_a_hand_count_from_the_event_log(session: Session, seeded: Any) -> None:
    result, now = seeded
    for community in result.communities:
        report = stats.responsiveness(session, community=community, months=12, now=now)
        tickets = session.scalars(
            select(Ticket).where(
                Ticket.community_id == community.id,
                Ticket.period >= report.period_from,
                Ticket.period <= report.period_to,
            )
        ).all()
        groups: dict[Any, list[Ticket]] = defaultdict(list)
        for ticket in tickets:
            groups[ticket.category_id].append(ticket)
            groups["all"].append(ticket)
        by_category = {row.category.id: row.figures for row in report.categories}
        for key, members in groups.items():
            figure = report.overall if key == "all" else by_category[key]
            assert figure.tickets == len(members)
            first, resolution, decided, met, resolved, reopened, scores = [], [], 0, 0, 0, 0, []
            for ticket in members:
                if ticket.status == "cancelled":
                    continue
                events = ticket.events
                responses = [
                    e.at
                    for e in events
                    if e.kind in ("acknowledged", "assigned", "started", "resolved")
                ]
                answered = min(responses) if responses else None
                if answered:
                    first.append(int((answered - ticket.created_at).total_seconds()))
                fixes = [e.at for e in events if e.kind == "resolved"]
                fixed_now = ticket.status in ("resolved", "closed")
                if fixes and fixed_now:
                    resolution.append(int((max(fixes) - ticket.created_at).total_seconds()))
                first_ok = answered is not None and answered <= ticket.first_response_due_at
                res_ok = fixed_now and max(fixes) <= ticket.resolution_due_at
                if (
                    fixed_now
                    or ticket.resolution_due_at < now
                    or (answered is not None and not first_ok)
                    or (answered is None and ticket.first_response_due_at < now)
                ):
                    decided += 1
                    met += bool(first_ok and res_ok)
                if fixes:
                    resolved += 1
                    reopened += any(e.kind == "reopened" for e in events)
                rating = session.scalar(
                    select(TicketRating.score).where(TicketRating.ticket_id == ticket.id)
                )
                if rating is not None:
                    scores.append(rating)
            where = (community.code, key)
            assert figure.median_first_response_h == _hours(first, Fraction(1, 2)), where
            assert figure.p90_first_response_h == _hours(first, Fraction(9, 10)), where
            assert figure.median_resolution_h == _hours(resolution, Fraction(1, 2)), where
            assert figure.p90_resolution_h == _hours(resolution, Fraction(9, 10)), where
            assert figure.sla_compliance == _share(met, decided), where
            assert figure.reopen_rate == _share(reopened, resolved), where
            expected_rating = (
                (Decimal(sum(scores)) / Decimal(len(scores))).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                )
                if len(scores) >= 5
                else None
            )
            assert figure.mean_rating == expected_rating, where
        open_now = sum(
            1
            for t in session.scalars(select(Ticket).where(Ticket.community_id == community.id))
            if t.status in ("submitted", "acknowledged", "assigned", "in_progress", "reopened")
        )
        assert report.overall.backlog == open_now


def test_seed_is_quick(session: Session, seeded: Any) -> None:
    result, _now = seeded
    line = next(line for line in result.lines if line.startswith("tickets:"))
    seconds = Decimal(line.rsplit(" in ", 1)[1].rstrip("s"))
    assert seconds < 10
