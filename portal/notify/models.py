"""The outbox: one row per message, recipient and channel; templates; preferences; contacts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.db import Base, UTCDateTime


class Reason(StrEnum):
    """Why a message exists (what the owner sees as its kind)."""

    BILL_ISSUED = "bill_issued"
    DUE_SOON = "due_soon"
    OVERDUE_L1 = "overdue_l1"
    AUTODEBIT_SUCCEEDED = "autodebit_succeeded"
    AUTODEBIT_FAILED = "autodebit_failed"
    NOTICE_PUBLISHED = "notice_published"
    TICKET_UPDATED = "ticket_updated"
    DISPUTE_ANSWERED = "dispute_answered"
    SURVEY_INVITE = "survey_invite"
    VOTE_INVITE = "vote_invite"  # 业主表决: invitation and reminders
    COLLECTIONS_TIER = "collections_tier"
    PLAN_PROPOSED = "plan_proposed"  # a payment plan for the owner to accept
    WRITTEN_NOTICE = "written_notice"  # 催缴通知书: a letter the law relies on
    RECEIPT = "receipt"
    ACCOUNT = "account"  # welcome, contact check (信息核对)


class Category(StrEnum):
    """What the contact policy looks at: caps apply to money owed only."""

    MONEY = "money"
    SERVICE = "service"
    LEGAL = "legal"
    NOTICE = "notice"


class ChannelName(StrEnum):
    INBOX = "inbox"  # 站内信, always available
    SMS = "sms"
    WECHAT = "wechat"
    EMAIL = "email"
    LETTER = "letter"


class ContactChannel(StrEnum):
    """Every way of reaching an owner the policy counts (messages and staff contacts)."""

    INBOX = "inbox"
    SMS = "sms"
    WECHAT = "wechat"
    EMAIL = "email"
    LETTER = "letter"
    POSTED = "posted"
    PHONE = "phone"
    VISIT = "visit"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    DEFERRED = "deferred"  # waiting for quiet hours or a cap to pass; see defer_reason
    SENDING = "sending"  # claimed by one sender
    SENT = "sent"  # handed to the provider (letters: ready to print)
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"  # not sent on purpose; see suppressed_reason


PENDING = (MessageStatus.QUEUED, MessageStatus.DEFERRED)
DONE = (MessageStatus.SENT, MessageStatus.DELIVERED)


class Message(Base):
    """One message to one person by one channel; (event_key, recipient, channel) is unique."""

    __tablename__ = "notify_messages"
    __table_args__ = (
        UniqueConstraint("event_key", "recipient_id", "channel"),
        Index("ix_notify_messages_due", "status", "not_before"),
        Index("ix_notify_messages_inbox", "recipient_id", "channel", "created_at"),
        Index("ix_notify_messages_community", "community_id", "created_at"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(200))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    reason: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(16))
    template_key: Mapped[str] = mapped_column(String(40))
    template_version: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(8), default="zh", server_default="zh")
    subject: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    address: Mapped[str] = mapped_column(String(255), default="")  # phone, e-mail, openid
    related_type: Mapped[str] = mapped_column(String(40), default="")
    related_id: Mapped[int | None] = mapped_column(Integer)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)  # payable when the text was made
    held_fen: Mapped[int | None] = mapped_column(BigInteger)  # on hold under an open dispute
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.QUEUED)
    suppressed_reason: Mapped[str | None] = mapped_column(String(40))
    defer_reason: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(Text, default="")
    claim_token: Mapped[str | None] = mapped_column(String(40))
    provider_id: Mapped[str | None] = mapped_column(String(100), index=True)
    # Indexed: deleting or looking up a message checks the fallbacks that point at it.
    fallback_of_id: Mapped[int | None] = mapped_column(ForeignKey("notify_messages.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # letters
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # inbox

    recipient: Mapped[User] = relationship()


class MessageTemplate(Base):
    """A saved version of a message template; a change is a new version, never an edit."""

    __tablename__ = "notify_templates"
    __table_args__ = (
        UniqueConstraint("key", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    subject_zh: Mapped[str] = mapped_column(String(200), default="")
    body_zh: Mapped[str] = mapped_column(Text)
    subject_en: Mapped[str] = mapped_column(String(200), default="")
    body_en: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Preference(Base):
    """How an owner wants to hear about one kind of message (absent: the defaults)."""

    __tablename__ = "notify_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)  # push channels chosen
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Profile(Base):
    """An owner's language for messages (contact details themselves live on the user)."""

    __tablename__ = "notify_profiles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(8), default="zh", server_default="zh")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ContactAttempt(Base):
    """One contact with a unit's owner (a message sent, a call, a visit): what caps count."""

    __tablename__ = "notify_contact_attempts"
    __table_args__ = (
        Index("ix_notify_contact_attempts_unit_at", "unit_id", "category", "at"),
        UniqueConstraint("message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    source_type: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("notify_messages.id", ondelete="CASCADE")
    )
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    flag_reason: Mapped[str | None] = mapped_column(String(40))
