"""Spending: the category tree, draft items with evidence, publication and corrections.

A draft is private to the community's finance staff and may be edited or deleted. Publishing
appends the item to the publication log and freezes it. A mistake in a published item is fixed
by a correction: a new item that supersedes the old one (or retracts it, amount 0), carrying
the reason; both stay visible and the totals count only the latest version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from portal.accounts.models import Role, User
from portal.audit import service as audit
from portal.communities.models import Community, FeeRegime
from portal.errors import DomainError
from portal.publication import service as publication
from portal.transparency.models import (
    RecordStatus,
    SpendingCategory,
    SpendingEvidence,
    SpendingItem,
)
from portal.uploads import service as uploads
from portal.uploads.models import StoredFile

EDIT_ROLES = (Role.FINANCE, Role.MANAGER)  # who records and publishes money matters
EVIDENCE_TYPES = frozenset({"image", "pdf"})
MAX_EVIDENCE = 10
MAX_AMOUNT_FEN = 10**12  # ten billion yuan: beyond that it is a typing error
KIND_SPENDING = "spending"

# The default two-level tree (code, name, children). Codes never change; names may.
DEFAULT_TREE: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "staff",
        "人员费用",
        [
            ("staff.wages", "管理服务人员工资"),
            ("staff.social", "社保及公积金"),
            ("staff.training", "培训及劳保"),
        ],
    ),
    (
        "cleaning",
        "保洁",
        [
            ("cleaning.service", "保洁服务"),
            ("cleaning.supplies", "保洁耗材"),
            ("cleaning.waste", "垃圾清运"),
        ],
    ),
    (
        "security",
        "秩序维护/安保",
        [("security.guards", "秩序维护服务"), ("security.cctv", "监控及门禁系统维护")],
    ),
    (
        "greening",
        "绿化养护",
        [
            ("greening.care", "绿化养护"),
            ("greening.plants", "苗木补种"),
            ("greening.pest", "病虫害防治"),
        ],
    ),
    (
        "repairs",
        "公共设施设备维修",
        [
            ("repairs.plumbing", "给排水维修"),
            ("repairs.electrical", "电气维修"),
            ("repairs.fire", "消防设施维护"),
            ("repairs.building", "屋面外墙及公共部位维修"),
        ],
    ),
    (
        "energy",
        "公共能耗",
        [("energy.power", "公共区域电费"), ("energy.water", "公共区域水费")],
    ),
    (
        "elevator",
        "电梯维保",
        [
            ("elevator.contract", "电梯维保合同"),
            ("elevator.inspection", "电梯年检"),
            ("elevator.parts", "电梯配件更换"),
        ],
    ),
    (
        "office",
        "办公及管理费",
        [
            ("office.supplies", "办公用品"),
            ("office.telecom", "通讯及网络"),
            ("office.insurance", "公众责任保险"),
            ("office.audit", "审计及咨询"),
        ],
    ),
    ("tax", "税费", [("tax.vat", "增值税及附加")]),
]
SURPLUS_CATEGORY = ("surplus", "物业企业经营结余（包干制）", [])


# --- categories -------------------------------------------------------------------------


def categories(
    session: Session, *, community_id: int, active_only: bool = False
) -> list[SpendingCategory]:
    """The community's categories, parents before their children, in display order."""
    query = select(SpendingCategory).where(SpendingCategory.community_id == community_id)
    if active_only:
        query = query.where(SpendingCategory.active.is_(True))
    rows = list(session.scalars(query.order_by(SpendingCategory.sort_order, SpendingCategory.id)))
    tops = [c for c in rows if c.parent_id is None]
    ordered: list[SpendingCategory] = []
    for top in tops:
        ordered.append(top)
        ordered.extend(c for c in rows if c.parent_id == top.id)
    return ordered


def top_categories(session: Session, *, community_id: int) -> list[SpendingCategory]:
    return [c for c in categories(session, community_id=community_id) if c.parent_id is None]


def ensure_default_categories(session: Session, *, community: Community) -> bool:
    """Create the default tree when the community has none yet; True when it did."""
    exists = session.scalar(
        select(func.count(SpendingCategory.id)).where(SpendingCategory.community_id == community.id)
    )
    if exists:
        return False
    tree = list(DEFAULT_TREE)
    if community.fee_regime == FeeRegime.LUMP_SUM:
        tree.append(SURPLUS_CATEGORY)
    for order, (code, name, children) in enumerate(tree, start=1):
        top = SpendingCategory(
            community_id=community.id, code=code, name=name, sort_order=order * 10
        )
        session.add(top)
        session.flush()
        for child_order, (child_code, child_name) in enumerate(children, start=1):
            session.add(
                SpendingCategory(
                    community_id=community.id,
                    parent_id=top.id,
                    code=child_code,
                    name=child_name,
                    sort_order=child_order,
                )
            )
    session.flush()
    return True


