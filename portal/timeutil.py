"""Clock helpers: UTC in the database, the community's zone on screen.

The clock is a setting: `CLOCK_NOW` (an aware datetime or an ISO-8601 string) pins what
`now_utc()` answers inside an app context. Tests pin it so that no test depends on the day it
runs; production never sets it (config refuses it there).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from portal.errors import DomainError

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


def parse_instant(value: datetime | str) -> datetime:
    """An aware UTC instant from a datetime or an ISO-8601 string (naive refused)."""
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError("naive datetime: give a UTC offset, e.g. 2026-11-20T10:00+08:00")
    return instant.astimezone(UTC)


def now_utc() -> datetime:
    """The current instant, timezone-aware UTC (the app's pinned clock when one is set)."""
    if has_app_context():
        pinned = current_app.config.get("CLOCK_NOW")
        if pinned:
            return parse_instant(pinned)
    return datetime.now(UTC)


# Dates users and staff type are bounded to a sane window: nothing this portal records
# (payments, spending, visits, promises, votes, notices) lies before 2000 or more than ten
# years ahead, and "9999-12-31" only ever arrives as a probe or a typo.
EARLIEST_DATE = date(2000, 1, 1)
YEARS_AHEAD = 10


def date_window(today: date | None = None) -> tuple[date, date]:
    """The first and last date accepted from a form or a JSON body."""
    today = today or local_today()
    return EARLIEST_DATE, date(today.year + YEARS_AHEAD, 12, 31)


def in_date_window(value: date | datetime, today: date | None = None) -> bool:
    """Whether a typed date (or the local date of a typed instant) lies in date_window()."""
    day = value.date() if isinstance(value, datetime) else value
    first, last = date_window(today)
    return first <= day <= last


def date_window_message(today: date | None = None) -> str:
    """The error shown for a date outside the window."""
    first, last = date_window(today)
    return str(_l("日期须在 %(first)s 至 %(last)s 之间", first=first, last=last))


D = TypeVar("D", date, datetime)


def check_date(value: D, *, field: str, today: date | None = None) -> D:
    """The date (or instant) unchanged if it lies in the window, else DomainError(field).

    For dates parsed from JSON bodies and free text; WTForms fields use forms.DateWindow."""
    if not in_date_window(value, today):
        raise DomainError(date_window_message(today), field=field, code="out_of_range")
    return value


def zone(name: str | None) -> ZoneInfo:
    """A ZoneInfo for a community's zone name, Asia/Shanghai when unset."""
    return ZoneInfo(name) if name else DEFAULT_TZ


def to_local(instant: datetime, tz: ZoneInfo = DEFAULT_TZ) -> datetime:
    """An aware instant seen in a local zone."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime")
    return instant.astimezone(tz)


def local_today(tz: ZoneInfo = DEFAULT_TZ, now: datetime | None = None) -> date:
    """Today's calendar date in a zone (what billing periods and due dates use)."""
    return to_local(now or now_utc(), tz).date()
