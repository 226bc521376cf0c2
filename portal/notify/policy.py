"""The lawful contact rules, in one place: every message and every staff call or visit passes.

- Quiet hours: nothing 21:00–08:00 in the community's zone. A message due then is deferred to
  08:00, never dropped; a planned call or visit then is refused; one recorded after the fact is
  kept and flagged.
- Frequency caps on money owed (not on service messages such as ticket updates or receipts):
  at most one contact per unit per channel in any 3 days, and at most 7 contacts of any kind in
  any 7 days per unit (the US Regulation F figure, 12 CFR 1006.14, the strictest public
  benchmark). Messages and logged calls/visits count together (`ContactAttempt`). The in-portal
  inbox and letters are not counted: an inbox message waits until the owner looks, and a letter
  is a document whose delivery the law relies on (the written notice, 催缴通知书).
- Holds: a money message whose payable amount is 0 while something is on hold under an open
  dispute is suppressed (reason `disputed`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.communities.models import Community, Unit
from portal.db import one_of
from portal.notify.models import Category, ContactAttempt, ContactChannel
from portal.timeutil import zone

QUIET_START = time(21, 0)
QUIET_END = time(8, 0)
CHANNEL_WINDOW = timedelta(days=3)
CHANNEL_LIMIT = 1
WEEK_WINDOW = timedelta(days=7)
WEEK_LIMIT = 7
CAPPED_CHANNELS = frozenset(
    {
        ContactChannel.SMS,
        ContactChannel.WECHAT,
        ContactChannel.EMAIL,
        ContactChannel.PHONE,
        ContactChannel.VISIT,
        ContactChannel.POSTED,
    }
)
# A letter waits in the print queue; it is posted by day, by a person who records it.
QUIET_EXEMPT = frozenset({ContactChannel.LETTER})


@dataclass(frozen=True)
class ContactDecision:
    """May this contact happen at `at`? If not: why, and from when it may (None: never)."""

    allowed: bool
    reason: str | None = None  # quiet_hours | cap_channel | cap_weekly | disputed | …
    defer_until: datetime | None = None
    flagged: bool = False  # it already happened, against a rule


ALLOWED = ContactDecision(True)


def in_quiet_hours(at: datetime, tz: ZoneInfo) -> bool:
    """True from 21:00 to 08:00 local time."""
    local = at.astimezone(tz).time()
    return local >= QUIET_START or local < QUIET_END


def quiet_hours_end(at: datetime, tz: ZoneInfo) -> datetime:
    """The 08:00 local that ends the quiet hours `at` falls in (`at` itself outside them)."""
    if not in_quiet_hours(at, tz):
        return at
    local = at.astimezone(tz)
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_END, tzinfo=tz).astimezone(at.tzinfo)


def _fits(times: list[datetime], at: datetime, window: timedelta, limit: int) -> bool:
    """Would one more contact at `at` keep every half-open window of `window` within limit?"""
    points = sorted([*times, at])
    for i in range(len(points) - limit):
        first, last = points[i], points[i + limit]
        if last - first < window and first <= at <= last:
            return False
    return True


def _earliest_fit(times: list[datetime], at: datetime, window: timedelta, limit: int) -> datetime:
    """The first instant ≥ at where one more contact fits (where a window frees up)."""
    if _fits(times, at, window, limit):
        return at
    for candidate in sorted(t + window for t in times if t + window > at):
        if _fits(times, candidate, window, limit):
            return candidate
    return max(times) + window  # unreachable: past the last contact everything fits


class AttemptIndex:
    """The money-contact attempts of many units, read in one query, for a batch of
    `check_contact` calls (queueing a billing run's messages): the same times `_attempt_times`
    would read unit by unit, for instants between `start` and `end`."""

    def __init__(
        self, session: Session, *, unit_ids: Iterable[int], start: datetime, end: datetime
    ):
        self.start, self.end = start, end
        self._by_unit: dict[int, list[tuple[str, datetime, int | None]]] = {}
        ids = sorted(set(unit_ids))
        for i in range(0, len(ids), 1000):
            rows = session.execute(
                select(
                    ContactAttempt.unit_id,
                    ContactAttempt.channel,
                    ContactAttempt.at,
                    ContactAttempt.message_id,
                ).where(
                    one_of(session, ContactAttempt.unit_id, ids[i : i + 1000]),
                    ContactAttempt.category == Category.MONEY,
                    ContactAttempt.channel.in_(list(CAPPED_CHANNELS)),
                    ContactAttempt.at > start - 2 * WEEK_WINDOW,
                    ContactAttempt.at < end + 2 * WEEK_WINDOW,
                )
            )
            for unit_id, channel, at, message_id in rows:
                self._by_unit.setdefault(unit_id, []).append((channel, at, message_id))

    def covers(self, at: datetime) -> bool:
        return self.start <= at <= self.end

    def times(
        self,
        *,
        unit_id: int,
        at: datetime,
        channels: Iterable[str] | None,
        exclude_message_id: int | None,
    ) -> list[datetime]:
        wanted = set(channels or CAPPED_CHANNELS)
        return [
            t
            for channel, t, message_id in self._by_unit.get(unit_id, ())
            if channel in wanted
            and at - 2 * WEEK_WINDOW < t < at + 2 * WEEK_WINDOW
            and (exclude_message_id is None or message_id != exclude_message_id)
        ]


def _attempt_times(
    session: Session,
    *,
    unit_id: int,
    at: datetime,
    channels: Iterable[str] | None,
    exclude_message_id: int | None,
) -> list[datetime]:
    query = select(ContactAttempt.at).where(
        ContactAttempt.unit_id == unit_id,
        ContactAttempt.category == Category.MONEY,
        ContactAttempt.channel.in_(list(channels or CAPPED_CHANNELS)),
        ContactAttempt.at > at - 2 * WEEK_WINDOW,
        ContactAttempt.at < at + 2 * WEEK_WINDOW,
    )
    if exclude_message_id is not None:
        query = query.where(
            (ContactAttempt.message_id.is_(None))
            | (ContactAttempt.message_id != exclude_message_id)
        )
    return list(session.scalars(query))


def check_contact(
    session: Session,
    *,
    unit_id: int | None,
    community_tz: ZoneInfo,
    channel: str,
    category: str,
    at: datetime,
    planned: bool = True,
    exclude_message_id: int | None = None,
    attempts: AttemptIndex | None = None,
) -> ContactDecision:
    """The contact rules for one contact with a unit's owner at `at`.

    planned=True (a message to send, a call or visit about to be made): refused in quiet hours
    or over a cap, with the instant it may happen instead. planned=False (a contact recorded
    after it happened): always allowed, flagged when it broke a rule. `attempts`: the past
    attempts read beforehand for a batch (else they are read here).
    """

    def times(at: datetime, channels: list[str] | None) -> list[datetime]:
        if attempts is not None and attempts.covers(at):
            return attempts.times(
                unit_id=unit_id,  # type: ignore[arg-type]
                at=at,
                channels=channels,
                exclude_message_id=exclude_message_id,
            )
        return _attempt_times(
            session,
            unit_id=unit_id,  # type: ignore[arg-type]
            at=at,
            channels=channels,
            exclude_message_id=exclude_message_id,
        )

    if at.tzinfo is None:
        raise ValueError("naive datetime")
    candidate = at
    reason: str | None = None
    for _ in range(8):  # quiet hours and caps can push each other; a few rounds settle it
        moved = False
        if channel not in QUIET_EXEMPT and in_quiet_hours(candidate, community_tz):
            candidate = quiet_hours_end(candidate, community_tz)
            reason = reason or "quiet_hours"
            moved = True
        if category == Category.MONEY and unit_id is not None and channel in CAPPED_CHANNELS:
            same = times(candidate, [channel])
            later = _earliest_fit(same, candidate, CHANNEL_WINDOW, CHANNEL_LIMIT)
            if later != candidate:
                candidate, reason, moved = later, reason or "cap_channel", True
            every = times(candidate, None)
            later = _earliest_fit(every, candidate, WEEK_WINDOW, WEEK_LIMIT)
            if later != candidate:
                candidate, reason, moved = later, reason or "cap_weekly", True
        if not moved:
            break
    if candidate == at:
        return ALLOWED
    if not planned:
        return ContactDecision(True, reason=reason, flagged=True)
    return ContactDecision(False, reason=reason, defer_until=candidate)


def unit_zone(session: Session, unit_id: int) -> ZoneInfo:
    """The time zone of the unit's community."""
    name = session.scalar(
        select(Community.timezone)
        .join(Unit, Unit.community_id == Community.id)
        .where(Unit.id == unit_id)
    )
    return zone(name)


def check_hold(*, category: str, amount_fen: int | None, held_fen: int | None) -> ContactDecision:
    """No message about money owed when all that is owed is under open dispute."""
    if category == Category.MONEY and (held_fen or 0) > 0 and (amount_fen or 0) <= 0:
        return ContactDecision(False, reason="disputed")
    return ALLOWED


def record_contact_attempt(
    session: Session,
    *,
    unit_id: int,
    channel: str,
    category: str,
    at: datetime,
    source_type: str,
    source_id: int | None,
    community_tz: ZoneInfo | None = None,
    message_id: int | None = None,
) -> ContactAttempt:
    """Log a contact that happened (so caps count it); flagged if it broke a rule."""
    if channel not in set(ContactChannel):
        raise ValueError(f"unknown contact channel {channel!r}")
    if community_tz is None:
        community_tz = unit_zone(session, unit_id)
    decision = check_contact(
        session,
        unit_id=unit_id,
        community_tz=community_tz,
        channel=channel,
        category=category,
        at=at,
        planned=False,
        exclude_message_id=message_id,
    )
    attempt = ContactAttempt(
        unit_id=unit_id,
        channel=channel,
        category=category,
        at=at,
        source_type=source_type,
        source_id=source_id,
        message_id=message_id,
        flagged=decision.flagged,
        flag_reason=decision.reason if decision.flagged else None,
    )
    session.add(attempt)
    session.flush()
    return attempt