LABELS: dict[str, Any] = {
    "code": _l("编码"),
    "name": _l("名称"),
    "vendor": _l("收款方"),
    "description": _l("用途说明"),
    "correction_reason": _l("更正原因"),
    "reason": _l("修订原因"),
}


def _clean_text(value: str | None, *, limit: int, field: str, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise DomainError(_l("请填写%(what)s", what=LABELS.get(field, "")), field=field)
    if len(text) > limit:
        raise DomainError(_l("不能超过 %(n)s 个字", n=limit), field=field)
    return text


def add_category(
    session: Session,
    *,
    community: Community,
    code: str,
    name: str,
    parent_id: int | None,
    actor: User,
    now: datetime,
) -> SpendingCategory:
    """Add a category (top-level, or under a top-level one: the tree has two levels)."""
    code = _clean_text(code, limit=40, field="code", required=True).lower()
    if not all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in code):
        raise DomainError(_l("编码只能包含字母、数字、点、- 和 _"), field="code")
    name = _clean_text(name, limit=60, field="name", required=True)
    parent = None
    if parent_id is not None:
        parent = session.get(SpendingCategory, parent_id)
        if parent is None or parent.community_id != community.id:
            raise DomainError(_l("未知的上级类别"), field="parent_id")
        if parent.parent_id is not None:
            raise DomainError(_l("类别最多两级：只能添加在一级类别下"), field="parent_id")
    duplicate = session.scalar(
        select(SpendingCategory.id).where(
            SpendingCategory.community_id == community.id, SpendingCategory.code == code
        )
    )
    if duplicate:
        raise DomainError(_l("编码 %(code)s 已存在", code=code), field="code", code="duplicate")
    last = session.scalar(
        select(func.max(SpendingCategory.sort_order)).where(
            SpendingCategory.community_id == community.id,
            SpendingCategory.parent_id.is_(None)
            if parent is None
            else SpendingCategory.parent_id == parent.id,
        )
    )
    category = SpendingCategory(
        community_id=community.id,
        parent_id=parent.id if parent else None,
        code=code,
        name=name,
        sort_order=(last or 0) + 10,
    )
    session.add(category)
    session.flush()
    audit.record(
        session,
        actor_id=actor.id,
        action="spending_category.create",
        target_type="spending_category",
        target_id=category.id,
        community_id=community.id,
        now=now,
        details={"code": code, "name": name},
    )
    return category


def update_category(
    session: Session,
    *,
    category: SpendingCategory,
    name: str,
    active: bool,
    actor: User,
    now: datetime,
) -> None:
    """Rename or (de)activate a category; its code stays, so published records keep matching."""
    name = _clean_text(name, limit=60, field="name", required=True)
    changes: dict[str, Any] = {}
    if name != category.name:
        changes["name"] = [category.name, name]
        category.name = name
    if active != category.active:
        changes["active"] = [category.active, active]
        category.active = active
    if changes:
        session.flush()
        audit.record(
            session,
            actor_id=actor.id,
            action="spending_category.update",
            target_type="spending_category",
            target_id=category.id,
            community_id=category.community_id,
            now=now,
            details=changes,
        )


def _category(session: Session, *, community_id: int, category_id: Any) -> SpendingCategory:
    category = session.get(SpendingCategory, category_id) if isinstance(category_id, int) else None
    if category is None or category.community_id != community_id or not category.active:
        raise DomainError(_l("未知的支出类别"), field="category_id", code="unknown_category")
    return category


# --- scoped look-ups --------------------------------------------------------------------


def can_edit(user: User, community_id: int) -> bool:
    return user.is_admin or community_id in user.community_ids(*EDIT_ROLES)


def get_scoped_item(session: Session, *, user: User, item_id: int) -> SpendingItem | None:
    """A spending item of a community where the user records money matters; else None."""
    item = session.get(SpendingItem, item_id)
    if item is None or not can_edit(user, item.community_id):
        return None
    return item


def get_published_item(session: Session, *, community_id: int, item_id: int) -> SpendingItem | None:
    """A published item of this community (what the public may see), else None."""
    item = session.get(SpendingItem, item_id)
    if item is None or item.community_id != community_id or item.status != RecordStatus.PUBLISHED:
        return None
    return item


# --- amounts and dates -----------------------------------------------------------------


