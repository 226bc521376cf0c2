"""The outbox: queue messages lawfully, deliver them once, record receipts, the inbox."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.audit import service as audit
from portal.communities.models import Community, Ownership, Unit
from portal.errors import DomainError, NotFound
from portal.notify import policy
from portal.notify import templates as tpl
from portal.notify.channels import Channel, DeliveryError, Outgoing
from portal.notify.models import (
    DONE,
    PENDING,
    Category,
    ChannelName,
    ContactAttempt,
    Message,
    MessageStatus,
    Preference,
    Profile,
    Reason,
)
from portal.timeutil import zone

# Kinds of message an owner chooses channels for (通知设置).
KIND_MONEY, KIND_SERVICE, KIND_NOTICE, KIND_LEGAL = "money", "service", "notice", "legal"
KINDS = (KIND_MONEY, KIND_SERVICE, KIND_NOTICE, KIND_LEGAL)
REASON_KIND = {
    Reason.BILL_ISSUED: KIND_MONEY,
    Reason.DUE_SOON: KIND_MONEY,
    Reason.OVERDUE_L1: KIND_MONEY,
    Reason.AUTODEBIT_SUCCEEDED: KIND_MONEY,
    Reason.AUTODEBIT_FAILED: KIND_MONEY,
    Reason.COLLECTIONS_TIER: KIND_MONEY,
    Reason.RECEIPT: KIND_MONEY,
    Reason.TICKET_UPDATED: KIND_SERVICE,
    Reason.DISPUTE_ANSWERED: KIND_SERVICE,
    Reason.SURVEY_INVITE: KIND_SERVICE,
    Reason.ACCOUNT: KIND_SERVICE,
    Reason.NOTICE_PUBLISHED: KIND_NOTICE,
    Reason.WRITTEN_NOTICE: KIND_LEGAL,
}
PUSH_CHANNELS = (ChannelName.WECHAT, ChannelName.SMS, ChannelName.EMAIL)
MAX_ATTEMPTS = 3
BACKOFF = timedelta(minutes=5)  # then 10, 20: exponential
FALLS_BACK_TO_INBOX = frozenset({ChannelName.SMS, ChannelName.WECHAT})
PHONE = re.compile(r"^1[3-9]\d{9}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


# ---------------------------------------------------------------- settings and links


def public_url(path: str) -> str:
    """An absolute link for a message (PUBLIC_BASE_URL + path)."""
    base = "http://127.0.0.1:5000"
    if has_app_context():
        base = str(current_app.config.get("PUBLIC_BASE_URL") or base)
    return base.rstrip("/") + "/" + path.lstrip("/")


def available_channels() -> dict[str, Channel]:
    """The channels configured for this app (inbox and letter always)."""
    from portal.notify.channels import configured

    return configured(current_app.config if has_app_context() else {})


# ---------------------------------------------------------------- owners' preferences


@dataclass(frozen=True)
class KindPreference:
    kind: str
    channels: tuple[str, ...]  # push channels chosen (the inbox always receives)
    opted_out: bool
    required: bool  # law or contract requires it: no opting out (the written notice)
    custom: bool  # the owner saved a choice (else the defaults apply)


def _default_push(user: User, kind: str) -> tuple[str, ...]:
    if kind == KIND_MONEY:
        # Money messages also go by WeChat when the owner has bound it, else by SMS.
        return (ChannelName.WECHAT,) if user.wechat_openid else (ChannelName.SMS,)
    return ()


def preferences(session: Session, user: User) -> dict[str, KindPreference]:
    """The owner's choice per kind of message, defaults where they made none."""
    rows = {
        p.kind: p for p in session.scalars(select(Preference).where(Preference.user_id == user.id))
    }
    out: dict[str, KindPreference] = {}
    for kind in KINDS:
        row = rows.get(kind)
        required = kind == KIND_LEGAL
        if row is None:
            out[kind] = KindPreference(kind, _default_push(user, kind), False, required, False)
        else:
            opted = bool(row.opted_out) and not required
            out[kind] = KindPreference(kind, tuple(row.channels or ()), opted, required, True)
    return out


def language_of(session: Session, user_id: int) -> str:
    """The language the owner reads messages in (zh unless they chose English)."""
    return session.scalar(select(Profile.language).where(Profile.user_id == user_id)) or "zh"


