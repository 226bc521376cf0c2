"""The owner's in-portal inbox (站内信): pages, unread count, read marks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.notify.models import (
    DONE,
    ChannelName,
    Message,
)


def _inbox_query(user: User) -> Any:
    return select(Message).where(
        Message.recipient_id == user.id,
        Message.channel == ChannelName.INBOX,
        Message.status.in_(DONE),
    )


@dataclass(frozen=True)
class Page:
    items: list[Message]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def inbox(session: Session, user: User, page: int = 1, per_page: int = 20) -> Page:
    """The owner's in-portal messages, newest first."""
    query = _inbox_query(user)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    items = session.scalars(
        query.order_by(Message.sent_at.desc(), Message.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def unread_count(session: Session, user: User) -> int:
    """Inbox messages the owner has not opened."""
    return (
        session.scalar(
            select(func.count(Message.id)).where(
                Message.recipient_id == user.id,
                Message.channel == ChannelName.INBOX,
                Message.status.in_(DONE),
                Message.read_at.is_(None),
            )
        )
        or 0
    )


def get_owned_message(session: Session, *, user: User, message_id: int) -> Message | None:
    """One of the owner's inbox messages; None (→ 404) for anyone else's."""
    return session.scalar(_inbox_query(user).where(Message.id == message_id))


def mark_read(session: Session, *, user: User, message_id: int, now: datetime) -> Message | None:
    """Mark an inbox message read (once); None when it is not the user's."""
    message = get_owned_message(session, user=user, message_id=message_id)
    if message is None:
        return None
    session.execute(
        update(Message)
        .where(Message.id == message.id, Message.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(message)
    return message


def mark_all_read(session: Session, *, user: User, now: datetime) -> int:
    """Mark every unread inbox message read."""
    changed = session.execute(
        update(Message)
        .where(
            Message.recipient_id == user.id,
            Message.channel == ChannelName.INBOX,
            Message.status.in_(DONE),
            Message.read_at.is_(None),
        )
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.flush()
    return int(changed or 0)