def check_amount(amount_fen: Any, *, allow_zero: bool = False, field: str = "amount") -> int:
    """An integer number of fen, positive (or zero for a retraction) and plausible."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise DomainError(_l("请输入金额，最多两位小数"), field=field, code="bad_amount")
    if amount_fen < 0 or (amount_fen == 0 and not allow_zero):
        raise DomainError(_l("金额必须大于 0"), field=field, code="bad_amount")
    if amount_fen >= MAX_AMOUNT_FEN:
        raise DomainError(_l("金额过大，请核对"), field=field, code="bad_amount")
    return amount_fen


def check_date(value: Any, *, today: date, field: str) -> date:
    if not isinstance(value, date):
        raise DomainError(_l("请输入日期"), field=field)
    if value > today:
        raise DomainError(_l("日期不能晚于今天"), field=field)
    if value.year < 2000:
        raise DomainError(_l("日期过早，请核对"), field=field)
    return value


# --- spending items --------------------------------------------------------------------


def create_item(
    session: Session,
    *,
    community: Community,
    category_id: Any,
    spent_on: Any,
    amount_fen: Any,
    vendor: str,
    description: str,
    actor: User,
    now: datetime,
    today: date,
) -> SpendingItem:
    """Record a draft spending item."""
    category = _category(session, community_id=community.id, category_id=category_id)
    item = SpendingItem(
        community_id=community.id,
        category_id=category.id,
        spent_on=check_date(spent_on, today=today, field="spent_on"),
        amount_fen=check_amount(amount_fen),
        vendor=_clean_text(vendor, limit=100, field="vendor", required=True),
        description=_clean_text(description, limit=500, field="description", required=True),
        status=RecordStatus.DRAFT,
        entered_by_id=actor.id,
        created_at=now,
    )
    session.add(item)
    session.flush()
    _audit(session, item, "spending.create", actor, now, {"amount_fen": item.amount_fen})
    return item


def _audit(
    session: Session,
    item: SpendingItem,
    action: str,
    actor: User,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor_id=actor.id,
        action=action,
        target_type="spending_item",
        target_id=item.id,
        community_id=item.community_id,
        now=now,
        details=details,
    )


def _refuse_published(item: SpendingItem) -> None:
    if item.status != RecordStatus.DRAFT:
        raise DomainError(
            _l("已公开的支出不能修改；如有错误，请提交更正"), code="published", field=None
        )


def update_item(
    session: Session,
    *,
    item: SpendingItem,
    category_id: Any,
    spent_on: Any,
    amount_fen: Any,
    vendor: str,
    description: str,
    correction_reason: str | None = None,
    actor: User,
    now: datetime,
    today: date,
) -> None:
    """Change a draft; a published item is refused (it needs a correction instead)."""
    _refuse_published(item)
    category = _category(session, community_id=item.community_id, category_id=category_id)
    values: dict[str, Any] = {
        "category_id": category.id,
        "spent_on": check_date(spent_on, today=today, field="spent_on"),
        "amount_fen": check_amount(amount_fen, allow_zero=item.supersedes_id is not None),
        "vendor": _clean_text(vendor, limit=100, field="vendor", required=True),
        "description": _clean_text(description, limit=500, field="description", required=True),
    }
    if item.supersedes_id is not None:
        values["correction_reason"] = _clean_text(
            correction_reason, limit=500, field="correction_reason", required=True
        )
    # Compare-and-set: a draft published meanwhile by someone else is not changed.
    changed = session.execute(
        update(SpendingItem)
        .where(SpendingItem.id == item.id, SpendingItem.status == RecordStatus.DRAFT)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if changed != 1:
        raise DomainError(_l("已公开的支出不能修改；如有错误，请提交更正"), code="published")
    session.refresh(item)
    _audit(session, item, "spending.update", actor, now, {"amount_fen": item.amount_fen})


def delete_draft(session: Session, *, item: SpendingItem, actor: User, now: datetime) -> None:
    """Delete a draft (published items are never deleted)."""
    _refuse_published(item)
    item_id, community_id = item.id, item.community_id
    session.execute(delete(SpendingEvidence).where(SpendingEvidence.item_id == item_id))
    removed = session.execute(
        delete(SpendingItem).where(
            SpendingItem.id == item_id, SpendingItem.status == RecordStatus.DRAFT
        )
    ).rowcount
    if removed != 1:
        raise DomainError(_l("已公开的支出不能修改；如有错误，请提交更正"), code="published")
    audit.record(
        session,
        actor_id=actor.id,
        action="spending.delete",
        target_type="spending_item",
        target_id=item_id,
        community_id=community_id,
        now=now,
    )


def add_evidence(
    session: Session,
    *,
    item: SpendingItem,
    data: bytes,
    filename: str,
    actor: User,
    now: datetime,
) -> SpendingEvidence:
    """Attach an invoice/contract photo or PDF to a draft (content-checked by uploads)."""
    _refuse_published(item)
    if len(item.evidence) >= MAX_EVIDENCE:
        raise DomainError(_l("每条支出最多 %(n)s 个凭证", n=MAX_EVIDENCE), field="file")
    stored = uploads.store_upload(
        session,
        data=data,
        filename=filename,
        allowed=EVIDENCE_TYPES,
        uploaded_by_id=actor.id,
        now=now,
    )
    if any(e.file.sha256 == stored.sha256 for e in item.evidence):
        raise DomainError(_l("这个文件已经上传过了"), field="file", code="duplicate")
    evidence = SpendingEvidence(item=item, stored_file_id=stored.id, label=stored.original_name)
    session.add(evidence)
    session.flush()
    session.refresh(item)
    _audit(session, item, "spending.evidence_add", actor, now, {"sha256": stored.sha256})
    return evidence


def remove_evidence(
    session: Session, *, item: SpendingItem, evidence_id: int, actor: User, now: datetime
) -> None:
    _refuse_published(item)
    evidence = session.get(SpendingEvidence, evidence_id)
    if evidence is None or evidence.item_id != item.id:
        raise DomainError(_l("凭证不存在"), code="not_found")
    session.delete(evidence)
    session.flush()
    session.refresh(item)
    _audit(session, item, "spending.evidence_remove", actor, now, {"evidence_id": evidence_id})


def spending_payload(item: SpendingItem) -> dict[str, Any]:
    """What is published (and hashed) about a spending item."""
    return {
        "date": item.spent_on.isoformat(),
        "category": item.category.code,
        "amount_fen": item.amount_fen,
        "vendor": item.vendor,
        "description": item.description,
        "evidence_sha256": [e.file.sha256 for e in item.evidence],
        "supersedes": item.supersedes_id,
        "correction_reason": item.correction_reason,
    }


def _current_spending_payload(session: Session, record_id: int) -> dict[str, Any] | None:
    item = session.get(SpendingItem, record_id)
    if item is None or item.status != RecordStatus.PUBLISHED:
        return None
    return spending_payload(item)


publication.register_kind(KIND_SPENDING, _current_spending_payload)


def publish_item(
    session: Session, *, item: SpendingItem, community: Community, actor: User, now: datetime
) -> SpendingItem:
    """Freeze a draft and append it to the publication log (once, however often clicked)."""
    if item.status != RecordStatus.DRAFT:
        raise DomainError(_l("这条支出已经公开过了"), code="published")
    if item.amount_fen > 0 and not item.evidence:
        raise DomainError(_l("请先上传发票、合同或照片作为凭证"), field="file", code="no_evidence")
    if item.supersedes_id is not None:
        old = session.get(SpendingItem, item.supersedes_id)
        if old is None or old.status != RecordStatus.PUBLISHED:
            raise DomainError(_l("被更正的支出不存在或尚未公开"), code="conflict")
    claimed = session.execute(
        update(SpendingItem)
        .where(SpendingItem.id == item.id, SpendingItem.status == RecordStatus.DRAFT)
        .values(status=RecordStatus.PUBLISHED, published_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if claimed != 1:
        raise DomainError(_l("这条支出已经公开过了"), code="published")
    session.refresh(item)
    publication.append(
        session,
        community=community,
        kind=KIND_SPENDING,
        record_id=item.id,
        payload=spending_payload(item),
        now=now,
    )
    _audit(session, item, "spending.publish", actor, now, {"amount_fen": item.amount_fen})
    return item


def start_correction(
    session: Session,
    *,
    item: SpendingItem,
    reason: str,
    retract: bool,
    actor: User,
    now: datetime,
) -> SpendingItem:
    """Open a draft that will supersede a published item (a copy, or a retraction at 0)."""
    if item.status != RecordStatus.PUBLISHED:
        raise DomainError(_l("草稿可以直接修改，无需更正"), code="draft")
    reason = _clean_text(reason, limit=500, field="correction_reason", required=True)
    if superseded_by(session, [item.id]).get(item.id) is not None:
        raise DomainError(_l("这条支出已被更正，请更正最新的版本"), code="superseded")
    pending = session.scalar(select(SpendingItem).where(SpendingItem.supersedes_id == item.id))
    if pending is not None:
        raise DomainError(
            _l("这条支出已有一份待发布的更正草稿"), code="pending_correction", field=None
        )
    correction = SpendingItem(
        community_id=item.community_id,
        category_id=item.category_id,
        spent_on=item.spent_on,
        amount_fen=0 if retract else item.amount_fen,
        vendor=item.vendor,
        description=item.description,
        status=RecordStatus.DRAFT,
        supersedes_id=item.id,
        correction_reason=reason,
        entered_by_id=actor.id,
        created_at=now,
    )
    session.add(correction)
    session.flush()
    if not retract:
        # The evidence stays valid unless replaced; the new version starts with the same files.
        for evidence in item.evidence:
            session.add(
                SpendingEvidence(
                    item_id=correction.id,
                    stored_file_id=evidence.stored_file_id,
                    label=evidence.label,
                )
            )
        session.flush()
        session.refresh(correction)
    _audit(session, correction, "spending.correct", actor, now, {"supersedes": item.id})
    return correction


def superseded_by(session: Session, item_ids: list[int]) -> dict[int, int]:
    """For each of these items that a published correction replaced: the correction's id."""
    if not item_ids:
        return {}
    rows = session.execute(
        select(SpendingItem.supersedes_id, SpendingItem.id).where(
            SpendingItem.supersedes_id.in_(item_ids),
            SpendingItem.status == RecordStatus.PUBLISHED,
        )
    )
    return {old: new for old, new in rows if old is not None}


