"""The contact rules: quiet hours, caps over messages and logged calls/visits, holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.notify import policy
from portal.notify.models import ContactAttempt
from tests.notify.helpers import SHANGHAI_1030, make_world

TZ = ZoneInfo("Asia/Shanghai")


def _at(hour: int, minute: int = 0, day: int = 20) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).astimezone(UTC)


def test_quiet_hours_bounds() -> None:
    assert not policy.in_quiet_hours(_at(8, 0), TZ)
    assert not policy.in_quiet_hours(_at(20, 59), TZ)
    assert policy.in_quiet_hours(_at(21, 0), TZ)
    assert policy.in_quiet_hours(_at(7, 59), TZ)
    assert policy.quiet_hours_end(_at(22, 30), TZ) == _at(8, 0, day=21)
    assert policy.quiet_hours_end(_at(6, 0), TZ) == _at(8, 0)
    assert policy.quiet_hours_end(_at(12, 0), TZ) == _at(12, 0)


def test_planned_call_in_quiet_hours_is_refused(session: Session) -> None:
    world = make_world(session)
    decision = policy.check_contact(
        session,
        unit_id=world.unit.id,
        community_tz=TZ,
        channel="phone",
        category="money",
        at=_at(21, 30),
        planned=True,
    )
    assert (decision.allowed, decision.reason) == (False, "quiet_hours")
    assert decision.defer_until == _at(8, 0, day=21)


def test_call_recorded_after_the_fact_in_quiet_hours_is_flagged(session: Session) -> None:
    world = make_world(session)
    attempt = policy.record_contact_attempt(
        session,
        unit_id=world.unit.id,
        channel="phone",
        category="money",
        at=_at(21, 30),
        source_type="collections_contact",
        source_id=7,
    )
    assert (attempt.flagged, attempt.flag_reason) == (True, "quiet_hours")


def test_quiet_hours_apply_to_service_messages_too(session: Session) -> None:
    world = make_world(session)
    decision = policy.check_contact(
        session,
        unit_id=world.unit.id,
        community_tz=TZ,
        channel="sms",
        category="service",
        at=_at(23, 0),
    )
    assert not decision.allowed
    assert decision.reason == "quiet_hours"


def test_letters_wait_in_the_print_queue_at_any_hour(session: Session) -> None:
    world = make_world(session)
    assert policy.check_contact(
        session,
        unit_id=world.unit.id,
        community_tz=TZ,
        channel="letter",
        category="legal",
        at=_at(23, 0),
    ).allowed


def test_calls_and_visits_count_with_messages_against_the_weekly_cap(session: Session) -> None:
    world = make_world(session)
    channels = ["phone", "sms", "visit", "wechat", "email", "posted", "phone"]
    for n, channel in enumerate(channels):  # 7 contacts, a channel at most every 3 days
        at = _at(10) + timedelta(hours=n * 2) if channel != "phone" or n == 0 else _at(10)
        policy.record_contact_attempt(
            session,
            unit_id=world.unit.id,
            channel=channel,
            category="money",
            at=_at(10, 0) + timedelta(minutes=10 * n) if n < 6 else at + timedelta(days=3),
            source_type="test",
            source_id=n,
        )
    decision = policy.check_contact(
        session,
        unit_id=world.unit.id,
        community_tz=TZ,
        channel="sms",
        category="money",
        at=_at(10) + timedelta(days=4),
    )
    assert not decision.allowed
    assert decision.reason == "cap_weekly"
    assert decision.defer_until == _at(10) + timedelta(days=7)


def test_hold_rule() -> None:
    assert not policy.check_hold(category="money", amount_fen=0, held_fen=100).allowed
    assert policy.check_hold(category="money", amount_fen=50, held_fen=100).allowed
    assert policy.check_hold(category="service", amount_fen=0, held_fen=100).allowed
    assert policy.check_hold(category="money", amount_fen=0, held_fen=0).allowed


CHANNELS = st.sampled_from(["sms", "wechat", "email", "phone", "visit", "inbox", "letter"])
EVENTS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=60 * 24 * 20),
        CHANNELS,
        st.sampled_from(["money", "money", "service"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=EVENTS)
def test_caps_and_quiet_hours_hold_over_random_events(session: Session, events: list) -> None:
    """Whatever is attempted, in whatever order: what the policy lets through (planned, at
    the instant it allows) never breaks quiet hours or a cap."""
    world = make_world(session) if not hasattr(session, "_world") else session._world
    session._world = world  # type: ignore[attr-defined]
    session.execute(delete(ContactAttempt).where(ContactAttempt.unit_id == world.unit.id))
    start = SHANGHAI_1030
    for minutes, channel, category in sorted(events):
        wanted = start + timedelta(minutes=minutes)
        decision = policy.check_contact(
            session,
            unit_id=world.unit.id,
            community_tz=TZ,
            channel=channel,
            category=category,
            at=wanted,
            planned=True,
        )
        at = wanted if decision.allowed else decision.defer_until
        assert at is not None
        assert at >= wanted
        again = policy.check_contact(
            session,
            unit_id=world.unit.id,
            community_tz=TZ,
            channel=channel,
            category=category,
            at=at,
            planned=True,
        )
        assert again.allowed, (channel, category, at, again)
        if channel != "inbox":
            policy.record_contact_attempt(
                session,
                unit_id=world.unit.id,
                channel=channel,
                category=category,
                at=at,
                source_type="test",
                source_id=None,
                community_tz=TZ,
            )
    rows = session.scalars(
        select(ContactAttempt).where(ContactAttempt.unit_id == world.unit.id)
    ).all()
    assert not any(r.flagged for r in rows)
    for r in rows:
        if r.channel != "letter":
            assert not policy.in_quiet_hours(r.at, TZ)
    money = sorted(
        (r for r in rows if r.category == "money" and r.channel in policy.CAPPED_CHANNELS),
        key=lambda r: r.at,
    )
    for i, first in enumerate(money):
        window = [r for r in money[i:] if r.at - first.at < policy.WEEK_WINDOW]
        assert len(window) <= policy.WEEK_LIMIT
        same = [
            r
            for r in window
            if r.channel == first.channel and r.at - first.at < policy.CHANNEL_WINDOW
        ]
        assert len(same) <= policy.CHANNEL_LIMIT
