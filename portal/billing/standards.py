"""Fee standards: versioned, never edited; a change is a new version, announced by a
published fee-change notice at least the community's notice period before it applies."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.billing.models import (
    FEE_ITEMS,
    Basis,
    FeeStandard,
)
from portal.communities.models import (
    Community,
    PropertyType,
)
from portal.errors import DomainError
from portal.notices import service as notices
from portal.publication import service as publication
from portal.timeutil import zone

RATE_STEP = Decimal("0.0001")


# ---------------------------------------------------------------- fee standards


def _standard_payload(standard: FeeStandard) -> dict[str, Any]:
    return {
        "property_type": standard.property_type,
        "item_code": standard.item_code,
        "item_name": standard.item_name,
        "basis": standard.basis,
        # As stored (Numeric(12, 4)), so the payload rebuilt after a reload is identical.
        "rate": str(Decimal(standard.rate).quantize(RATE_STEP)),
        "effective_from": standard.effective_from.isoformat(),
        "approval_ref": standard.approval_ref,
        "version": standard.version,
        "supersedes_id": standard.supersedes_id,
        "notice_id": standard.notice_id,
    }


def _payload_of(session: Session, record_id: int) -> dict[str, Any] | None:
    standard = session.get(FeeStandard, record_id)
    return _standard_payload(standard) if standard else None


publication.register_kind("fee_standard", _payload_of)


def latest_version(
    session: Session, *, community_id: int, property_type: str, item_code: str
) -> FeeStandard | None:
    return session.scalar(
        select(FeeStandard)
        .where(
            FeeStandard.community_id == community_id,
            FeeStandard.property_type == property_type,
            FeeStandard.item_code == item_code,
        )
        .order_by(FeeStandard.version.desc())
        .limit(1)
    )


def _check_notice(
    session: Session, *, community: Community, notice_id: int | None, effective_from: date
) -> None:
    """A changed standard must be announced at least the notice period before it applies."""
    if notice_id is None:
        raise DomainError(_l("调整收费标准须先发布收费标准调整公告"), field="notice_id")
    notice = next(
        (
            n
            for n in notices.published_fee_change_notices(session, community_id=community.id)
            if n.id == notice_id
        ),
        None,
    )
    if notice is None:
        raise DomainError(_l("请选择本小区已发布的收费标准调整公告"), field="notice_id")
    announced_on = notice.published_at.astimezone(zone(community.timezone)).date()
    earliest = announced_on + timedelta(days=community.notice_period_days)
    if effective_from < earliest:
        raise DomainError(
            _l(
                "公告于 %(on)s 发布，公示期 %(days)s 天，新标准最早 %(earliest)s 起执行",
                on=announced_on.isoformat(),
                days=community.notice_period_days,
                earliest=earliest.isoformat(),
            ),
            field="effective_from",
        )


def create_standard(
    session: Session,
    *,
    community: Community,
    property_type: str,
    item_code: str,
    basis: str,
    rate: Decimal,
    effective_from: date,
    approval_ref: str,
    now: datetime,
    actor_id: int | None,
    item_name: str | None = None,
    notice_id: int | None = None,
    note: str = "",
) -> FeeStandard:
    """Publish a new version of a fee standard; changes need a timely fee-change notice."""
    if property_type not in set(PropertyType):
        raise DomainError(_l("物业类型无效"), field="property_type")
    if basis not in set(Basis):
        raise DomainError(_l("计费方式无效"), field="basis")
    if rate < 0 or rate != rate.quantize(RATE_STEP) or rate > Decimal("10000"):
        raise DomainError(_l("单价须为非负数，最多四位小数"), field="rate")
    if not approval_ref.strip():
        raise DomainError(_l("请填写批准文件或合同条款"), field="approval_ref")
    name = (item_name or FEE_ITEMS.get(item_code) or "").strip()
    if not name or len(item_code) > 40:
        raise DomainError(_l("收费项目无效"), field="item_code")
    previous = latest_version(
        session, community_id=community.id, property_type=property_type, item_code=item_code
    )
    if previous is not None:
        if effective_from <= previous.effective_from:
            raise DomainError(
                _l("新版本的执行日期必须晚于 %(d)s", d=previous.effective_from.isoformat()),
                field="effective_from",
            )
        _check_notice(
            session, community=community, notice_id=notice_id, effective_from=effective_from
        )
    standard = FeeStandard(
        community_id=community.id,
        property_type=property_type,
        item_code=item_code,
        item_name=name,
        basis=basis,
        rate=rate,
        effective_from=effective_from,
        approval_ref=approval_ref.strip(),
        version=(previous.version + 1) if previous else 1,
        supersedes_id=previous.id if previous else None,
        notice_id=notice_id,
        note=note,
        created_by_id=actor_id,
        created_at=now,
    )
    session.add(standard)
    session.flush()
    publication.append(
        session,
        community=community,
        kind="fee_standard",
        record_id=standard.id,
        payload=_standard_payload(standard),
        now=now,
    )
    audit.record(
        session,
        actor_id=actor_id,
        action="fee_standard.create",
        target_type="fee_standard",
        target_id=standard.id,
        community_id=community.id,
        now=now,
        details={"item": item_code, "rate": str(rate), "version": standard.version},
    )
    return standard


def current_standards(session: Session, *, community_id: int, on: date) -> list[FeeStandard]:
    """The version of each (property type, item) in force on a date."""
    ranked = (
        select(
            FeeStandard.id,
            func.row_number()
            .over(
                partition_by=(FeeStandard.property_type, FeeStandard.item_code),
                order_by=FeeStandard.effective_from.desc(),
            )
            .label("rn"),
        )
        .where(FeeStandard.community_id == community_id, FeeStandard.effective_from <= on)
        .subquery()
    )
    return list(
        session.scalars(
            select(FeeStandard)
            .join(ranked, and_(ranked.c.id == FeeStandard.id, ranked.c.rn == 1))
            .order_by(FeeStandard.property_type, FeeStandard.item_code)
        )
    )


def standard_history(session: Session, *, community_id: int) -> list[FeeStandard]:
    """Every version, newest first within each item."""
    return list(
        session.scalars(
            select(FeeStandard)
            .where(FeeStandard.community_id == community_id)
            .order_by(FeeStandard.property_type, FeeStandard.item_code, FeeStandard.version.desc())
        )
    )
