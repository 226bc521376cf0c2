"""Dispatch and the workflow: acknowledge, assign, start, resolve, close, reopen, cancel,
comment. Every transition is a compare-and-set on the status (two staff pressing a button
at once get one transition and one clear conflict) and appends a timeline event."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portal.accounts.models import User
from portal.audit import service as audit
from portal.errors import Conflict, DomainError, NotFound
from portal.tickets.base import (
    get_scoped_ticket,
    record_event,
    require_owner,
    require_staff,
    staff_roles_in,
    status_label,
)
from portal.tickets.intake import PhotoUpload, add_photos
from portal.tickets.models import (
    DONE_STATUSES,
    OPEN_STATUSES,
    EventKind,
    Ticket,
    TicketEvent,
    TicketStatus,
)

REOPEN_DAYS = 7


# ---------------------------------------------------------------- the workflow


def _cas(
    session: Session,
    ticket: Ticket,
    *,
    allowed_from: Iterable[str],
    to: str,
    now: datetime,
    values: dict[str, Any] | None = None,
) -> str:
    """Move the ticket from its current status to `to` only if nobody moved it meanwhile."""
    old = ticket.status
    if old not in set(allowed_from):
        raise Conflict(
            _l("工单当前状态（%(status)s）不能执行此操作", status=status_label(old)),
            code="bad_status",
        )
    changes = {"status": to, "updated_at": now, **(values or {})}
    moved = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == old)
        .values(**changes)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict(_l("工单刚被其他人处理过，请刷新后重试"), code="stale")
    for key, value in changes.items():
        set_committed_value(ticket, key, value)  # the row already holds them
    return old


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


def _first_response_values(ticket: Ticket, now: datetime) -> dict[str, Any]:
    if ticket.acknowledged_at is not None:
        return {}
    return {
        "acknowledged_at": now,
        "first_response_s": _seconds(ticket.created_at, now),
        "first_response_met": now <= ticket.first_response_due_at,
    }


def acknowledge(
    session: Session, *, ticket: Ticket, actor: User, now: datetime, note: str = ""
) -> None:
    """First response: customer service has seen the request and is on it."""
    require_staff(ticket, actor, dispatch=True)
    old = _cas(
        session,
        ticket,
        allowed_from=(TicketStatus.SUBMITTED,),
        to=TicketStatus.ACKNOWLEDGED,
        now=now,
        values=_first_response_values(ticket, now),
    )
    record_event(
        session,
        ticket,
        kind=EventKind.ACKNOWLEDGED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.ACKNOWLEDGED,
        body=(note or "").strip()[:2000],
    )


def bulk_acknowledge(
    session: Session, *, ticket_ids: Sequence[int], actor: User, now: datetime
) -> int:
    """Acknowledge every listed ticket still waiting; the others are skipped, not errors."""
    done = 0
    for ticket_id in dict.fromkeys(ticket_ids):
        ticket = get_scoped_ticket(session, staff=actor, ticket_id=ticket_id)
        if ticket is None:
            raise NotFound(_l("工单不存在"))
        if ticket.status != TicketStatus.SUBMITTED:
            continue
        acknowledge(session, ticket=ticket, actor=actor, now=now)
        done += 1
    return done


def assign(
    session: Session, *, ticket: Ticket, actor: User, assignee: User, now: datetime, note: str = ""
) -> None:
    """Dispatch (or re-dispatch) the ticket to an engineer of its community."""
    require_staff(ticket, actor, dispatch=True)
    if not staff_roles_in(assignee, ticket.community_id) & {"engineer", "manager"}:
        raise DomainError(_l("只能派给本小区的工程人员"), field="assignee")
    values = {"assignee_id": assignee.id, "assigned_at": now, **_first_response_values(ticket, now)}
    old = _cas(
        session,
        ticket,
        allowed_from=(
            TicketStatus.SUBMITTED,
            TicketStatus.ACKNOWLEDGED,
            TicketStatus.ASSIGNED,
            TicketStatus.IN_PROGRESS,
            TicketStatus.REOPENED,
        ),
        to=TicketStatus.ASSIGNED,
        now=now,
        values=values,
    )
    record_event(
        session,
        ticket,
        kind=EventKind.ASSIGNED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.ASSIGNED,
        body=(note or "").strip()[:2000],
        data={"assignee_id": assignee.id, "assignee": assignee.display_name},
    )


def start_work(session: Session, *, ticket: Ticket, actor: User, now: datetime) -> None:
    """The engineer is on site / working on it."""
    require_staff(ticket, actor)
    if ticket.assignee_id is None:
        raise Conflict(_l("请先派单"), code="bad_status")
    old = _cas(
        session,
        ticket,
        allowed_from=(TicketStatus.ASSIGNED, TicketStatus.REOPENED),
        to=TicketStatus.IN_PROGRESS,
        now=now,
        values={"started_at": now, **_first_response_values(ticket, now)},
    )
    record_event(
        session,
        ticket,
        kind=EventKind.STARTED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.IN_PROGRESS,
    )


def resolve(
    session: Session,
    *,
    ticket: Ticket,
    actor: User,
    now: datetime,
    note: str,
    photos: Sequence[PhotoUpload] = (),
) -> None:
    """The work is done; the owner may now rate it, or reopen it within 7 days."""
    require_staff(ticket, actor)
    note = (note or "").strip()
    if not note:
        raise DomainError(_l("请说明处理结果"), field="note", code="required")
    if len(note) > 2000:
        raise DomainError(_l("处理说明不能超过 2000 字"), field="note")
    values = {
        "resolved_at": now,
        "resolution_s": _seconds(ticket.created_at, now),
        "resolution_met": now <= ticket.resolution_due_at,
        **_first_response_values(ticket, now),
    }
    old = _cas(
        session,
        ticket,
        allowed_from=(
            TicketStatus.ACKNOWLEDGED,
            TicketStatus.ASSIGNED,
            TicketStatus.IN_PROGRESS,
            TicketStatus.REOPENED,
        ),
        to=TicketStatus.RESOLVED,
        now=now,
        values=values,
    )
    record_event(
        session,
        ticket,
        kind=EventKind.RESOLVED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.RESOLVED,
        body=note,
    )
    add_photos(session, ticket=ticket, actor=actor, now=now, photos=photos, stage="resolution")


def close(
    session: Session, *, ticket: Ticket, actor: User | None, now: datetime, by_owner: bool = False
) -> None:
    """Close a resolved ticket: the owner confirms, staff close it, or the job does after 7 days."""
    if actor is not None:
        if by_owner:
            require_owner(session, ticket, actor)
        else:
            require_staff(ticket, actor, dispatch=True)
    old = _cas(
        session,
        ticket,
        allowed_from=(TicketStatus.RESOLVED,),
        to=TicketStatus.CLOSED,
        now=now,
        values={"closed_at": now},
    )
    record_event(
        session,
        ticket,
        kind=EventKind.CLOSED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.CLOSED,
        data={"by": "owner" if by_owner else ("staff" if actor else "system")},
    )


def can_reopen(ticket: Ticket, now: datetime) -> bool:
    """The owner may reopen within 7 days of the (latest) resolution."""
    return (
        ticket.status in DONE_STATUSES
        and ticket.resolved_at is not None
        and now <= ticket.resolved_at + timedelta(days=REOPEN_DAYS)
    )


def reopen(
    session: Session,
    *,
    ticket: Ticket,
    actor: User,
    now: datetime,
    reason: str,
    by_owner: bool = True,
    via_recheck: bool = False,
) -> None:
    """Reopen a resolved ticket: the problem is back. Owners have 7 days (the recheck, longer)."""
    if by_owner:
        require_owner(session, ticket, actor)
    else:
        require_staff(ticket, actor, dispatch=True)
    reason = (reason or "").strip()
    if not reason and not via_recheck:
        raise DomainError(_l("请说明还有什么问题"), field="reason", code="required")
    if ticket.status not in DONE_STATUSES:
        raise Conflict(_l("只有已解决的工单才能重新打开"), code="bad_status")
    if by_owner and not via_recheck and not can_reopen(ticket, now):
        raise DomainError(
            _l("已超过 %(n)s 天，不能重新打开；请提交新的报修", n=REOPEN_DAYS),
            field="reason",
            code="reopen_window",
        )
    old = _cas(
        session,
        ticket,
        allowed_from=DONE_STATUSES,
        to=TicketStatus.REOPENED,
        now=now,
        values={
            "reopen_count": ticket.reopen_count + 1,
            "closed_at": None,
            # Not resolved any more; the original due time stands (a fix that did not hold
            # was not a fix in time). resolved_at is kept: it was resolved once.
            "resolution_s": None,
            "resolution_met": None,
        },
    )
    record_event(
        session,
        ticket,
        kind=EventKind.REOPENED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.REOPENED,
        body=reason[:2000],
        data={"via": "recheck" if via_recheck else ("owner" if by_owner else "staff")},
    )


def cancel(
    session: Session, *, ticket: Ticket, actor: User, now: datetime, reason: str, by_owner: bool
) -> None:
    """Withdraw a request that is not yet resolved (the owner, or staff with a reason)."""
    if by_owner:
        require_owner(session, ticket, actor)
    else:
        require_staff(ticket, actor, dispatch=True)
    reason = (reason or "").strip()
    if not by_owner and not reason:
        raise DomainError(_l("请填写取消原因"), field="reason", code="required")
    old = _cas(
        session,
        ticket,
        allowed_from=OPEN_STATUSES,
        to=TicketStatus.CANCELLED,
        now=now,
        values={"cancelled_at": now},
    )
    record_event(
        session,
        ticket,
        kind=EventKind.CANCELLED,
        actor=actor,
        now=now,
        from_status=old,
        to_status=TicketStatus.CANCELLED,
        body=reason[:2000],
    )
    if not by_owner:
        audit.record(
            session,
            actor_id=actor.id,
            action="ticket.cancel",
            target_type="ticket",
            target_id=ticket.id,
            community_id=ticket.community_id,
            now=now,
            details={"number": ticket.number, "reason": reason[:200]},
        )


def comment(
    session: Session,
    *,
    ticket: Ticket,
    actor: User,
    now: datetime,
    body: str,
    internal: bool = False,
    by_owner: bool = False,
) -> TicketEvent:
    """A comment on the timeline; staff may add internal notes the owner does not see."""
    body = (body or "").strip()
    if not body:
        raise DomainError(_l("内容不能为空"), field="body", code="required")
    if len(body) > 2000:
        raise DomainError(_l("内容不能超过 2000 字"), field="body")
    if by_owner:
        require_owner(session, ticket, actor)
        internal = False
    else:
        require_staff(ticket, actor)
    if ticket.status == TicketStatus.CANCELLED and by_owner:
        raise Conflict(_l("工单已取消"), code="bad_status")
    ticket.updated_at = now
    return record_event(
        session,
        ticket,
        kind=EventKind.NOTE if internal else EventKind.COMMENT,
        actor=actor,
        now=now,
        body=body,
        internal=internal,
    )