def current_items_filter() -> Any:
    """SQL condition: published and not superseded by a published correction."""
    newer = aliased(SpendingItem)
    return (SpendingItem.status == RecordStatus.PUBLISHED) & ~(
        select(newer.id)
        .where(newer.supersedes_id == SpendingItem.id, newer.status == RecordStatus.PUBLISHED)
        .exists()
    )


@dataclass(frozen=True)
class ItemPage:
    items: list[SpendingItem]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_items(
    session: Session,
    *,
    community_id: int,
    year: int | None = None,
    status: str | None = RecordStatus.PUBLISHED,
    top_category_id: int | None = None,
    page: int = 1,
    per_page: int | None = 50,
) -> ItemPage:
    """A page of a community's items, newest first (status None: drafts and published);
    per_page None: every item, for the open-data documents and downloads."""
    query = select(SpendingItem).where(SpendingItem.community_id == community_id)
    if status:
        query = query.where(SpendingItem.status == status)
    if year:
        query = query.where(
            SpendingItem.spent_on >= date(year, 1, 1), SpendingItem.spent_on <= date(year, 12, 31)
        )
    if top_category_id:
        child_ids = select(SpendingCategory.id).where(
            (SpendingCategory.id == top_category_id)
            | (SpendingCategory.parent_id == top_category_id)
        )
        query = query.where(SpendingItem.category_id.in_(child_ids))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    query = query.options(
        joinedload(SpendingItem.category).joinedload(SpendingCategory.parent),
        selectinload(SpendingItem.evidence).joinedload(SpendingEvidence.file),
    ).order_by(SpendingItem.spent_on.desc(), SpendingItem.id.desc())
    if per_page is None:  # everything: one page holding every item
        items = list(session.scalars(query).unique())
        return ItemPage(items=items, total=total, page=1, per_page=max(1, total))
    items = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page)).unique())
    return ItemPage(items=items, total=total, page=page, per_page=per_page)


