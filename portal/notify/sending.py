"""Delivering the outbox: claim due messages by compare-and-set, deliver once, retry with
backoff, fall back to the inbox, and apply the providers' delivery receipts."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.communities.models import Community, Unit
from portal.errors import DomainError, NotFound
from portal.notify import policy
from portal.notify.channels import Channel, DeliveryError, InboxChannel, Outgoing
from portal.notify.models import (
    PENDING,
    Category,
    ChannelName,
    ContactAttempt,
    Message,
    MessageStatus,
)
from portal.notify.service import BACKOFF, FALLS_BACK_TO_INBOX, MAX_ATTEMPTS, _existing
from portal.timeutil import zone

STALE_CLAIM = timedelta(minutes=15)


def claim_due(
    session: Session, *, now: datetime, limit: int = 200, only: Iterable[str] | None = None
) -> list[int]:
    """Claim messages due at `now` for this sender (compare-and-set: no other sender gets
    them); the caller commits before delivering. `only` limits the channels claimed."""
    # A sender killed between its claim and its delivery leaves messages in 'sending'; after
    # STALE_CLAIM they are claimable again, so a crash delays a message instead of losing it
    # (at worst it goes out twice: delivery is at-least-once, never at-most-once).
    stale = (Message.status == MessageStatus.SENDING) & (Message.updated_at < now - STALE_CLAIM)
    claimable = Message.status.in_(PENDING) | stale
    query = select(Message.id).where(claimable, Message.not_before <= now)
    if only is not None:
        query = query.where(Message.channel.in_(list(only)))
    ids = list(session.scalars(query.order_by(Message.not_before, Message.id).limit(limit)))
    if not ids:
        return []
    token = secrets.token_hex(10)
    session.execute(
        update(Message)
        .where(Message.id.in_(ids), claimable, Message.not_before <= now)
        .values(status=MessageStatus.SENDING, claim_token=token, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return list(
        session.scalars(
            select(Message.id)
            .where(Message.claim_token == token, Message.status == MessageStatus.SENDING)
            .order_by(Message.id)
        )
    )


def _on_hold() -> Any:
    """What `policy.check_hold` refuses, as SQL: money owed that is all under dispute."""
    return (
        (Message.category == Category.MONEY)
        & (func.coalesce(Message.held_fen, 0) > 0)
        & (func.coalesce(Message.amount_fen, 0) <= 0)
    )


def defer_quiet_hours(
    session: Session,
    *,
    now: datetime,
    channels: Mapping[str, Channel],
    only: Iterable[str] | None = None,
) -> list[tuple[str, int]]:
    """Defer at once every due message that `deliver` would only defer for the quiet hours
    `now` falls in: one statement per time zone. A night's backlog is tens of thousands of
    messages; one by one, each claimed, locked and committed, that took hours. Left to
    `deliver`: messages on hold (suppressed there), on a channel not configured (failed
    there) and letters (exempt). Returns (channel, count) pairs."""
    names = [c for c in channels if c not in policy.QUIET_EXEMPT]
    if only is not None:
        names = [c for c in names if c in set(only)]
    if not names:
        return []
    zones: dict[str, list[int]] = {}
    for community_id, tz_name in session.execute(select(Community.id, Community.timezone)):
        zones.setdefault(tz_name or "", []).append(community_id)
    counts: Counter[str] = Counter()
    for tz_name, community_ids in sorted(zones.items()):
        tz = zone(tz_name or None)
        if not policy.in_quiet_hours(now, tz):
            continue
        rows = session.execute(
            update(Message)
            .where(
                Message.community_id.in_(community_ids),
                Message.status.in_(PENDING),
                Message.not_before <= now,
                Message.channel.in_(names),
                ~_on_hold(),
            )
            .values(
                status=MessageStatus.DEFERRED,
                defer_reason="quiet_hours",
                not_before=policy.quiet_hours_end(now, tz),
                updated_at=now,
            )
            .returning(Message.channel)
            .execution_options(synchronize_session=False)
        )
        counts.update(channel for (channel,) in rows)
    return sorted(counts.items())


def deliver_inbox(
    session: Session,
    *,
    now: datetime,
    channels: Mapping[str, Channel],
    only: Iterable[str] | None = None,
) -> int:
    """Deliver every due inbox message in one statement: the row is the delivery, and the
    inbox is neither capped nor counted as a contact, so `deliver` would only check the quiet
    hours (`defer_quiet_hours` has deferred what falls in them) and holds (left to it).
    Returns how many were delivered."""
    if not isinstance(channels.get(ChannelName.INBOX), InboxChannel):
        return 0  # another inbox adapter: it delivers message by message
    if only is not None and ChannelName.INBOX not in set(only):
        return 0
    return session.execute(
        update(Message)
        .where(
            Message.channel == ChannelName.INBOX,
            Message.status.in_(PENDING),
            Message.not_before <= now,
            ~_on_hold(),
        )
        .values(
            status=MessageStatus.DELIVERED,
            attempts=Message.attempts + 1,
            sent_at=now,
            delivered_at=now,
            provider_id=None,
            last_error="",
            defer_reason=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def _finish(session: Session, message: Message, **values: Any) -> bool:
    """Move a claimed message out of 'sending' (only its claimant can)."""
    moved = session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status == MessageStatus.SENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expire(message)
    return moved == 1


def deliver(
    session: Session, *, message_id: int, now: datetime, channels: Mapping[str, Channel]
) -> str:
    """Deliver one claimed message: policy again, then the channel; returns the outcome
    (sent, delivered, deferred, suppressed, retry, failed, skipped)."""
    message = session.get(Message, message_id, populate_existing=True)
    if message is None or message.status != MessageStatus.SENDING:
        return "skipped"
    # Take the write lock first (SQLite) and lock the unit (PostgreSQL), so two senders
    # never both see room under a cap for the same unit.
    session.execute(
        update(Message)
        .where(Message.id == message.id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if message.unit_id is not None:
        session.execute(select(Unit.id).where(Unit.id == message.unit_id).with_for_update())
    community = session.get(Community, message.community_id)
    tz = zone(community.timezone if community else None)
    hold = policy.check_hold(
        category=message.category, amount_fen=message.amount_fen, held_fen=message.held_fen
    )
    if not hold.allowed:
        _finish(
            session,
            message,
            status=MessageStatus.SUPPRESSED,
            suppressed_reason=hold.reason,
            updated_at=now,
        )
        return "suppressed"
    channel = channels.get(message.channel)
    if channel is None:
        return _failed(session, message, now=now, error="channel not configured", final=True)
    decision = policy.check_contact(
        session,
        unit_id=message.unit_id,
        community_tz=tz,
        channel=message.channel,
        category=message.category,
        at=now,
        planned=True,
        exclude_message_id=message.id,
    )
    if not decision.allowed:
        _finish(
            session,
            message,
            status=MessageStatus.DEFERRED,
            defer_reason=decision.reason,
            not_before=decision.defer_until or now,
            updated_at=now,
        )
        return "deferred"
    attempt = None
    if message.unit_id is not None and message.channel != ChannelName.INBOX:
        attempt = policy.record_contact_attempt(
            session,
            unit_id=message.unit_id,
            channel=message.channel,
            category=message.category,
            at=now,
            source_type="notify_message",
            source_id=message.id,
            community_tz=tz,
            message_id=message.id,
        )
    outgoing = Outgoing(
        message_id=message.id,
        address=message.address,
        subject=message.subject,
        text=message.text,
        template_key=message.template_key,
        context=message.context or {},
    )
    try:
        result = channel.deliver(outgoing, now=now)
    except DeliveryError as exc:
        if attempt is not None:
            session.delete(attempt)  # it never reached the owner: not a contact
            session.flush()
        return _failed(session, message, now=now, error=str(exc), final=not exc.retryable)
    status = MessageStatus.DELIVERED if result.delivered else MessageStatus.SENT
    _finish(
        session,
        message,
        status=status,
        attempts=message.attempts + 1,
        sent_at=now,
        delivered_at=now if result.delivered else None,
        provider_id=result.provider_id,
        last_error="",
        defer_reason=None,
        updated_at=now,
    )
    return str(status)


def _failed(session: Session, message: Message, *, now: datetime, error: str, final: bool) -> str:
    attempts = message.attempts + 1
    if not final and attempts < MAX_ATTEMPTS:
        _finish(
            session,
            message,
            status=MessageStatus.QUEUED,
            attempts=attempts,
            last_error=error[:1000],
            not_before=now + BACKOFF * 2 ** (attempts - 1),
            updated_at=now,
        )
        return "retry"
    _finish(
        session,
        message,
        status=MessageStatus.FAILED,
        attempts=attempts,
        last_error=error[:1000],
        updated_at=now,
    )
    fallback_to_inbox(session, message=message, now=now)
    return "failed"


def fallback_to_inbox(session: Session, *, message: Message, now: datetime) -> Message | None:
    """A failed SMS or WeChat message still reaches the owner: in the inbox (once)."""
    if message.channel not in FALLS_BACK_TO_INBOX:
        return None
    existing = _existing(session, message.event_key, message.recipient_id, ChannelName.INBOX)
    if existing is not None:
        if existing.status in (MessageStatus.SUPPRESSED, MessageStatus.CANCELLED):
            return None
        return existing
    inbox = Message(
        event_key=message.event_key,
        recipient_id=message.recipient_id,
        channel=ChannelName.INBOX,
        community_id=message.community_id,
        unit_id=message.unit_id,
        building_id=message.building_id,
        reason=message.reason,
        category=message.category,
        template_key=message.template_key,
        template_version=message.template_version,
        language=message.language,
        subject=message.subject,
        text=message.text,
        context=message.context,
        address="",
        related_type=message.related_type,
        related_id=message.related_id,
        amount_fen=message.amount_fen,
        held_fen=message.held_fen,
        not_before=now,
        status=MessageStatus.QUEUED,
        attempts=0,
        last_error="",
        fallback_of_id=message.id,
        created_at=now,
        updated_at=now,
    )
    session.add(inbox)
    session.flush()
    return inbox


@dataclass
class SendReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[tuple[str, str]] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        if not self.outcomes:
            return ["nothing due"]
        out = [", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items()))]
        out += [f"  {ch}: {n} {k}" for (ch, k), n in sorted(self.by_channel.items())]
        return out


def send_due(
    session: Session,
    *,
    now: datetime,
    channels: Mapping[str, Channel],
    commit: Callable[[], None],
    batch: int = 200,
    only: Iterable[str] | None = None,
) -> SendReport:
    """Deliver everything due at `now`. Commits (through `commit`) after each claim and each
    message, so concurrent senders see the claims and a crash loses nothing sent."""
    report = SendReport()
    for channel, count in defer_quiet_hours(session, now=now, channels=channels, only=only):
        report.outcomes["deferred"] += count
        report.by_channel[(channel, "deferred")] += count
    commit()
    delivered = deliver_inbox(session, now=now, channels=channels, only=only)
    commit()
    if delivered:
        report.outcomes["delivered"] += delivered
        report.by_channel[(ChannelName.INBOX, "delivered")] += delivered
    while True:
        ids = claim_due(session, now=now, limit=batch, only=only)
        commit()
        if not ids:
            return report
        for message_id in ids:
            channel = session.scalar(select(Message.channel).where(Message.id == message_id))
            outcome = deliver(session, message_id=message_id, now=now, channels=channels)
            commit()
            report.outcomes[outcome] += 1
            report.by_channel[(str(channel), outcome)] += 1


def record_delivery_receipt(
    session: Session,
    *,
    channel: str,
    message_id: Any,
    status: str,
    now: datetime,
    provider_id: str | None = None,
    error: str = "",
) -> Message:
    """The provider says a message was delivered or failed; applied once (compare-and-set)."""
    if status not in ("delivered", "failed"):
        raise DomainError(_l("回执状态必须是 delivered 或 failed"), field="status")
    try:
        ident = int(message_id)
    except (TypeError, ValueError) as exc:
        raise DomainError(_l("缺少消息编号"), field="message_id") from exc
    message = session.get(Message, ident)
    if message is None or message.channel != channel:
        raise NotFound(_l("消息不存在"))
    if provider_id and message.provider_id and provider_id != message.provider_id:
        raise DomainError(_l("回执与消息不符"), field="provider_id", code="mismatch")
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == "delivered":
        values["delivered_at"] = now
    else:
        values["last_error"] = (error or "provider reported failure")[:1000]
    moved = session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status == MessageStatus.SENT)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(message)
    if moved == 1 and status == "failed":
        session.execute(
            ContactAttempt.__table__.delete().where(ContactAttempt.message_id == message.id)
        )
        fallback_to_inbox(session, message=message, now=now)
    session.flush()
    return message