def set_preferences(
    session: Session,
    *,
    user: User,
    choices: Mapping[str, tuple[Iterable[str], bool]],
    now: datetime,
) -> None:
    """Save channels and opt-outs per kind; a written notice cannot be opted out of."""
    for kind, (channels, opted_out) in choices.items():
        if kind not in KINDS:
            raise DomainError(_l("没有这类通知：%(kind)s", kind=kind))
        chosen = list(dict.fromkeys(channels))
        if any(c not in PUSH_CHANNELS for c in chosen):
            raise DomainError(_l("无效的通知渠道"), field=f"{kind}_channels")
        if kind == KIND_LEGAL and opted_out:
            raise DomainError(
                _l("催缴通知书等书面通知依法必须送达，不能退订"),
                field=f"{kind}_opted_out",
                code="required_by_law",
            )
        row = session.scalar(
            select(Preference).where(Preference.user_id == user.id, Preference.kind == kind)
        )
        if row is None:
            row = Preference(user_id=user.id, kind=kind)
            session.add(row)
        row.channels, row.opted_out, row.updated_at = chosen, bool(opted_out), now
    session.flush()


def update_contact(
    session: Session,
    *,
    user: User,
    phone: str,
    email: str,
    wechat_openid: str,
    language: str,
    now: datetime,
) -> None:
    """Correct the owner's own contact details (信息核对) and message language."""
    phone = re.sub(r"[\s-]", "", phone or "").removeprefix("+86")
    email = (email or "").strip()
    wechat_openid = (wechat_openid or "").strip()
    if phone and not PHONE.match(phone):
        raise DomainError(_l("请输入 11 位手机号码"), field="phone")
    if email and not EMAIL.match(email):
        raise DomainError(_l("邮箱地址格式不正确"), field="email")
    if wechat_openid and not OPENID.match(wechat_openid):
        raise DomainError(_l("微信绑定标识格式不正确"), field="wechat_openid")
    if language not in tpl.LANGUAGES:
        raise DomainError(_l("请选择语言"), field="language")
    user.phone, user.email, user.wechat_openid = phone or None, email or None, wechat_openid or None
    profile = session.get(Profile, user.id)
    if profile is None:
        profile = Profile(user_id=user.id)
        session.add(profile)
    profile.language, profile.updated_at = language, now
    session.flush()


def mask_address(channel: str, address: str) -> str:
    """A contact detail as staff lists show it: 138****1234, w***@example.com, oAb***."""
    if not address:
        return ""
    if channel == ChannelName.SMS and len(address) >= 7:
        return address[:3] + "****" + address[-4:]
    if channel == ChannelName.EMAIL and "@" in address:
        local, _, domain = address.partition("@")
        return local[:1] + "***@" + domain
    return address[:3] + "***"


def _address(user: User, channel: str) -> str:
    return {
        ChannelName.SMS: user.phone or "",
        ChannelName.WECHAT: user.wechat_openid or "",
        ChannelName.EMAIL: user.email or "",
    }.get(channel, "")


# ---------------------------------------------------------------- queuing


def _channels_for(
    session: Session, recipient: User, kind: str, available: Iterable[str]
) -> list[str]:
    pref = preferences(session, recipient)[kind]
    chosen: list[str] = [ChannelName.INBOX]
    if kind == KIND_LEGAL:
        chosen.append(ChannelName.LETTER)
    if not pref.opted_out:
        chosen += [c for c in pref.channels if c in set(available)]
    return list(dict.fromkeys(chosen))


def _common_context(recipient: User, community: Community, unit: Unit | None) -> dict[str, Any]:
    return {
        "name": recipient.display_name or recipient.username,
        "community": community.name,
        "unit": unit.code if unit else "",
        "hotline": community.hotline or "",
    }


