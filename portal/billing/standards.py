"""Fee standards: versioned, never edited; a change is a new version, announced by a
published fee-change notice at least the community's notice period before it applies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.billing.models import Basis, FeeStandard
from portal.communities.forms import ITEM_CHOICES, TYPE_CHOICES
from portal.communities.models import FEE_ITEMS, Community, PropertyType
from portal.errors import DomainError
from portal.notices import service as notices
from portal.notices.models import Notice, NoticeCategory, NoticeStatus
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


def _cited_notice(session: Session, notice: Notice) -> str | None:
    """A fee standard's announcement stays on the board: owners must be able to read it."""
    used = session.scalar(select(FeeStandard).where(FeeStandard.notice_id == notice.id))
    if used is None:
        return None
    return str(
        _l(
            "这份公告是 %(item)s 第 %(v)s 版收费标准的依据，不能撤回；如需更正，请发布更正公告",
            item=_describe(used.property_type, used.item_code),
            v=used.version,
        )
    )


notices.register_withdraw_guard(_cited_notice)


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


def _describe(property_type: str | None, item_code: str | None) -> str:
    types, items = dict(TYPE_CHOICES), dict(ITEM_CHOICES)
    kind = types.get(property_type or "", property_type)
    return f"{kind}·{items.get(item_code or '', item_code)}"


def _earliest(community: Community, notice: Notice) -> tuple[date, date]:
    """The local day a notice went out, and the first day a change it announces may apply."""
    assert notice.published_at is not None  # noqa: S101 - only published notices get here
    announced_on = notice.published_at.astimezone(zone(community.timezone)).date()
    return announced_on, announced_on + timedelta(days=community.notice_period_days)


def _check_notice(
    session: Session,
    *,
    community: Community,
    notice_id: int | None,
    property_type: str,
    item_code: str,
    rate: Decimal,
    effective_from: date,
) -> None:
    """A changed standard cites the published notice of exactly this change (item, property
    type and new rate), issued at least the notice period before it applies, and not yet
    cited by another version: an old notice about some other change justifies nothing."""
    if notice_id is None:
        raise DomainError(_l("调整收费标准须先发布收费标准调整公告"), field="notice_id")
    notice = session.get(Notice, notice_id)
    if (
        notice is None
        or notice.community_id != community.id
        or notice.category != NoticeCategory.FEE_CHANGE
    ):
        raise DomainError(
            _l("请选择本小区已发布的收费标准调整公告"), field="notice_id", code="notice_unknown"
        )
    if notice.status != NoticeStatus.PUBLISHED or notice.published_at is None:
        raise DomainError(
            _l("公告“%(title)s”尚未发布或已撤回，不能作为调整依据", title=notice.title),
            field="notice_id",
            code="notice_unpublished",
        )
    if not notice.fee_item_code or notice.fee_rate is None:
        raise DomainError(
            _l(
                "公告“%(title)s”没有写明调整的收费项目和新单价，请发布写明调整内容的公告",
                title=notice.title,
            ),
            field="notice_id",
            code="notice_unstructured",
        )
    if (notice.fee_property_type, notice.fee_item_code) != (property_type, item_code):
        raise DomainError(
            _l(
                "公告“%(title)s”公布的是 %(announced)s 的调整，不是 %(this)s",
                title=notice.title,
                announced=_describe(notice.fee_property_type, notice.fee_item_code),
                this=_describe(property_type, item_code),
            ),
            field="notice_id",
            code="notice_wrong_item",
        )
    announced_rate = Decimal(notice.fee_rate).quantize(RATE_STEP)
    if announced_rate != rate:
        raise DomainError(
            _l(
                "公告公布的新单价是 %(announced)s 元，与填写的 %(rate)s 元不符",
                announced=notices.plain_rate(announced_rate),
                rate=notices.plain_rate(rate),
            ),
            field="rate",
            code="notice_wrong_rate",
        )
    announced_on, earliest = _earliest(community, notice)
    if effective_from < earliest:
        raise DomainError(
            _l(
                "公告于 %(on)s 发布，公示期 %(days)s 天，新标准最早 %(earliest)s 起执行",
                on=announced_on.isoformat(),
                days=community.notice_period_days,
                earliest=earliest.isoformat(),
            ),
            field="effective_from",
            code="notice_too_late",
        )
    used = session.scalar(select(FeeStandard).where(FeeStandard.notice_id == notice.id))
    if used is not None:
        raise DomainError(
            _l(
                "公告“%(title)s”已是 %(item)s 第 %(v)s 版的依据；每次调整须另发公告",
                title=notice.title,
                item=_describe(used.property_type, used.item_code),
                v=used.version,
            ),
            field="notice_id",
            code="notice_used",
        )


@dataclass(frozen=True)
class EligibleNotice:
    notice: Notice
    announced_on: date
    earliest: date  # the first effective date the notice allows

    @property
    def summary(self) -> str:
        rate = notices.plain_rate(Decimal(self.notice.fee_rate or 0))
        what = _describe(self.notice.fee_property_type, self.notice.fee_item_code)
        return f"{what} {rate}"


def eligible_notices(
    session: Session, *, community: Community, now: datetime
) -> list[EligibleNotice]:
    """Published fee-change notices that name their change and no version cites yet."""
    cited = select(FeeStandard.notice_id).where(FeeStandard.notice_id.is_not(None))
    found = [
        n
        for n in notices.published_fee_change_notices(session, community_id=community.id, now=now)
        if n.fee_item_code and n.fee_rate is not None
    ]
    ids = [n.id for n in found] or [-1]
    used = set(session.scalars(cited.where(FeeStandard.notice_id.in_(ids))))
    return [EligibleNotice(n, *_earliest(community, n)) for n in found if n.id not in used]


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
    if previous is not None and effective_from <= previous.effective_from:
        raise DomainError(
            _l("新版本的执行日期必须晚于 %(d)s", d=previous.effective_from.isoformat()),
            field="effective_from",
        )
    if previous is not None or notice_id is not None:
        _check_notice(
            session,
            community=community,
            notice_id=notice_id,
            property_type=property_type,
            item_code=item_code,
            rate=rate,
            effective_from=effective_from,
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
    try:
        with session.begin_nested():
            session.add(standard)
            session.flush()
    except IntegrityError as exc:  # another version cited the same notice a moment ago
        raise DomainError(
            _l("该公告已被另一版本引用；每次调整须另发公告"), field="notice_id", code="notice_used"
        ) from exc
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
