"""Builders and fake channels for the notify tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.communities.models import Community, Unit
from portal.notify import service
from portal.notify.channels import Delivered, DeliveryError, InboxChannel, LetterChannel, Outgoing
from portal.notify.models import Category, Message, Reason
from tests import factories

SHANGHAI_1030 = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
SHANGHAI_2230 = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai


@dataclass
class World:
    community: Community
    unit: Unit
    owner: User


def make_world(session: Session, *, phone: str = "13812341234", **owner_fields: Any) -> World:
    community = factories.make_community(session, hotline="021-5888 1234")
    unit = factories.make_unit(session, community=community)
    owner = factories.make_user(
        session, role="owner", unit=unit, display_name="王先生", phone=phone
    )
    for key, value in owner_fields.items():
        setattr(owner, key, value)
    session.flush()
    return World(community, unit, owner)


@dataclass
class FakeChannel:
    """Records what it was asked to deliver; fails the first `fail` times."""

    name: str
    fail: int = 0
    retryable: bool = True
    needs_address: bool = True
    sent: list[Outgoing] = field(default_factory=list)
    calls: int = 0

    def deliver(self, message: Outgoing, *, now: datetime) -> Delivered:
        self.calls += 1
        if self.calls <= self.fail:
            raise DeliveryError("provider said no", retryable=self.retryable)
        self.sent.append(message)
        return Delivered(provider_id=f"P{message.message_id}")


def channels(**fakes: FakeChannel) -> dict[str, Any]:
    return {"inbox": InboxChannel(), "letter": LetterChannel(), **fakes}


def queue(
    session: Session,
    world: World,
    *,
    key: str = "bill_issued:bill:1",
    reason: str = Reason.BILL_ISSUED,
    category: str = Category.MONEY,
    template: str = "bill_issued",
    now: datetime = SHANGHAI_1030,
    **kwargs: Any,
) -> list[Message]:
    kwargs.setdefault("context", {"period": "2026年12月", "amount_fen": 25000})
    kwargs.setdefault("amount_fen", 25000)
    kwargs.setdefault("held_fen", 0)
    return service.queue_message(
        session,
        event_key=key,
        recipient=world.owner,
        community_id=world.community.id,
        unit_id=world.unit.id,
        reason=reason,
        category=category,
        template_key=template,
        related_type="bill",
        related_id=1,
        now=now,
        **kwargs,
    )


def by_channel(messages: list[Message]) -> dict[str, Message]:
    return {m.channel: m for m in messages}
