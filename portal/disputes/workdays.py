"""Working days for dispute response targets: Monday to Friday, minus listed public holidays.

The holiday list is a plain constant (the State Council publishes each year's schedule in
November). Make-up working weekends (调休上班) are not modelled: counting them as rest days
only ever gives owners a later, never an earlier, deadline than the rule, so the error is
on the safe side for the company's SLA and harmless for the owner.
"""

from __future__ import annotations

from datetime import date, timedelta

# Statutory holidays that fall on weekdays (国务院办公厅 2026 年部分节假日安排).
HOLIDAYS: frozenset[date] = frozenset(
    {
        date(2026, 1, 1),
        date(2026, 1, 2),
        *(date(2026, 2, d) for d in (16, 17, 18, 19, 20, 23)),
        date(2026, 4, 6),
        *(date(2026, 5, d) for d in (1, 4, 5)),
        date(2026, 6, 19),
        date(2026, 9, 25),
        *(date(2026, 10, d) for d in (1, 2, 5, 6, 7)),
    }
)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a listed public holiday."""
    return day.isoweekday() <= 5 and day not in HOLIDAYS


def add_working_days(start: date, days: int) -> date:
    """The `days`-th working day after `start` (the day of submission does not count)."""
    day = start
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count
