"""Demo: contact details for the demo owners and a welcome in their inbox.

Bill announcements reach the inboxes from billing's demo (the current period's run), so the
demo owners open the portal to a welcome, a contact check and their latest bill."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from portal.accounts.models import User
from portal.communities.models import Ownership, Unit
from portal.demo.service import DemoContext
from portal.notify import sending, service
from portal.notify.channels import InboxChannel
from portal.notify.models import Category, ChannelName, Reason
from portal.timeutil import DEFAULT_TZ, to_local

CONTACTS = {
    "demo-owner": {"email": "demo-owner@example.com", "wechat_openid": None},
    "demo-owner-2": {"email": None, "wechat_openid": "oDEMO2wx7Jq1K9"},
}


def seed(ctx: DemoContext) -> None:
    """Contact details and welcome messages for the demo owners (fast: a handful of rows)."""
    session = ctx.session
    # A weekday morning three days ago, inside the contact hours.
    day = to_local(ctx.now, DEFAULT_TZ).date() - timedelta(days=3)
    at = datetime.combine(day, time(9, 30), tzinfo=DEFAULT_TZ).astimezone(UTC)
    made = 0
    for username, details in CONTACTS.items():
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            continue
        user.email = details["email"]
        user.wechat_openid = details["wechat_openid"]
        unit = session.scalar(
            select(Unit)
            .join(Ownership, Ownership.unit_id == Unit.id)
            .where(Ownership.user_id == user.id, Ownership.ended_on.is_(None))
        )
        if unit is None:
            continue
        made += len(
            service.queue_message(
                session,
                event_key=f"welcome:user:{user.id}",
                recipient=user,
                community_id=unit.community_id,
                unit_id=unit.id,
                reason=Reason.ACCOUNT,
                category=Category.SERVICE,
                template_key="welcome",
                context={"settings_url": service.public_url("/notify/settings")},
                related_type="user",
                related_id=user.id,
                channels=[ChannelName.INBOX, ChannelName.SMS],  # SMS is not set up: recorded
                now=at,
            )
        )
    session.flush()
    sending.send_due(
        session,
        now=at,
        channels={ChannelName.INBOX: InboxChannel()},
        commit=session.flush,
        only=(ChannelName.INBOX,),
    )
    ctx.result.lines.append(f"notify: {made} welcome messages for the demo owners")
