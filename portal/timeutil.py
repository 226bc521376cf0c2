"""Clock helpers: UTC in the database, the community's zone on screen.

The clock is a setting: `CLOCK_NOW` (an aware datetime or an ISO-8601 string) pins what
`now_utc()` answers inside an app context. Tests pin it so that no test depends on the day it
runs; production never sets it (config refuses it there).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

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