def queue_message(
    session: Session,
    *,
    event_key: str,
    recipient: User,
    community_id: int,
    unit_id: int | None,
    reason: str,
    category: str,
    template_key: str,
    context: Mapping[str, Any],
    related_type: str = "",
    related_id: int | None = None,
    not_before: datetime | None = None,
    amount_fen: int | None = None,
    held_fen: int | None = None,
    channels: Iterable[str] | None = None,
    now: datetime,
) -> list[Message]:
    """Queue one event's message for one person on each channel, exactly once.

    Idempotent by (event_key, recipient, channel). Each message passes the contact policy now
    and again when it is sent; one that may not go is kept with its reason (suppressed, or
    deferred to when it may), never silently dropped. channels=None: the owner's preferences.
    """
    if reason not in set(Reason):
        raise DomainError(_l("未知的通知原因：%(r)s", r=reason), code="unknown_reason")
    if category not in set(Category):
        raise DomainError(_l("未知的通知类别：%(c)s", c=category), code="unknown_category")
    tpl.allowed_placeholders(template_key)
    event_key = (event_key or "").strip()
    if not event_key or len(event_key) > 200:
        raise DomainError(_l("事件标识不能为空且不超过 200 个字符"), code="bad_event_key")
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound(_l("小区不存在"))
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    if unit_id is not None and (unit is None or unit.community_id != community.id):
        raise DomainError(
            _l("房屋不属于该小区，不能发送通知"), field="unit", code="unit_not_in_community"
        )
    if category == Category.MONEY and unit is not None and not _owns(session, recipient, unit):
        raise DomainError(_l("收件人不是该房屋的业主"), field="recipient", code="not_owner_of_unit")
    kind = REASON_KIND[Reason(reason)]
    available = available_channels()
    wanted = (
        list(dict.fromkeys(channels))
        if channels is not None
        else _channels_for(session, recipient, kind, available)
    )
    for name in wanted:
        if name not in set(ChannelName):
            raise DomainError(_l("无效的通知渠道"), field="channels", code="unknown_channel")
    pref = preferences(session, recipient)[kind]
    language = language_of(session, recipient.id)
    template = tpl.current(session, template_key)
    full_context = {**_common_context(recipient, community, unit), **dict(context)}
    subject, text = tpl.render(template, full_context, language)
    tz = zone(community.timezone)
    due = max(now, not_before) if not_before else now
    out: list[Message] = []
    for name in wanted:
        existing = _existing(session, event_key, recipient.id, name)
        if existing is not None:
            out.append(existing)
            continue
        message = Message(
            event_key=event_key,
            recipient_id=recipient.id,
            channel=name,
            community_id=community.id,
            unit_id=unit.id if unit else None,
            building_id=unit.building_id if unit else None,
            reason=reason,
            category=category,
            template_key=template_key,
            template_version=template.version,
            language=language,
            subject=subject[:200],
            text=text,
            context=_jsonable(full_context),
            address=_address(recipient, name),
            related_type=related_type[:40],
            related_id=related_id,
            amount_fen=amount_fen,
            held_fen=held_fen,
            not_before=due,
            status=MessageStatus.QUEUED,
            attempts=0,
            last_error="",
            created_at=now,
            updated_at=now,
        )
        _apply_queue_policy(
            session, message, pref=pref, available=available, tz=tz, explicit=channels is not None
        )
        try:
            with session.begin_nested():
                session.add(message)
                session.flush()
        except IntegrityError:  # a concurrent run queued it first: keep theirs
            existing = _existing(session, event_key, recipient.id, name)
            if existing is None:
                raise
            message = existing
        out.append(message)
    return out


def _owns(session: Session, user: User, unit: Unit) -> bool:
    return (
        session.scalar(
            select(Ownership.id).where(
                Ownership.user_id == user.id,
                Ownership.unit_id == unit.id,
                Ownership.ended_on.is_(None),
            )
        )
        is not None
    )


def _existing(session: Session, event_key: str, recipient_id: int, channel: str) -> Message | None:
    return session.scalar(
        select(Message).where(
            Message.event_key == event_key,
            Message.recipient_id == recipient_id,
            Message.channel == channel,
        )
    )


def _jsonable(context: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, (int, str, bool, type(None))) else str(v) for k, v in context.items()
    }


def _suppress(message: Message, reason: str) -> None:
    message.status, message.suppressed_reason = MessageStatus.SUPPRESSED, reason


