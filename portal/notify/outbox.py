"""The staff side of the outbox: scoped lists, delivery rates, resend after a fix, and the
letters printed and posted per building."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.audit import service as audit
from portal.errors import DomainError
from portal.notify.inbox import Page
from portal.notify.models import (
    ChannelName,
    Message,
    MessageStatus,
)
from portal.notify.service import PUSH_CHANNELS, _address

STAFF_ROLES = (Role.CS, Role.MANAGER, Role.FINANCE, Role.COLLECTOR)


def get_scoped_message(session: Session, *, staff: User, message_id: int) -> Message | None:
    """A message of a community the staff member works in; None (→ 404) otherwise."""
    message = session.get(Message, message_id)
    if message is None:
        return None
    if staff.is_admin or message.community_id in staff.community_ids(*STAFF_ROLES):
        return message
    return None


def outbox(
    session: Session,
    *,
    community_id: int,
    status: str | None = None,
    channel: str | None = None,
    reason: str | None = None,
    building_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """A community's messages with filters, newest first."""
    query = select(Message).where(Message.community_id == community_id)
    if status:
        query = query.where(Message.status == status)
    if channel:
        query = query.where(Message.channel == channel)
    if reason:
        query = query.where(Message.reason == reason)
    if building_id:
        query = query.where(Message.building_id == building_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    items = session.scalars(
        query.order_by(Message.created_at.desc(), Message.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return Page(list(items), total, page, per_page)


@dataclass(frozen=True)
class ChannelRate:
    channel: str
    total: int
    done: int  # sent or delivered
    delivered: int
    failed: int
    suppressed: int
    pending: int

    @property
    def rate(self) -> int | None:
        """Percent of attempted messages that went out (suppressed ones were not attempted)."""
        attempted = self.done + self.failed
        return None if attempted == 0 else round(100 * self.done / attempted)


def delivery_rates(session: Session, *, community_id: int, since: datetime) -> list[ChannelRate]:
    """Per channel: how many messages went out, were delivered, failed or were held back."""
    rows = session.execute(
        select(Message.channel, Message.status, func.count(Message.id))
        .where(Message.community_id == community_id, Message.created_at >= since)
        .group_by(Message.channel, Message.status)
    ).all()
    counts: dict[str, Counter[str]] = {}
    for channel, status, n in rows:
        counts.setdefault(channel, Counter())[status] += int(n)
    out = []
    for channel in ChannelName:
        c = counts.get(channel)
        if not c:
            continue
        out.append(
            ChannelRate(
                channel=channel,
                total=sum(c.values()),
                done=c[MessageStatus.SENT] + c[MessageStatus.DELIVERED],
                delivered=c[MessageStatus.DELIVERED],
                failed=c[MessageStatus.FAILED],
                suppressed=c[MessageStatus.SUPPRESSED] + c[MessageStatus.CANCELLED],
                pending=c[MessageStatus.QUEUED]
                + c[MessageStatus.DEFERRED]
                + c[MessageStatus.SENDING],
            )
        )
    return out


RESENDABLE = (MessageStatus.FAILED, MessageStatus.SUPPRESSED, MessageStatus.CANCELLED)


def resend(session: Session, *, message: Message, actor: User, now: datetime) -> Message:
    """Queue a failed or held-back message again after a fix (e.g. a corrected phone number);
    the policy is checked again when it is sent. Audited."""
    if message.status not in RESENDABLE:
        raise DomainError(_l("只有失败、未发送或已取消的消息可以重发"), code="not_resendable")
    recipient = session.get(User, message.recipient_id)
    address = _address(recipient, message.channel) if recipient else message.address
    if message.channel in PUSH_CHANNELS and not address:
        raise DomainError(_l("业主尚未登记该渠道的联系方式，无法重发"), code="no_address")
    old = message.status
    moved = session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status == old)
        .values(
            status=MessageStatus.QUEUED,
            address=address,
            attempts=0,
            not_before=now,
            suppressed_reason=None,
            defer_reason=None,
            last_error="",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise DomainError(_l("消息刚被其他人处理过，请刷新"), code="stale")
    session.refresh(message)
    audit.record(
        session,
        actor_id=actor.id,
        action="notify.resend",
        target_type="notify_message",
        target_id=message.id,
        community_id=message.community_id,
        now=now,
        details={"from": old, "channel": message.channel, "reason": message.reason},
    )
    return message


def letters_by_building(session: Session, *, community_id: int) -> dict[int | None, list[Message]]:
    """Letters waiting to be printed or posted, per building."""
    rows = session.scalars(
        select(Message)
        .where(
            Message.community_id == community_id,
            Message.channel == ChannelName.LETTER,
            Message.status == MessageStatus.SENT,
        )
        .order_by(Message.building_id, Message.unit_id, Message.id)
    ).all()
    out: dict[int | None, list[Message]] = {}
    for message in rows:
        out.setdefault(message.building_id, []).append(message)
    return out


def mark_printed(session: Session, *, messages: list[Message], now: datetime) -> None:
    """Note when letters were printed (a reprint keeps the first time)."""
    ids = [m.id for m in messages if m.printed_at is None]
    if ids:
        session.execute(
            update(Message)
            .where(Message.id.in_(ids), Message.printed_at.is_(None))
            .values(printed_at=now)
            .execution_options(synchronize_session="fetch")
        )
        session.flush()


def mark_posted(
    session: Session, *, message: Message, actor: User, how: str, now: datetime
) -> Message:
    """A letter was posted on the door or mailed: delivered, with who recorded it (audited)."""
    if message.channel != ChannelName.LETTER:
        raise DomainError(_l("只有书面通知可以登记送达"), code="not_letter")
    if how not in ("posted", "mailed"):
        raise DomainError(_l("请选择送达方式"), field="how")
    moved = session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status == MessageStatus.SENT)
        .values(status=MessageStatus.DELIVERED, delivered_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise DomainError(_l("这封通知已登记送达或不在待送达队列中"), code="stale")
    session.refresh(message)
    audit.record(
        session,
        actor_id=actor.id,
        action="notify.letter_delivered",
        target_type="notify_message",
        target_id=message.id,
        community_id=message.community_id,
        now=now,
        details={"how": how, "unit_id": message.unit_id},
    )
    return message
