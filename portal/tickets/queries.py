"""Reading tickets: an owner's list, the common-area feed, the staff board and the
engineer's queue, a ticket's detail, and the service signals collections reads per unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.accounts.models import User
from portal.pagination import Page, paginate
from portal.tickets.aftercare import LOW_RATING
from portal.tickets.base import DISPATCH_ROLES, owner_filter, staff_community_ids
from portal.tickets.models import (
    OPEN_STATUSES,
    FollowupKind,
    FollowupStatus,
    LocationType,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketFollowup,
    TicketKind,
    TicketPhoto,
    TicketRating,
    Urgency,
)

# ---------------------------------------------------------------- lists


def owner_tickets_page(
    session: Session, *, user: User, page: int = 1, per_page: int = 20
) -> Page[Ticket]:
    """One page of the owner's tickets, newest first (every one reachable, none cut off)."""
    query = (
        select(Ticket)
        .options(joinedload(Ticket.category), joinedload(Ticket.unit), joinedload(Ticket.rating))
        .where(owner_filter(session, user))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    return paginate(session, query, page=page, per_page=per_page, unique=True)


def common_area_page(
    session: Session,
    *,
    community_id: int,
    open_only: bool = True,
    page: int = 1,
    per_page: int = 50,
) -> Page[Ticket]:
    """One page of a community's common-area tickets (no reporter identity), newest first."""
    query = (
        select(Ticket)
        .options(joinedload(Ticket.category), joinedload(Ticket.building))
        .where(
            Ticket.community_id == community_id,
            Ticket.location_type == LocationType.COMMON_AREA,
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    if open_only:
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    return paginate(session, query, page=page, per_page=per_page, unique=True)


def owner_tickets(session: Session, *, user: User, limit: int = 100) -> list[Ticket]:
    """The owner's tickets, newest first."""
    return list(
        session.scalars(
            select(Ticket)
            .options(
                joinedload(Ticket.category), joinedload(Ticket.unit), joinedload(Ticket.rating)
            )
            .where(owner_filter(session, user))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(limit)
        ).unique()
    )


def common_area_tickets(
    session: Session, *, community_id: int, open_only: bool = True, limit: int = 50
) -> list[Ticket]:
    """Common-area tickets of a community, for every owner to see (no reporter identity)."""
    query = (
        select(Ticket)
        .options(joinedload(Ticket.category), joinedload(Ticket.building))
        .where(
            Ticket.community_id == community_id,
            Ticket.location_type == LocationType.COMMON_AREA,
            Ticket.kind == TicketKind.REPAIR,  # complaints are never public
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    if open_only:
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    return list(session.scalars(query).unique())


def visible_events(ticket: Ticket, *, for_owner: bool) -> list[TicketEvent]:
    """The timeline; internal notes are left out for the owner."""
    return [e for e in ticket.events if not (for_owner and e.internal)]


@dataclass(frozen=True)
class BoardFilters:
    community_id: int | None = None
    status: str = ""  # a status, "open" (default) or "all"
    category_id: int | None = None
    building_id: int | None = None
    assignee_id: int | None = None  # 0 = unassigned
    overdue: bool = False
    search: str = ""


@dataclass(frozen=True)
class BoardPage:
    tickets: list[Ticket]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def overdue_clause(now: datetime) -> Any:
    """Open and past a due time: no first response in time, or not resolved in time."""
    return and_(
        Ticket.status.in_(OPEN_STATUSES),
        or_(
            and_(Ticket.acknowledged_at.is_(None), Ticket.first_response_due_at < now),
            Ticket.resolution_due_at < now,
        ),
    )


def board(
    session: Session,
    *,
    staff: User,
    filters: BoardFilters,
    now: datetime,
    page: int = 1,
    per_page: int = 50,
) -> BoardPage:
    """The staff board: scoped to the user's communities, filtered, most urgent first."""
    query = select(Ticket)
    ids = staff_community_ids(staff)
    if ids is not None:
        query = query.where(Ticket.community_id.in_(ids or {-1}))
        # Complaints only where the user is customer service or the manager.
        dispatch = staff_community_ids(staff, *DISPATCH_ROLES) or {-1}
        query = query.where(
            or_(Ticket.kind == TicketKind.REPAIR, Ticket.community_id.in_(dispatch))
        )
    if filters.community_id is not None:
        query = query.where(Ticket.community_id == filters.community_id)
    if filters.status in ("", "open"):
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    elif filters.status != "all":
        query = query.where(Ticket.status == filters.status)
    if filters.category_id:
        query = query.where(Ticket.category_id == filters.category_id)
    if filters.building_id:
        query = query.where(Ticket.building_id == filters.building_id)
    if filters.assignee_id == 0:
        query = query.where(Ticket.assignee_id.is_(None))
    elif filters.assignee_id:
        query = query.where(Ticket.assignee_id == filters.assignee_id)
    if filters.overdue:
        query = query.where(overdue_clause(now))
    if filters.search:
        query = query.where(Ticket.number.contains(filters.search.strip().upper(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    rows = session.scalars(
        query.options(
            joinedload(Ticket.category),
            joinedload(Ticket.unit),
            joinedload(Ticket.building),
            joinedload(Ticket.assignee),
        )
        .order_by(
            (Ticket.urgency == Urgency.URGENT).desc(),
            Ticket.resolution_due_at,
            Ticket.id,
        )
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).unique()
    return BoardPage(tickets=list(rows), total=total, page=page, per_page=per_page)


def engineer_queue(session: Session, *, engineer: User) -> list[Ticket]:
    """The engineer's own open tickets, most urgent first (the phone view)."""
    return list(
        session.scalars(
            select(Ticket)
            .options(
                joinedload(Ticket.category),
                joinedload(Ticket.unit),
                joinedload(Ticket.building),
                joinedload(Ticket.reporter),
            )
            .where(Ticket.assignee_id == engineer.id, Ticket.status.in_(OPEN_STATUSES))
            .order_by((Ticket.urgency == Urgency.URGENT).desc(), Ticket.resolution_due_at)
        ).unique()
    )


def load_detail(session: Session, ticket_id: int) -> Ticket | None:
    """A ticket with its timeline, photos and rating loaded."""
    return session.scalar(
        select(Ticket)
        .options(
            selectinload(Ticket.events).joinedload(TicketEvent.actor),
            selectinload(Ticket.photos),
            joinedload(Ticket.rating),
            joinedload(Ticket.category),
            joinedload(Ticket.unit),
            joinedload(Ticket.building),
            joinedload(Ticket.assignee),
            joinedload(Ticket.community),
        )
        .where(Ticket.id == ticket_id)
    )


def get_photo(session: Session, *, ticket: Ticket, photo_id: int) -> TicketPhoto | None:
    return session.scalar(
        select(TicketPhoto).where(TicketPhoto.id == photo_id, TicketPhoto.ticket_id == ticket.id)
    )


# ---------------------------------------------------------------- signals for collections


def unit_service_signals(
    session: Session, *, unit_id: int, since: datetime, now: datetime | None = None
) -> dict[str, Any]:
    """What collections reads beside an arrears case: the unit's service experience.

    {"low_ratings", "open_tickets", "overdue_tickets", "mean_rating" (Decimal or None),
     "ratings", "open_service_tasks", "reopened"} — ratings and reopenings since `since`;
    open and overdue tickets as of `now`.
    """
    from portal.timeutil import now_utc

    now = now or now_utc()
    ratings = session.execute(
        select(
            func.count(TicketRating.id),
            func.sum(TicketRating.score),
            func.count(TicketRating.id).filter(TicketRating.score <= LOW_RATING),
        )
        .join(Ticket, Ticket.id == TicketRating.ticket_id)
        .where(Ticket.unit_id == unit_id, TicketRating.created_at >= since)
    ).one()
    tickets = session.execute(
        select(
            func.count(Ticket.id).filter(Ticket.status.in_(OPEN_STATUSES)),
            func.count(Ticket.id).filter(overdue_clause(now)),
            func.count(Ticket.id).filter(Ticket.reopen_count > 0, Ticket.created_at >= since),
        ).where(Ticket.unit_id == unit_id)
    ).one()
    tasks = session.scalar(
        select(func.count(TicketFollowup.id))
        .join(Ticket, Ticket.id == TicketFollowup.ticket_id)
        .where(
            Ticket.unit_id == unit_id,
            TicketFollowup.kind == FollowupKind.SERVICE_RECOVERY,
            TicketFollowup.status == FollowupStatus.OPEN,
        )
    )
    count, total, low = ratings
    mean = (Decimal(total) / Decimal(count)).quantize(Decimal("0.01")) if count else None
    return {
        "low_ratings": low or 0,
        "open_tickets": tickets[0] or 0,
        "overdue_tickets": tickets[1] or 0,
        "mean_rating": mean,
        "ratings": count or 0,
        "reopened": tickets[2] or 0,
        "open_service_tasks": tasks or 0,
    }


def unit_low_ratings(session: Session, *, unit_id: int, since: datetime) -> list[dict[str, Any]]:
    """The unit's low ratings (≤ 2) since a date, with the ticket they concern (for a case page)."""
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.number,
            Ticket.category_id,
            TicketRating.score,
            TicketRating.comment,
            TicketRating.created_at,
            TicketCategory.name,
        )
        .join(TicketRating, TicketRating.ticket_id == Ticket.id)
        .join(TicketCategory, TicketCategory.id == Ticket.category_id)
        .where(
            Ticket.unit_id == unit_id,
            TicketRating.score <= LOW_RATING,
            TicketRating.created_at >= since,
        )
        .order_by(TicketRating.created_at.desc())
    ).all()
    return [
        {
            "ticket_id": r[0],
            "number": r[1],
            "score": r[3],
            "comment": r[4],
            "rated_at": r[5],
            "category": r[6],
        }
        for r in rows
    ]
