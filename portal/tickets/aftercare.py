"""After the repair: the owner's rating, the follow-up of a low rating, the recheck some
weeks later (the daily job), and the service-recovery tasks collections waits for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, joinedload

from portal.accounts.models import User
from portal.audit import service as audit
from portal.errors import Conflict, DomainError, NotFound
from portal.tickets.base import (
    is_owner_of,
    owner_filter,
    record_event,
    require_owner,
    require_staff,
    staff_community_ids,
    staff_roles_in,
)
from portal.tickets.models import (
    DONE_STATUSES,
    EventKind,
    FollowupKind,
    FollowupStatus,
    RatingChannel,
    Ticket,
    TicketFollowup,
    TicketRating,
    TicketStatus,
)
from portal.tickets.workflow import close, reopen
from portal.timeutil import to_local, zone

AUTO_CLOSE_DAYS = 7
RECHECK_DAYS = 14
RECHECK_LOOKBACK_DAYS = 30  # a job started late does not pester owners about ancient repairs
RECHECK_EXPIRE_DAYS = 30
LOW_RATING = 2


# ---------------------------------------------------------------- ratings and follow-ups


def rate(
    session: Session,
    *,
    ticket: Ticket,
    actor: User,
    now: datetime,
    score: Any,
    comment_text: str = "",
    channel: str = RatingChannel.OWNER,
) -> TicketRating:
    """Rate a resolved ticket 1-5, once; ≤ 2 opens a service-recovery task for staff."""
    if channel == RatingChannel.PHONE:
        require_staff(ticket, actor, dispatch=True)
    else:
        require_owner(session, ticket, actor)
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise DomainError(_l("评分必须是 1 到 5 的整数"), field="score", code="out_of_range")
    if ticket.status not in DONE_STATUSES:
        raise Conflict(_l("工单解决后才能评价"), code="not_resolved")
    if session.scalar(select(TicketRating.id).where(TicketRating.ticket_id == ticket.id)):
        raise Conflict(_l("该工单已评价过"), code="already_rated")
    comment_text = (comment_text or "").strip()
    if len(comment_text) > 1000:
        raise DomainError(_l("评价内容不能超过 1000 字"), field="comment")
    rating = TicketRating(
        ticket_id=ticket.id,
        score=score,
        comment=comment_text,
        channel=channel,
        recorded_by_id=actor.id,
        created_at=now,
    )
    session.add(rating)
    ticket.rating_score = score
    session.flush()
    record_event(
        session,
        ticket,
        kind=EventKind.RATED,
        actor=actor,
        now=now,
        body=comment_text,
        data={"score": score, "channel": channel},
    )
    if score <= LOW_RATING:
        session.add(
            TicketFollowup(
                ticket_id=ticket.id,
                kind=FollowupKind.SERVICE_RECOVERY,
                round=ticket.reopen_count,
                status=FollowupStatus.OPEN,
                created_at=now,
                due_on=(to_local(now, zone(ticket.community.timezone)) + timedelta(days=2)).date(),
                note="",
            )
        )
        session.flush()
    if channel == RatingChannel.PHONE:
        audit.record(
            session,
            actor_id=actor.id,
            action="ticket.rate_by_phone",
            target_type="ticket",
            target_id=ticket.id,
            community_id=ticket.community_id,
            now=now,
            details={"score": score},
        )
    return rating


def complete_followup(
    session: Session, *, followup: TicketFollowup, actor: User, now: datetime, note: str
) -> None:
    """Close a service-recovery task with what was done (called back, re-repaired, …)."""
    if followup.kind != FollowupKind.SERVICE_RECOVERY:
        raise DomainError(_l("此回访由业主回答"), field="note")
    require_staff(followup.ticket, actor, dispatch=True)
    note = (note or "").strip()
    if not note:
        raise DomainError(_l("请记录回访结果"), field="note", code="required")
    moved = session.execute(
        update(TicketFollowup)
        .where(TicketFollowup.id == followup.id, TicketFollowup.status == FollowupStatus.OPEN)
        .values(status=FollowupStatus.DONE, done_at=now, note=note[:2000], handled_by_id=actor.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict(_l("该回访已处理"), code="stale")
    session.refresh(followup)
    record_event(
        session,
        followup.ticket,
        kind=EventKind.NOTE,
        actor=actor,
        now=now,
        body=note[:2000],
        internal=True,
        data={"followup": followup.id},
    )


def answer_recheck(
    session: Session,
    *,
    followup: TicketFollowup,
    actor: User,
    now: datetime,
    fixed: bool,
    note: str = "",
) -> None:
    """The owner's answer to "is it still fixed?"; "no" reopens the ticket."""
    if followup.kind != FollowupKind.RECHECK:
        raise NotFound(_l("回访不存在"))
    ticket = followup.ticket
    require_owner(session, ticket, actor)
    moved = session.execute(
        update(TicketFollowup)
        .where(TicketFollowup.id == followup.id, TicketFollowup.status == FollowupStatus.OPEN)
        .values(
            status=FollowupStatus.DONE,
            done_at=now,
            answer="fixed" if fixed else "not_fixed",
            note=(note or "").strip()[:2000],
            handled_by_id=actor.id,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict(_l("您已经回答过了"), code="stale")
    session.refresh(followup)
    record_event(
        session,
        ticket,
        kind=EventKind.RECHECK_ANSWERED,
        actor=actor,
        now=now,
        body=(note or "").strip()[:2000],
        data={"fixed": fixed},
    )
    if not fixed and ticket.status in DONE_STATUSES:
        reopen(
            session,
            ticket=ticket,
            actor=actor,
            now=now,
            reason=(note or "").strip() or str(_l("回访：问题没有解决")),
            by_owner=True,
            via_recheck=True,
        )


@dataclass
class FollowupRun:
    closed: int = 0
    rechecks: int = 0
    expired: int = 0
    numbers: list[str] = field(default_factory=list)


def run_followups(session: Session, *, day: date, now: datetime) -> FollowupRun:
    """The daily job: auto-close after 7 quiet days, ask "still fixed?" at 14 days. Idempotent.

    Cut-offs are computed from the start of `day` (Asia/Shanghai midnight, as UTC), so re-running
    a date, or running it late, gives the same result.
    """
    from portal.timeutil import DEFAULT_TZ

    as_of = datetime.combine(day, time(0), DEFAULT_TZ).astimezone(UTC)
    result = FollowupRun()
    to_close = session.scalars(
        select(Ticket)
        .where(
            Ticket.status == TicketStatus.RESOLVED,
            Ticket.resolved_at <= as_of - timedelta(days=AUTO_CLOSE_DAYS),
        )
        .order_by(Ticket.id)
    ).all()
    for ticket in to_close:
        close(session, ticket=ticket, actor=None, now=now)
        result.closed += 1
    asked = (
        select(TicketFollowup.id)
        .where(
            TicketFollowup.ticket_id == Ticket.id,
            TicketFollowup.kind == FollowupKind.RECHECK,
            TicketFollowup.round == Ticket.reopen_count,
        )
        .correlate(Ticket)
    )
    due = session.scalars(
        select(Ticket)
        .options(joinedload(Ticket.community))
        .where(
            Ticket.status.in_(DONE_STATUSES),
            Ticket.resolved_at <= as_of - timedelta(days=RECHECK_DAYS),
            Ticket.resolved_at > as_of - timedelta(days=RECHECK_DAYS + RECHECK_LOOKBACK_DAYS),
            Ticket.reporter_id.is_not(None),
            ~exists(asked),
        )
        .order_by(Ticket.id)
    ).all()
    for ticket in due:
        session.add(
            TicketFollowup(
                ticket_id=ticket.id,
                kind=FollowupKind.RECHECK,
                round=ticket.reopen_count,
                status=FollowupStatus.OPEN,
                created_at=now,
                due_on=day + timedelta(days=RECHECK_EXPIRE_DAYS),
                note="",
            )
        )
        record_event(session, ticket, kind=EventKind.RECHECK_ASKED, actor=None, now=now)
        result.rechecks += 1
        result.numbers.append(ticket.number)
    result.expired = (
        session.execute(
            update(TicketFollowup)
            .where(
                TicketFollowup.kind == FollowupKind.RECHECK,
                TicketFollowup.status == FollowupStatus.OPEN,
                TicketFollowup.due_on < day,
            )
            .values(status=FollowupStatus.EXPIRED)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    session.flush()
    return result


def pending_rechecks(session: Session, *, user: User) -> list[TicketFollowup]:
    """Open "is it still fixed?" questions on the user's tickets."""
    return list(
        session.scalars(
            select(TicketFollowup)
            .join(Ticket, Ticket.id == TicketFollowup.ticket_id)
            .options(joinedload(TicketFollowup.ticket))
            .where(
                TicketFollowup.kind == FollowupKind.RECHECK,
                TicketFollowup.status == FollowupStatus.OPEN,
                owner_filter(session, user),
            )
            .order_by(TicketFollowup.id)
        )
    )


def get_owned_followup(session: Session, *, user: User, followup_id: int) -> TicketFollowup | None:
    followup = session.get(TicketFollowup, followup_id)
    if followup is None or not is_owner_of(session, followup.ticket, user):
        return None
    return followup


def get_scoped_followup(
    session: Session, *, staff: User, followup_id: int
) -> TicketFollowup | None:
    followup = session.get(TicketFollowup, followup_id)
    if followup is None or not staff_roles_in(staff, followup.ticket.community_id):
        return None
    return followup


def open_service_tasks(
    session: Session, *, staff: User, community_id: int | None = None
) -> list[TicketFollowup]:
    """Open service-recovery tasks (low ratings) in the staff member's communities."""
    query = (
        select(TicketFollowup)
        .join(Ticket, Ticket.id == TicketFollowup.ticket_id)
        .options(
            joinedload(TicketFollowup.ticket).joinedload(Ticket.unit),
            joinedload(TicketFollowup.ticket).joinedload(Ticket.category),
            joinedload(TicketFollowup.ticket).joinedload(Ticket.rating),
        )
        .where(
            TicketFollowup.kind == FollowupKind.SERVICE_RECOVERY,
            TicketFollowup.status == FollowupStatus.OPEN,
        )
        .order_by(TicketFollowup.due_on, TicketFollowup.id)
    )
    ids = staff_community_ids(staff)
    if ids is not None:
        query = query.where(Ticket.community_id.in_(ids or {-1}))
    if community_id is not None:
        query = query.where(Ticket.community_id == community_id)
    return list(session.scalars(query).unique())
