"""Clock helpers: UTC in the database, the community's zone on screen."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


def now_utc() -> datetime:
    """The current instant, timezone-aware UTC."""
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
