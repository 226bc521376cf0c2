"""What every ticket workflow shares: staff roles, who may see and act on a ticket, the
timeline event log and status labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.accounts.models import RoleAssignment, User
from portal.communities.models import Ownership
from portal.errors import NotFound, PermissionDenied
from portal.tickets import messages
from portal.tickets.models import (
    Ticket,
    TicketEvent,
    TicketKind,
    TicketStatus,
)

TICKET_STAFF_ROLES = ("cs", "engineer", "manager")
DISPATCH_ROLES = ("cs", "manager")


# ---------------------------------------------------------------- who may see and do what


def staff_roles_in(user: User, community_id: int) -> set[str]:
    """The ticket roles a user holds in a community (admins act as managers everywhere)."""
    if user.is_admin:
        return {"manager", "cs", "engineer"}
    return {
        r.role
        for r in user.roles
        if r.community_id == community_id and r.role in TICKET_STAFF_ROLES
    }


def staff_community_ids(user: User, *roles: str) -> set[int] | None:
    """Communities where the user works tickets (None = all, for admins)."""
    if user.is_admin:
        return None
    return user.community_ids(*(roles or TICKET_STAFF_ROLES))


def owned_unit_ids(session: Session, user: User) -> list[int]:
    return list(
        session.scalars(
            select(Ownership.unit_id).where(
                Ownership.user_id == user.id, Ownership.ended_on.is_(None)
            )
        )
    )


def owner_filter(session: Session, user: User) -> Any:
    units = owned_unit_ids(session, user)
    return or_(Ticket.reporter_id == user.id, Ticket.unit_id.in_(units or [-1]))


def get_owned_ticket(session: Session, *, user: User, ticket_id: int) -> Ticket | None:
    """A ticket the user reported, or one of a unit they own now; None (→ 404) otherwise."""
    return session.scalar(select(Ticket).where(Ticket.id == ticket_id, owner_filter(session, user)))


def get_scoped_ticket(session: Session, *, staff: User, ticket_id: int) -> Ticket | None:
    """A ticket of a community where the user works tickets; None (→ 404) otherwise."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    roles = staff_roles_in(staff, ticket.community_id)
    # A complaint (it may name a staff member) is for customer service and the manager only.
    if ticket.kind == TicketKind.COMPLAINT:
        roles &= set(DISPATCH_ROLES)
    if not roles:
        return None
    return ticket


def is_owner_of(session: Session, ticket: Ticket, user: User) -> bool:
    return ticket.reporter_id == user.id or (
        ticket.unit_id is not None and ticket.unit_id in owned_unit_ids(session, user)
    )


def require_owner(session: Session, ticket: Ticket, user: User) -> None:
    if not is_owner_of(session, ticket, user):
        raise NotFound(_l("工单不存在"))


def require_staff(ticket: Ticket, actor: User, *, dispatch: bool = False) -> set[str]:
    roles = staff_roles_in(actor, ticket.community_id)
    if not roles:
        raise NotFound(_l("工单不存在"))
    if roles & set(DISPATCH_ROLES):
        return roles
    if dispatch:
        raise PermissionDenied(_l("只有客服或管理处负责人可以执行此操作"), code="forbidden")
    if ticket.assignee_id != actor.id:
        raise PermissionDenied(_l("该工单未派给您，不能操作"), code="not_assignee")
    return roles


def engineers_of(session: Session, community_id: int) -> list[User]:
    """Users who can be assigned tickets in a community (engineers, and managers)."""
    return list(
        session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(
                RoleAssignment.community_id == community_id,
                RoleAssignment.role.in_(("engineer", "manager")),
                User.active.is_(True),
            )
            .order_by(User.display_name, User.id)
        ).unique()
    )


def record_event(
    session: Session,
    ticket: Ticket,
    *,
    kind: str,
    actor: User | None,
    now: datetime,
    body: str = "",
    internal: bool = False,
    from_status: str | None = None,
    to_status: str | None = None,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        actor_id=actor.id if actor else None,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        body=body,
        internal=internal,
        data=data or {},
    )
    session.add(event)
    session.flush()
    messages.queue_ticket_update(session, ticket=ticket, event=event, now=now)
    return event


# ---------------------------------------------------------------- labels


STATUS_LABELS: dict[str, Any] = {
    TicketStatus.SUBMITTED: _l("已提交"),
    TicketStatus.ACKNOWLEDGED: _l("已受理"),
    TicketStatus.ASSIGNED: _l("已派单"),
    TicketStatus.IN_PROGRESS: _l("处理中"),
    TicketStatus.RESOLVED: _l("已解决"),
    TicketStatus.CLOSED: _l("已关闭"),
    TicketStatus.REOPENED: _l("已重新打开"),
    TicketStatus.CANCELLED: _l("已取消"),
}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))
