"""The owner hears when their objection is answered (a response is offered to them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.disputes.models import Dispute, DisputeProposal
from portal.notify import service as notify
from portal.notify.models import Category, Reason

SUMMARY_CHARS = 80


def queue_dispute_answered(
    session: Session, *, dispute: Dispute, proposal: DisputeProposal, now: datetime
) -> int:
    """Queue 'your objection has an answer' for the owner (once per proposal)."""
    owner = session.get(User, dispute.owner_id)
    if owner is None:
        return 0
    body = " ".join((proposal.body or "").split())
    summary = body[:SUMMARY_CHARS] + ("…" if len(body) > SUMMARY_CHARS else "")
    return len(
        notify.queue_message(
            session,
            event_key=f"dispute:{dispute.id}:proposal:{proposal.id}",
            recipient=owner,
            community_id=dispute.community_id,
            unit_id=dispute.unit_id,
            reason=Reason.DISPUTE_ANSWERED,
            category=Category.SERVICE,
            template_key=Reason.DISPUTE_ANSWERED,
            context={
                "number": f"#{dispute.id}",
                "summary": summary,
                "dispute_url": notify.public_url(f"/disputes/{dispute.id}"),
            },
            related_type="dispute",
            related_id=dispute.id,
            now=now,
        )
    )
