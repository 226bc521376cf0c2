"""Complaints (投诉) as a kind of ticket: filed by an owner for their unit (or by customer
service from a call), answered on the ticket's SLA clock, rated by the owner like a repair."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.accounts.models import RoleAssignment, User
from portal.communities import service as communities
from portal.communities.models import Community, Unit
from portal.errors import DomainError
from portal.feedback import recovery
from portal.pagination import Page, paginate
from portal.tickets import intake, workflow
from portal.tickets import setup as tickets_setup
from portal.tickets.base import owner_filter
from portal.tickets.models import (
    Channel,
    LocationType,
    Ticket,
    TicketCategory,
    TicketKind,
    TicketStatus,
)

STAFF_NAMEABLE = ("cs", "engineer", "manager", "collector", "finance")


def complaint_categories(session: Session, community: Community) -> list[TicketCategory]:
    """The community's active complaint categories (defaults and their SLA made on first use)."""
    return tickets_setup.list_categories(session, community, kind=TicketKind.COMPLAINT)


def nameable_staff(session: Session, community: Community) -> list[User]:
    """Staff of the community an owner may name in a complaint (display names only)."""
    return list(
        session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(
                RoleAssignment.community_id == community.id,
                RoleAssignment.role.in_(STAFF_NAMEABLE),
            )
            .order_by(User.display_name, User.id)
            .distinct()
        )
    )


def _check_staff(session: Session, community: Community, staff_id: int | None) -> int | None:
    if staff_id is None:
        return None
    if staff_id not in {u.id for u in nameable_staff(session, community)}:
        raise DomainError(_l("所投诉的工作人员不属于本小区"), field="about_staff_id")
    return staff_id


def file_complaint(
    session: Session,
    *,
    owner: User,
    unit_id: int,
    category_code: str,
    description: str,
    now: datetime,
    about_staff_id: int | None = None,
) -> Ticket:
    """An owner's complaint about their unit's service; checked fully before anything is written."""
    unit = communities.get_owned_unit(session, user=owner, unit_id=unit_id)
    if unit is None:
        raise DomainError(_l("只能为自己名下的房屋投诉"), field="unit_id", code="not_owner")
    community = unit.community
    staff_id = _check_staff(session, community, about_staff_id)
    complaint_categories(session, community)
    ticket = intake.create_ticket(
        session,
        community=community,
        actor=owner,
        now=now,
        category_code=category_code,
        description=description,
        unit=unit,
        location_type=LocationType.IN_HOME,
        channel=Channel.WEB,
        kind=TicketKind.COMPLAINT,
        about_staff_id=staff_id,
    )
    recovery.recover_unit(session, unit_id=unit.id, now=now, community=community)
    return ticket


def record_complaint(
    session: Session,
    *,
    staff: User,
    community: Community,
    unit: Unit,
    category_code: str,
    description: str,
    now: datetime,
    about_staff_id: int | None = None,
) -> Ticket:
    """Customer service records a complaint taken by phone for a unit of its community."""
    if unit.community_id != community.id:
        raise DomainError(_l("房屋不属于本小区"), field="unit", code="other_community")
    staff_id = _check_staff(session, community, about_staff_id)
    complaint_categories(session, community)
    ticket = intake.create_ticket(
        session,
        community=community,
        actor=staff,
        now=now,
        category_code=category_code,
        description=description,
        unit=unit,
        location_type=LocationType.IN_HOME,
        channel=Channel.PHONE,
        on_behalf=True,
        kind=TicketKind.COMPLAINT,
        about_staff_id=staff_id,
    )
    recovery.recover_unit(session, unit_id=unit.id, now=now, community=community)
    return ticket


def owner_complaints(
    session: Session, *, owner: User, page: int = 1, per_page: int = 50
) -> Page[Ticket]:
    """The owner's complaints, newest first (their own and those of units they own), a page at
    a time."""
    query = (
        select(Ticket)
        .options(joinedload(Ticket.category), joinedload(Ticket.unit))
        .where(owner_filter(session, owner), Ticket.kind == TicketKind.COMPLAINT)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    return paginate(session, query, page=page, per_page=per_page, unique=True)


def answer_complaint(
    session: Session, *, ticket: Ticket, staff: User, answer: str, now: datetime
) -> None:
    """Customer service answers a complaint (受理 if needed, then 答复); the owner rates it."""
    if ticket.kind != TicketKind.COMPLAINT:
        raise DomainError(_l("这不是投诉工单"), code="not_complaint")
    if not (answer or "").strip():
        raise DomainError(_l("请填写答复内容"), field="note", code="required")
    if ticket.status == TicketStatus.SUBMITTED:
        workflow.acknowledge(session, ticket=ticket, actor=staff, now=now)
    workflow.resolve(session, ticket=ticket, actor=staff, now=now, note=answer)
