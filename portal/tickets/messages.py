"""Repair-request updates for the owner: acknowledged, assigned to an engineer, resolved."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.notify import service as notify
from portal.notify.models import Category, Reason
from portal.tickets.models import EventKind, Ticket, TicketEvent

STATUS_TEXT = {
    EventKind.ACKNOWLEDGED: ("已受理，客服正在安排", "has been received and is being arranged"),
    EventKind.ASSIGNED: ("已派单给维修师傅", "has been assigned to an engineer"),
    EventKind.RESOLVED: ("已处理完成，欢迎评价", "has been resolved; please rate the work"),
}


def queue_ticket_update(
    session: Session, *, ticket: Ticket, event: TicketEvent, now: datetime
) -> int:
    """Tell the reporter when their request is acknowledged, assigned or resolved."""
    texts = STATUS_TEXT.get(EventKind(event.kind)) if event.kind in set(EventKind) else None
    if texts is None or event.internal or ticket.unit_id is None:
        return 0
    recipient = session.get(User, ticket.reporter_id) if ticket.reporter_id else None
    if recipient is None:
        owners = notify.owners_of_units(session, [ticket.unit_id]).get(ticket.unit_id, [])
        recipient = owners[0] if owners else None
    if recipient is None:
        return 0
    note = (event.body or "").strip()
    return len(
        notify.queue_message(
            session,
            event_key=f"ticket:{ticket.id}:{event.kind}:{event.id}",
            recipient=recipient,
            community_id=ticket.community_id,
            unit_id=ticket.unit_id,
            reason=Reason.TICKET_UPDATED,
            category=Category.SERVICE,
            template_key=Reason.TICKET_UPDATED,
            context={
                "number": ticket.number,
                "status": texts[0],
                "status_en": texts[1],
                "note": note[:200],
                "ticket_url": notify.public_url(f"/tickets/{ticket.id}"),
            },
            related_type="ticket",
            related_id=ticket.id,
            now=now,
        )
    )
