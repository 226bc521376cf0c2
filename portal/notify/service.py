"""The outbox: owners' preferences and contact details, and queueing messages lawfully.

Delivery is in `sending`, the owner's inbox in `inbox`, the staff side in `outbox`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload, make_transient_to_detached

from portal.accounts.models import User
from portal.communities.models import Community, Ownership, Unit
from portal.db import chunked, insert_rows, one_of
from portal.errors import DomainError, NotFound
from portal.notify import policy
from portal.notify import templates as tpl
from portal.notify.channels import Channel
from portal.notify.models import (
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
    Reason.PLAN_PROPOSED: KIND_MONEY,
    Reason.TICKET_UPDATED: KIND_SERVICE,
    Reason.DISPUTE_ANSWERED: KIND_SERVICE,
    Reason.SURVEY_INVITE: KIND_SERVICE,
    Reason.VOTE_INVITE: KIND_NOTICE,
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
    return _preferences_from(user, rows)


def _preferences_from(user: User, rows: Mapping[str, Preference]) -> dict[str, KindPreference]:
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


def _channels_for(pref: KindPreference, kind: str, available: Mapping[str, Channel]) -> list[str]:
    chosen: list[str] = [ChannelName.INBOX]
    if kind == KIND_LEGAL:
        chosen.append(ChannelName.LETTER)
    if not pref.opted_out:
        chosen += [c for c in pref.channels if c in available]
    return list(dict.fromkeys(chosen))


def _common_context(recipient: User, community: Community, unit: Any) -> dict[str, Any]:
    return {
        "name": recipient.display_name or recipient.username,
        "community": community.name,
        "unit": unit.code if unit else "",
        "hotline": community.hotline or "",
    }


@dataclass(frozen=True)
class MessageRequest:
    """One event's message for one person: what `queue_messages` takes many of."""

    event_key: str
    recipient: User
    community_id: int
    unit_id: int | None
    reason: str
    category: str
    template_key: str
    context: Mapping[str, Any]
    related_type: str = ""
    related_id: int | None = None
    not_before: datetime | None = None
    amount_fen: int | None = None
    held_fen: int | None = None
    channels: tuple[str, ...] | None = None  # None: the owner's preferences


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
    request = MessageRequest(
        event_key=event_key,
        recipient=recipient,
        community_id=community_id,
        unit_id=unit_id,
        reason=reason,
        category=category,
        template_key=template_key,
        context=context,
        related_type=related_type,
        related_id=related_id,
        not_before=not_before,
        amount_fen=amount_fen,
        held_fen=held_fen,
        channels=tuple(channels) if channels is not None else None,
    )
    return queue_messages(session, [request], now=now)[0]


class _Batch:
    """What queueing a batch of messages reads, read once for the whole batch: communities,
    units, current ownerships, preferences, languages, templates, messages already queued
    for the same events, and the units' recent contact attempts."""

    def __init__(self, session: Session, requests: Sequence[MessageRequest], now: datetime):
        self.session = session
        self.communities = {
            c.id: c
            for c in session.scalars(
                select(Community).where(
                    one_of(session, Community.id, {r.community_id for r in requests})
                )
            )
        }
        unit_ids = {r.unit_id for r in requests if r.unit_id is not None}
        user_ids = {r.recipient.id for r in requests}
        # the columns a message needs, as rows (not 20,000 Unit entities for a billing run)
        self.units: dict[int, Any] = {}
        self.owned: set[tuple[int, int]] = set()
        for chunk in chunked(unit_ids):
            self.units.update(
                (u.id, u)
                for u in session.execute(
                    select(Unit.id, Unit.community_id, Unit.building_id, Unit.code).where(
                        one_of(session, Unit.id, chunk)
                    )
                )
            )
            self.owned.update(
                (user_id, unit_id)
                for user_id, unit_id in session.execute(
                    select(Ownership.user_id, Ownership.unit_id).where(
                        one_of(session, Ownership.unit_id, chunk), Ownership.ended_on.is_(None)
                    )
                )
            )
        self._preference_rows: dict[int, dict[str, Preference]] = {}
        self.languages: dict[int, str] = {}
        for chunk in chunked(user_ids):
            for row in session.scalars(
                select(Preference).where(one_of(session, Preference.user_id, chunk))
            ):
                self._preference_rows.setdefault(row.user_id, {})[row.kind] = row
            self.languages.update(
                (user_id, language)
                for user_id, language in session.execute(
                    select(Profile.user_id, Profile.language).where(
                        one_of(session, Profile.user_id, chunk)
                    )
                )
            )
        self.existing: dict[tuple[str, int, str], Message] = {}
        for chunk in chunked({r.event_key.strip() for r in requests}, 500):
            for message in session.scalars(
                select(Message).where(one_of(session, Message.event_key, chunk))
            ):
                key = (message.event_key, message.recipient_id, message.channel)
                self.existing[key] = message
        self._templates: dict[str, tpl.TemplateText] = {}
        starts = [max(now, r.not_before) if r.not_before else now for r in requests]
        self.attempts = policy.AttemptIndex(
            session, unit_ids=unit_ids, start=min(starts), end=max(starts) + timedelta(days=1)
        )

    def preferences(self, user: User) -> dict[str, KindPreference]:
        return _preferences_from(user, self._preference_rows.get(user.id, {}))

    def template(self, key: str) -> tpl.TemplateText:
        if key not in self._templates:
            self._templates[key] = tpl.current(self.session, key)
        return self._templates[key]


