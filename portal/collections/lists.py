"""The three lists (三清单): the arrears list (internal), the legal-basis list (the clauses and
statutes each tier relies on; statutory defaults every community has, plus its own contract
clauses) and the dispute-mediation list (kept by disputes, linked from here)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import service as audit
from portal.collections import aging, cases
from portal.collections.labels import REASON_LABELS, STATUS_LABELS, TIER_LABELS
from portal.collections.models import LegalBasis
from portal.communities.models import Community
from portal.errors import DomainError, PermissionDenied
from portal.feedback.profile import satisfaction_profiles
from portal.notify import service as notify


@dataclass(frozen=True)
class Basis:
    tier: str
    kind: str
    reference: str
    summary: str
    id: int | None = None  # None: a statutory default


DEFAULT_BASES = (
    Basis(
        "all",
        "statute",
        "《中华人民共和国民法典》第九百四十四条",
        "业主应当按照约定向物业服务人支付物业费；业主违反约定逾期不支付的，物业服务人可以"
        "催告其在合理期限内支付，合理期限届满仍不支付的，可以提起诉讼或者申请仲裁。"
        "物业服务人不得采取停止供电、供水、供热、供燃气等方式催交物业费。",
    ),
    Basis(
        "all",
        "statute",
        "《中华人民共和国民法典》第一百八十八条",
        "向人民法院请求保护民事权利的诉讼时效期间为三年，自权利人知道或者应当知道权利受到"
        "损害以及义务人之日起计算。",
    ),
    Basis(
        "L2",
        "statute",
        "《中华人民共和国民法典》第一百九十五条",
        "权利人向义务人提出履行请求的，诉讼时效中断，从中断时起重新计算；每次送达催缴通知"
        "均留存送达凭证。",
    ),
    Basis(
        "all",
        "regulation",
        "《物业管理条例》第四十一条、第六十四条",
        "业主应当根据物业服务合同的约定交纳物业服务费用；违反物业服务合同约定，业主逾期不交"
        "纳物业服务费用的，业主委员会应当督促其限期交纳；逾期仍不交纳的，物业服务企业可以向"
        "人民法院起诉。",
    ),
    Basis(
        "L4",
        "statute",
        "《中华人民共和国人民调解法》",
        "经人民调解委员会调解达成的调解协议具有法律约束力；调解不成的，可依法提起诉讼。",
    ),
)


def legal_basis(session: Session, *, community_id: int, tier: str | None = None) -> list[Basis]:
    """The community's legal-basis list: the statutory defaults and its own clauses."""
    own = session.scalars(
        select(LegalBasis)
        .where(LegalBasis.community_id == community_id, LegalBasis.retired_at.is_(None))
        .order_by(LegalBasis.tier, LegalBasis.id)
    ).all()
    rows = [Basis(b.tier, b.kind, b.reference, b.summary, b.id) for b in own] + list(DEFAULT_BASES)
    if tier is not None:
        rows = [b for b in rows if b.tier in ("all", tier)]
    return rows


def contract_clause(session: Session, *, community_id: int) -> str:
    """The contract clause the written notice cites (the community's first, or the generic)."""
    for b in legal_basis(session, community_id=community_id, tier="L2"):
        if b.kind == "contract":
            return b.reference
    return "《物业服务合同》关于物业服务费交纳的约定"