def correction_chain(session: Session, item: SpendingItem) -> list[SpendingItem]:
    """Every published version of this item, oldest first."""
    chain = [item]
    while chain[0].supersedes_id is not None:
        older = session.get(SpendingItem, chain[0].supersedes_id)
        if older is None:
            break
        chain.insert(0, older)
    newer_map = True
    while newer_map:
        newer = session.scalar(
            select(SpendingItem).where(
                SpendingItem.supersedes_id == chain[-1].id,
                SpendingItem.status == RecordStatus.PUBLISHED,
            )
        )
        newer_map = newer is not None
        if newer is not None:
            chain.append(newer)
    return chain


def evidence_file(session: Session, *, item: SpendingItem, evidence_id: int) -> StoredFile | None:
    evidence = session.get(SpendingEvidence, evidence_id)
    if evidence is None or evidence.item_id != item.id:
        return None
    return evidence.file


def years_with_spending(session: Session, *, community_id: int) -> list[int]:
    """Years that have published spending, newest first."""
    first, last = session.execute(
        select(func.min(SpendingItem.spent_on), func.max(SpendingItem.spent_on)).where(
            SpendingItem.community_id == community_id,
            SpendingItem.status == RecordStatus.PUBLISHED,
        )
    ).one()
    if first is None:
        return []
    return list(range(last.year, first.year - 1, -1))