_REASONS, _CATEGORIES, _CHANNEL_NAMES = set(Reason), set(Category), set(ChannelName)


def _check_request(request: MessageRequest) -> str:
    """The request's event key, once its reason, category, template and key are known good."""
    if request.reason not in _REASONS:
        raise DomainError(_l("未知的通知原因：%(r)s", r=request.reason), code="unknown_reason")
    if request.category not in _CATEGORIES:
        raise DomainError(_l("未知的通知类别：%(c)s", c=request.category), code="unknown_category")
    tpl.allowed_placeholders(request.template_key)
    event_key = (request.event_key or "").strip()
    if not event_key or len(event_key) > 200:
        raise DomainError(_l("事件标识不能为空且不超过 200 个字符"), code="bad_event_key")
    for name in request.channels or ():
        if name not in _CHANNEL_NAMES:
            raise DomainError(_l("无效的通知渠道"), field="channels", code="unknown_channel")
    return event_key


def queue_messages(
    session: Session, requests: Sequence[MessageRequest], *, now: datetime
) -> list[list[Message]]:
    """Queue many events' messages at once (a billing run's bill-issued messages): the rules
    of `queue_message` for each, with what they need read once for the batch and the new
    messages inserted together. All or nothing: a bad request raises before anything is
    written. Returns each request's messages, in order."""
    planned, rows = _plan(session, requests, now)
    stored = _insert_new(session, rows)
    made: dict[int, Message] = {}
    for row, result in zip(rows, stored, strict=True):
        if isinstance(result, Message):  # a concurrent run queued it first: theirs
            made[id(row)] = result
            continue
        message = Message(**{**row, "context": dict(row["context"])})  # channels share one
        message.id = result
        make_transient_to_detached(message)  # the stored row, not a pending insert
        session.add(message)
        made[id(row)] = message
    return [
        [m if isinstance(m, Message) else made[id(m)] for m in messages] for messages in planned
    ]


def queue_in_batches(
    session: Session, requests: Sequence[MessageRequest], *, now: datetime, size: int = 2000
) -> int:
    """Queue many requests `size` at a time (a whole community's owners: memory stays flat);
    returns how many messages they have, queued now or before. The new messages are written
    as rows, not loaded into the session (a 20,000-unit billing run's 40,000 messages as ORM
    objects took a quarter of its time)."""
    queued = 0
    for start in range(0, len(requests), size):
        planned, rows = _plan(session, requests[start : start + size], now)
        _insert_new(session, rows)
        queued += sum(len(messages) for messages in planned)
    return queued