def add_basis(
    session: Session,
    *,
    community: Community,
    actor: User,
    tier: str,
    kind: str,
    reference: str,
    summary: str,
    now: datetime,
) -> LegalBasis:
    """A manager adds a contract clause or statute to the community's list."""
    if not cases.is_manager(actor, community.id):
        raise PermissionDenied(_l("只有管理处负责人可以维护依据清单"))
    if tier not in ("all", "L1", "L2", "L3", "L4"):
        raise DomainError(_l("请选择适用级别"), field="tier")
    if kind not in ("contract", "statute", "regulation"):
        raise DomainError(_l("请选择类别"), field="kind")
    reference, summary = (reference or "").strip(), (summary or "").strip()
    if not reference or len(reference) > 200:
        raise DomainError(_l("请填写条款（200 字以内）"), field="reference")
    if not summary or len(summary) > 2000:
        raise DomainError(_l("请填写内容摘要（2000 字以内）"), field="summary")
    basis = LegalBasis(
        community_id=community.id,
        tier=tier,
        kind=kind,
        reference=reference,
        summary=summary,
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(basis)
    session.flush()
    audit.record(
        session,
        actor_id=actor.id,
        action="collections.legal_basis_add",
        target_type="collection_legal_basis",
        target_id=basis.id,
        community_id=community.id,
        now=now,
        details={"reference": reference, "tier": tier},
    )
    return basis


def retire_basis(
    session: Session, *, community: Community, actor: User, basis_id: int, now: datetime
) -> None:
    """Take a community clause off the list (kept in the table for the record)."""
    if not cases.is_manager(actor, community.id):
        raise PermissionDenied(_l("只有管理处负责人可以维护依据清单"))
    done = session.execute(
        update(LegalBasis)
        .where(
            LegalBasis.id == basis_id,
            LegalBasis.community_id == community.id,
            LegalBasis.retired_at.is_(None),
        )
        .values(retired_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise DomainError(_l("该条款不存在或已移除"))
    audit.record(
        session,
        actor_id=actor.id,
        action="collections.legal_basis_retire",
        target_type="collection_legal_basis",
        target_id=basis_id,
        community_id=community.id,
        now=now,
    )


ARREARS_COLUMNS: list[tuple[str, Any]] = [
    ("unit", _l("房号")),
    ("building", _l("楼栋")),
    ("owner", _l("业主")),
    ("phone", _l("电话（脱敏）")),
    ("status", _l("状态")),
    ("tier", _l("催缴级别")),
    ("reason", _l("欠费原因")),
    ("suggested", _l("系统建议原因")),
    ("overdue", _l("逾期应缴（元）")),
    ("held", _l("异议冻结（元，不催缴）")),
    ("oldest_due", _l("最早欠费到期日")),
    ("days", _l("逾期天数")),
    ("bucket", _l("账龄")),
    ("near_limitation", _l("临近诉讼时效")),
    ("satisfaction", _l("满意度（0-100）")),
    ("dissatisfied", _l("不满意（低于 60 分或有未办结投诉）")),
]


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def arrears_rows(
    session: Session,
    *,
    community: Community,
    day: date,
    now: datetime,
    dissatisfied: bool = False,
) -> Iterator[list[Any]]:
    """The arrears list, row by row (streamed: every active case of the community, or only
    those whose owner is dissatisfied), with each owner's satisfaction beside the debt."""
    filters = cases.CaseFilters(community_ids={community.id}, dissatisfied=dissatisfied)
    batch: list[Any] = []

    def flush(batch: list[Any]) -> Iterator[list[Any]]:
        owners = notify.owners_of_units(session, [c.unit_id for c in batch])
        profiles = satisfaction_profiles(session, [c.unit_id for c in batch], now)
        for case in batch:
            profile = profiles[case.unit_id]
            people = owners.get(case.unit_id, [])
            days = (day - case.oldest_due_date).days if case.oldest_due_date else None
            yield [
                case.unit.code,
                case.unit.building.name,
                "、".join(p.display_name for p in people),
                "、".join(notify.mask_address("sms", p.phone or "") for p in people if p.phone),
                str(STATUS_LABELS.get(case.status, case.status)),
                str(TIER_LABELS.get(case.tier, case.tier)),
                str(REASON_LABELS.get(case.reason or "", "")),
                str(REASON_LABELS.get(case.suggested_reason or "", "")),
                _yuan(case.overdue_fen),
                _yuan(case.held_fen),
                case.oldest_due_date.isoformat() if case.oldest_due_date else "",
                days if days is not None else "",
                aging.bucket_of(days) or "",
                "是" if case.near_limitation else "",
                profile.score if profile.score is not None else "",
                "是" if profile.dissatisfied else "",
            ]

    for case in cases.iter_cases(session, filters=filters, day=day, now=now):
        batch.append(case)
        if len(batch) >= 500:
            yield from flush(batch)
            batch = []
    if batch:
        yield from flush(batch)


def record_export(
    session: Session,
    *,
    community: Community,
    actor: User,
    what: str,
    fmt: str,
    now: datetime,
    ip: str | None = None,
) -> None:
    """Every export of a list with personal data is audited, with where it went."""
    audit.record_personal_data_export(
        session,
        actor_id=actor.id,
        action=f"collections.export_{what}",
        community_id=community.id,
        now=now,
        ip=ip,
        fmt=fmt,
    )
