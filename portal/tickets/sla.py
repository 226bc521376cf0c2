"""SLA clocks: when a target falls due, counting only working hours where configured."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Defaults when a community has set nothing (minutes): urgent 0.5 h / 4 h, normal 4 h / 48 h.
DEFAULT_TARGETS: dict[str, tuple[int, int]] = {"urgent": (30, 240), "normal": (240, 2880)}
APPROACHING_PERCENT = 75  # highlight a ticket once this share of its SLA window is used


@dataclass(frozen=True)
class WorkingHours:
    """Local working hours: minutes after midnight and ISO weekdays ("12345" = Mon-Fri)."""

    start_min: int = 510
    end_min: int = 1080
    days: str = "1234567"

    def is_workday(self, weekday: int) -> bool:
        return str(weekday) in self.days


def add_working_minutes(
    start: datetime, minutes: int, tz: ZoneInfo, hours: WorkingHours | None
) -> datetime:
    """The instant `minutes` of working time after `start` (plain wall time when hours is None)."""
    if start.tzinfo is None:
        raise ValueError("naive datetime")
    if hours is None or not hours.days:
        return start + timedelta(minutes=minutes)
    local = start.astimezone(tz)
    remaining = timedelta(minutes=minutes)
    day = local.date()
    for _ in range(3700):  # ten years of calendar days bounds any sane target
        if hours.is_workday(day.isoweekday()):
            open_at = datetime.combine(day, _clock(hours.start_min), tz)
            close_at = datetime.combine(day, _clock(hours.end_min), tz)
            begin = max(open_at, local) if day == local.date() else open_at
            if begin < close_at:
                available = close_at - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(UTC)
                remaining -= available
        day += timedelta(days=1)
    raise ValueError("SLA target too far in the future")


def working_seconds_between(
    start: datetime, end: datetime, tz: ZoneInfo, hours: WorkingHours | None
) -> int:
    """Working seconds in [start, end) (wall seconds when hours is None)."""
    if end <= start:
        return 0
    if hours is None or not hours.days:
        return int((end - start).total_seconds())
    total = timedelta()
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        if hours.is_workday(day.isoweekday()):
            open_at = datetime.combine(day, _clock(hours.start_min), tz)
            close_at = datetime.combine(day, _clock(hours.end_min), tz)
            lo, hi = max(open_at, start), min(close_at, end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return int(total.total_seconds())


def _clock(minute: int) -> time:
    if minute >= 1440:
        return time(23, 59, 59, 999999)
    return time(minute // 60, minute % 60)


def sla_state(
    now: datetime, created_at: datetime, due_at: datetime, done_at: datetime | None
) -> str:
    """ "met"/"breached" once done; while open "overdue", "approaching" (≥ 75 % used) or "ok"."""
    if done_at is not None:
        return "met" if done_at <= due_at else "breached"
    if now > due_at:
        return "overdue"
    window = int((due_at - created_at).total_seconds())
    used = int((now - created_at).total_seconds())
    if window > 0 and used * 100 >= window * APPROACHING_PERCENT:
        return "approaching"
    return "ok"