def _apply_queue_policy(
    session: Session,
    message: Message,
    *,
    pref: KindPreference,
    available: Mapping[str, Channel],
    tz: Any,
    explicit: bool,
) -> None:
    channel = message.channel
    if explicit and channel in PUSH_CHANNELS and pref.opted_out:
        return _suppress(message, "opted_out")
    if channel not in available:
        return _suppress(message, "channel_unavailable")
    if channel in PUSH_CHANNELS and not message.address:
        return _suppress(message, "no_address")
    hold = policy.check_hold(
        category=message.category, amount_fen=message.amount_fen, held_fen=message.held_fen
    )
    if not hold.allowed:
        return _suppress(message, hold.reason or "disputed")
    decision = policy.check_contact(
        session,
        unit_id=message.unit_id,
        community_tz=tz,
        channel=channel,
        category=message.category,
        at=message.not_before,
        planned=True,
    )
    if not decision.allowed and decision.defer_until is not None:
        message.status = MessageStatus.DEFERRED
        message.defer_reason = decision.reason
        message.not_before = decision.defer_until
    return None


def suppress_pending(
    session: Session,
    *,
    unit_id: int,
    category: str = Category.MONEY,
    reason: str = "disputed",
    now: datetime,
) -> int:
    """Suppress a unit's queued and deferred messages of a category (billing calls this when
    a hold is placed: no message goes out about an amount under open dispute)."""
    changed = session.execute(
        update(Message)
        .where(
            Message.unit_id == unit_id,
            Message.category == category,
            Message.status.in_(PENDING),
        )
        .values(status=MessageStatus.SUPPRESSED, suppressed_reason=reason, updated_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    session.flush()
    return int(changed or 0)


def cancel_pending(
    session: Session, *, related_type: str, related_id: int, reason: str, now: datetime
) -> int:
    """Cancel messages not yet sent about a record (e.g. a bill paid before its reminder)."""
    changed = session.execute(
        update(Message)
        .where(
            Message.related_type == related_type,
            Message.related_id == related_id,
            Message.status.in_(PENDING),
        )
        .values(status=MessageStatus.CANCELLED, suppressed_reason=reason, updated_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    session.flush()
    return int(changed or 0)


# ---------------------------------------------------------------- sending


def claim_due(
    session: Session, *, now: datetime, limit: int = 200, only: Iterable[str] | None = None
) -> list[int]:
    """Claim messages due at `now` for this sender (compare-and-set: no other sender gets
    them); the caller commits before delivering. `only` limits the channels claimed."""
    query = select(Message.id).where(Message.status.in_(PENDING), Message.not_before <= now)
    if only is not None:
        query = query.where(Message.channel.in_(list(only)))
    ids = list(session.scalars(query.order_by(Message.not_before, Message.id).limit(limit)))
    if not ids:
        return []
    token = secrets.token_hex(10)
    session.execute(
        update(Message)
        .where(Message.id.in_(ids), Message.status.in_(PENDING), Message.not_before <= now)
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


# ---------------------------------------------------------------- receipts, inbox


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


# ---------------------------------------------------------------- staff: outbox, resend, rates

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


# ---------------------------------------------------------------- letters


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


# ---------------------------------------------------------------- daily producers

DailyProducer = Callable[[Session, date, datetime], int]
_DAILY: dict[str, DailyProducer] = {}


def register_daily(name: str, producer: DailyProducer) -> None:
    """Domains that own an event register a daily job here (e.g. billing's due-soon
    reminders), so `flask notify due-soon` runs them without notify importing them."""
    _DAILY[name] = producer


def run_daily(session: Session, *, day: date, now: datetime) -> dict[str, int]:
    """Run every registered daily producer for a local date; each is idempotent."""
    return {name: producer(session, day, now) for name, producer in sorted(_DAILY.items())}


def owners_of_units(session: Session, unit_ids: Iterable[int]) -> dict[int, list[User]]:
    """Current owners per unit (co-owners each get their own message)."""
    ids = list(set(unit_ids))
    out: dict[int, list[User]] = {}
    if not ids:
        return out
    for unit_id, user in session.execute(
        select(Ownership.unit_id, User)
        .join(User, User.id == Ownership.user_id)
        .where(Ownership.unit_id.in_(ids), Ownership.ended_on.is_(None), User.active.is_(True))
        .order_by(Ownership.unit_id, User.id)
    ):
        out.setdefault(unit_id, []).append(user)
    return out


def recent_attempts(session: Session, *, unit_id: int, since: datetime) -> list[ContactAttempt]:
    """The unit's logged contacts since an instant (for staff and the collections case)."""
    return list(
        session.scalars(
            select(ContactAttempt)
            .where(ContactAttempt.unit_id == unit_id, ContactAttempt.at >= since)
            .order_by(ContactAttempt.at.desc())
        )
    )