def _plan(
    session: Session, requests: Sequence[MessageRequest], now: datetime
) -> tuple[list[list[Message | dict[str, Any]]], list[dict[str, Any]]]:
    """Each request's messages (already queued: the Message; new: the row to insert) and the
    new rows, once every request has been checked."""
    if now.tzinfo is None or any(r.not_before and r.not_before.tzinfo is None for r in requests):
        raise ValueError("naive datetime")
    keys = [_check_request(r) for r in requests]
    if not requests:
        return [], []
    batch = _Batch(session, requests, now)
    available = available_channels()
    out: list[list[Message | dict[str, Any]]] = []
    new: list[dict[str, Any]] = []
    existing: dict[tuple[str, int, str], Message | dict[str, Any]] = dict(batch.existing)
    for request, event_key in zip(requests, keys, strict=True):
        community = batch.communities.get(request.community_id)
        if community is None:
            raise NotFound(_l("小区不存在"))
        unit = batch.units.get(request.unit_id) if request.unit_id is not None else None
        if request.unit_id is not None and (unit is None or unit.community_id != community.id):
            raise DomainError(
                _l("房屋不属于该小区，不能发送通知"), field="unit", code="unit_not_in_community"
            )
        recipient = request.recipient
        if (
            request.category == Category.MONEY
            and unit is not None
            and (recipient.id, unit.id) not in batch.owned
        ):
            raise DomainError(
                _l("收件人不是该房屋的业主"), field="recipient", code="not_owner_of_unit"
            )
        kind = REASON_KIND[Reason(request.reason)]
        pref = batch.preferences(recipient)[kind]
        explicit = request.channels is not None
        wanted = (
            list(dict.fromkeys(request.channels or ()))
            if explicit
            else _channels_for(pref, kind, available)
        )
        language = batch.languages.get(recipient.id) or "zh"
        template = batch.template(request.template_key)
        full_context = {**_common_context(recipient, community, unit), **dict(request.context)}
        subject, text = tpl.render(template, full_context, language)
        context = _jsonable(full_context)
        tz = zone(community.timezone)
        due = max(now, request.not_before) if request.not_before else now
        messages: list[Message | dict[str, Any]] = []
        for name in wanted:
            key = (event_key, recipient.id, name)
            found = existing.get(key)
            if found is not None:  # queued before, or the same event twice in this batch
                messages.append(found)
                continue
            row: dict[str, Any] = {
                "event_key": event_key,
                "recipient_id": recipient.id,
                "channel": name,
                "community_id": community.id,
                "unit_id": unit.id if unit else None,
                "building_id": unit.building_id if unit else None,
                "reason": request.reason,
                "category": request.category,
                "template_key": request.template_key,
                "template_version": template.version,
                "language": language,
                "subject": subject[:200],
                "text": text,
                "context": context,
                "address": _address(recipient, name),
                "related_type": request.related_type[:40],
                "related_id": request.related_id,
                "amount_fen": request.amount_fen,
                "held_fen": request.held_fen,
                "not_before": due,
                "status": MessageStatus.QUEUED,
                "suppressed_reason": None,
                "defer_reason": None,
                "attempts": 0,
                "last_error": "",
                "created_at": now,
                "updated_at": now,
            }
            _apply_queue_policy(
                session,
                row,
                pref=pref,
                available=available,
                tz=tz,
                explicit=explicit,
                attempts=batch.attempts,
            )
            existing[key] = row
            new.append(row)
            messages.append(row)
        out.append(messages)
    return out, new


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> list[int | Message]:
    """Insert the batch's new messages together (multi-row, ids in order); if a concurrent run
    queued some of them first (the unique key), insert one by one and keep theirs where they
    won. Returns, per row, its new id or the message already there."""
    if not rows:
        return []
    table = Message.__table__
    try:
        with session.begin_nested():
            return list(insert_rows(session, table, rows, ids=True))
    except IntegrityError:
        pass
    out: list[int | Message] = []
    for row in rows:
        try:
            with session.begin_nested():
                out.extend(insert_rows(session, table, [row], ids=True))
        except IntegrityError:  # a concurrent run queued it first: keep theirs
            theirs = _existing(session, row["event_key"], row["recipient_id"], row["channel"])
            if theirs is None:
                raise
            out.append(theirs)
    return out


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


def _suppress(row: dict[str, Any], reason: str) -> None:
    row["status"], row["suppressed_reason"] = MessageStatus.SUPPRESSED, reason


def _apply_queue_policy(
    session: Session,
    row: dict[str, Any],
    *,
    pref: KindPreference,
    available: Mapping[str, Channel],
    tz: Any,
    explicit: bool,
    attempts: policy.AttemptIndex | None = None,
) -> None:
    """Suppress or defer a new message's row (its status, reason and not_before)."""
    channel = row["channel"]
    if explicit and channel in PUSH_CHANNELS and pref.opted_out:
        return _suppress(row, "opted_out")
    if channel not in available:
        return _suppress(row, "channel_unavailable")
    if channel in PUSH_CHANNELS and not row["address"]:
        return _suppress(row, "no_address")
    hold = policy.check_hold(
        category=row["category"], amount_fen=row["amount_fen"], held_fen=row["held_fen"]
    )
    if not hold.allowed:
        return _suppress(row, hold.reason or "disputed")
    decision = policy.check_contact(
        session,
        unit_id=row["unit_id"],
        community_tz=tz,
        channel=channel,
        category=row["category"],
        at=row["not_before"],
        planned=True,
        attempts=attempts,
    )
    if not decision.allowed and decision.defer_until is not None:
        row["status"] = MessageStatus.DEFERRED
        row["defer_reason"] = decision.reason
        row["not_before"] = decision.defer_until
    return None


def suppress_pending(
    session: Session,
    *,
    unit_id: int,
    category: str = Category.MONEY,
    reason: str = "disputed",
    related_type: str | None = None,
    related_id: int | None = None,
    now: datetime,
) -> int:
    """Suppress a unit's queued and deferred messages of a category, optionally only those about
    one record (billing calls this for a bill when a hold is placed on one of its lines: no
    message goes out naming an amount that is now under open dispute)."""
    conditions = [
        Message.unit_id == unit_id,
        Message.category == category,
        Message.status.in_(PENDING),
    ]
    if related_type is not None:
        conditions += [Message.related_type == related_type, Message.related_id == related_id]
    changed = session.execute(
        update(Message)
        .where(*conditions)
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


# ---------------------------------------------------------------- letters


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
    for chunk in chunked(ids):
        for unit_id, user in session.execute(
            select(Ownership.unit_id, User)
            .join(User, User.id == Ownership.user_id)
            .where(
                one_of(session, Ownership.unit_id, chunk),
                Ownership.ended_on.is_(None),
                User.active.is_(True),
            )
            .order_by(Ownership.unit_id, User.id)
            # a message needs the owner's name and contacts, not their roles (the mapper's
            # selectin load of roles was a third of this for a billing run's 20,000 owners)
            .options(lazyload(User.roles))
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
