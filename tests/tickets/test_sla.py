from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.tickets.sla import WorkingHours, add_working_minutes, sla_state, working_seconds_between

SH = ZoneInfo("Asia/Shanghai")
OFFICE = WorkingHours(start_min=9 * 60, end_min=17 * 60, days="12345")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH).astimezone(UTC)


def test_wall_clock_without_working_hours() -> None:
    start = local(2026, 11, 20, 23, 0)
    assert add_working_minutes(start, 90, SH, None) == start + timedelta(minutes=90)


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (local(2026, 11, 20, 10, 0), 60, local(2026, 11, 20, 11, 0)),  # Friday morning
        (local(2026, 11, 20, 16, 30), 60, local(2026, 11, 23, 9, 30)),  # over the weekend
        (local(2026, 11, 21, 12, 0), 30, local(2026, 11, 23, 9, 30)),  # filed on Saturday
        (local(2026, 11, 19, 20, 0), 480, local(2026, 11, 20, 17, 0)),  # evening: next full day
        (local(2026, 11, 20, 7, 0), 0, local(2026, 11, 20, 9, 0)),  # clock starts at opening
        (local(2026, 11, 16, 9, 0), 48 * 60, local(2026, 11, 23, 17, 0)),  # six 8-hour days
    ],
)
def test_working_hours_examples(start: datetime, minutes: int, due: datetime) -> None:
    assert add_working_minutes(start, minutes, SH, OFFICE) == due


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2027, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    minutes=st.integers(min_value=1, max_value=20_000),
    start_min=st.integers(min_value=0, max_value=1380),
    length=st.integers(min_value=120, max_value=720),
    days=st.sets(st.sampled_from("1234567"), min_size=1),
)
def test_due_time_holds_exactly_the_working_minutes(
    start: datetime, minutes: int, start_min: int, length: int, days: set[str]
) -> None:
    hours = WorkingHours(start_min, min(1440, start_min + length), "".join(sorted(days)))
    due = add_working_minutes(start, minutes, SH, hours)
    assert due > start
    assert working_seconds_between(start, due, SH, hours) == minutes * 60
    # Nothing earlier would do: a minute less holds less working time.
    assert working_seconds_between(start, due - timedelta(minutes=1), SH, hours) < minutes * 60


def test_sla_state() -> None:
    t0 = local(2026, 11, 20, 8, 0)
    due = t0 + timedelta(hours=4)
    assert sla_state(t0 + timedelta(hours=1), t0, due, None) == "ok"
    assert sla_state(t0 + timedelta(hours=3), t0, due, None) == "approaching"
    assert sla_state(t0 + timedelta(hours=5), t0, due, None) == "overdue"
    assert sla_state(t0 + timedelta(hours=9), t0, due, t0 + timedelta(hours=4)) == "met"
    assert sla_state(t0 + timedelta(hours=9), t0, due, t0 + timedelta(hours=5)) == "breached"
