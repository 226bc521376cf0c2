"""A published notice reaches the owners it concerns: an outage notice the owners of the
buildings it names, any other notice every owner of the community."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.communities.models import Community, Unit
from portal.notices.models import Notice, NoticeCategory
from portal.notify import service as notify
from portal.notify.models import Category, Reason
from portal.timeutil import to_local, zone

SUMMARY_CHARS = 60


def _summary(notice: Notice, tz_name: str | None) -> tuple[str, str]:
    if notice.category == NoticeCategory.OUTAGE and notice.outage_starts_at:
        tz = zone(tz_name)
        start = to_local(notice.outage_starts_at, tz).strftime("%m-%d %H:%M")
        end = (
            to_local(notice.outage_ends_at, tz).strftime("%m-%d %H:%M")
            if notice.outage_ends_at
            else ""
        )
        return f"时间：{start} 至 {end}。", f"When: {start} to {end}."
    text = re.sub(r"[#*_>`\[\]()!-]+", " ", notice.body_markdown or "")
    text = re.sub(r"\s+", " ", text).strip()
    short = text[:SUMMARY_CHARS] + ("…" if len(text) > SUMMARY_CHARS else "")
    return short, ""


def queue_notice_published(session: Session, *, notice: Notice, now: datetime) -> int:
    """Queue the notice's message to each owner concerned (idempotent per notice and owner)."""
    community = session.get(Community, notice.community_id)
    if community is None:
        return 0
    units = select(Unit.id).where(Unit.community_id == community.id)
    if notice.category == NoticeCategory.OUTAGE and notice.buildings:
        units = units.where(Unit.building_id.in_([b.id for b in notice.buildings]))
    unit_ids = list(session.scalars(units))
    owners = notify.owners_of_units(session, unit_ids)
    summary, summary_en = _summary(notice, community.timezone)
    link = notify.public_url(f"/c/{community.code}/notices/{notice.id}")
    context = {
        "title": notice.title,
        "summary": summary,
        "summary_en": summary_en,
        "notice_url": link,
    }
    seen: set[int] = set()
    requests = []
    for unit_id in unit_ids:
        for owner in owners.get(unit_id, []):
            if owner.id in seen:  # an owner of two units hears once
                continue
            seen.add(owner.id)
            requests.append(
                notify.MessageRequest(
                    event_key=f"notice:{notice.id}",
                    recipient=owner,
                    community_id=community.id,
                    unit_id=unit_id,
                    reason=Reason.NOTICE_PUBLISHED,
                    category=Category.NOTICE,
                    template_key=Reason.NOTICE_PUBLISHED,
                    context=dict(context),
                    related_type="notice",
                    related_id=notice.id,
                )
            )
    # In batches: publishing to a community of 20,000 owners queued one message at a time.
    return notify.queue_in_batches(session, requests, now=now)
