"""Builders for transparency tests: evidence files, staff, published records."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.communities.models import Community
from portal.transparency import service as spending
from portal.transparency.models import SpendingCategory, SpendingItem
from tests import factories
from tests.factories import NOW

TODAY = date(2026, 11, 20)


def png_bytes(
    colour: str = "#0f766e", size: tuple[int, int] = (40, 30), exif: bool = False
) -> bytes:
    image = Image.new("RGB", size, colour)
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "Secret Camera Co"  # Make
        image.save(out, "JPEG", exif=data)
    else:
        image.save(out, "PNG")
    return out.getvalue()


EXE_AS_JPG = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"This program"
SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
    b"<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>"
)


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def finance(session: Session, community: Community) -> User:
    return factories.make_user(session, role="finance", community=community)


def category(
    session: Session, community: Community, code: str = "cleaning.service"
) -> SpendingCategory:
    spending.ensure_default_categories(session, community=community)
    found = session.scalar(
        select(SpendingCategory).where(
            SpendingCategory.community_id == community.id, SpendingCategory.code == code
        )
    )
    assert found is not None
    return found


def draft(
    session: Session,
    community: Community,
    actor: User,
    *,
    amount_fen: int = 128_050,
    code: str = "cleaning.service",
    spent_on: date = TODAY - timedelta(days=3),
    evidence: bool = True,
    description: str = "保洁外包服务费（11 月）",
) -> SpendingItem:
    item = spending.create_item(
        session,
        community=community,
        category_id=category(session, community, code).id,
        spent_on=spent_on,
        amount_fen=amount_fen,
        vendor="洁美环境服务有限公司",
        description=description,
        actor=actor,
        now=NOW,
        today=TODAY,
    )
    if evidence:
        spending.add_evidence(
            session, item=item, data=png_bytes(), filename="invoice.png", actor=actor, now=NOW
        )
    return item


def published(session: Session, community: Community, actor: User, **kwargs: Any) -> SpendingItem:
    item = draft(session, community, actor, **kwargs)
    return spending.publish_item(session, item=item, community=community, actor=actor, now=NOW)
