"""The owners' separate accounts: common revenue (公共收益) and the special maintenance fund
(专项维修资金). Each movement is drafted, published to the log, and corrected by superseding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from portal.accounts.models import User
from portal.audit import service as audit
from portal.communities.models import Community
from portal.errors import DomainError
from portal.governance import service as governance
from portal.publication import service as publication
from portal.transparency import service as spending
from portal.transparency.models import (
    FundAccount,
    FundEvidence,
    FundMovement,
    RecordStatus,
)
from portal.uploads import service as uploads

ACCOUNT_LABELS = {
    FundAccount.COMMON_REVENUE: _l("公共收益"),
    FundAccount.MAINTENANCE_FUND: _l("专项维修资金"),
}
# (account, direction) → [(kind, label)]
KINDS: dict[tuple[str, str], list[tuple[str, Any]]] = {
    (FundAccount.COMMON_REVENUE, "in"): [
        ("advertising", _l("广告收入")),
        ("parking_rent", _l("停车场地租金")),
        ("venue_rental", _l("场地租赁")),
        ("opening", _l("期初余额")),
        ("other_in", _l("其他收入")),
    ],
    (FundAccount.COMMON_REVENUE, "out"): [
        ("to_maintenance_fund", _l("转入专项维修资金")),
        ("facility", _l("公共设施改造")),
        ("fee_offset", _l("抵扣物业费")),
        ("committee", _l("业委会工作经费")),
        ("operating_cost", _l("经营成本及税费")),
        ("manager_share", _l("物业企业经营分成")),
        ("other_out", _l("其他支出")),
    ],
    (FundAccount.MAINTENANCE_FUND, "in"): [
        ("initial", _l("首期归集")),
        ("topup", _l("续筹")),
        ("interest", _l("利息收入")),
        ("from_common_revenue", _l("公共收益转入")),
        ("opening", _l("期初余额")),
    ],
    (FundAccount.MAINTENANCE_FUND, "out"): [
        ("repair", _l("维修、更新和改造工程")),
        ("refund", _l("退还业主")),
        ("other_out", _l("其他支出")),
    ],
}
KIND_LABELS: dict[str, Any] = {kind: label for pairs in KINDS.values() for kind, label in pairs}
DIRECTION_LABELS = {"in": _l("收入"), "out": _l("支出")}


def _audit(
    session: Session, movement: FundMovement, action: str, actor: User, now: datetime
) -> None:
    audit.record(
        session,
        actor_id=actor.id,
        action=action,
        target_type="fund_movement",
        target_id=movement.id,
        community_id=movement.community_id,
        now=now,
        details={"account": movement.account, "amount_fen": movement.amount_fen},
    )


def get_scoped_movement(session: Session, *, user: User, movement_id: int) -> FundMovement | None:
    movement = session.get(FundMovement, movement_id)
    if movement is None or not spending.can_edit(user, movement.community_id):
        return None
    return movement


def _check_kind(account: str, direction: str, kind: str) -> None:
    if account not in set(FundAccount):
        raise DomainError(_l("账户无效"), field="account")
    if direction not in ("in", "out"):
        raise DomainError(_l("请选择收入或支出"), field="direction")
    if kind not in {k for k, _ in KINDS[(account, direction)]}:
        raise DomainError(_l("类型与收支方向不符"), field="kind", code="unknown_kind")


def _fields(
    *,
    account: str,
    direction: str,
    kind: str,
    occurred_on: Any,
    amount_fen: Any,
    counterparty: str,
    description: str,
    approval_ref: str,
    today: date,
    allow_zero: bool,
    vote_id: int | None = None,
) -> dict[str, Any]:
    _check_kind(account, direction, kind)
    approval_ref = spending._clean_text(approval_ref, limit=200, field="approval_ref")
    if (
        account == FundAccount.MAINTENANCE_FUND
        and direction == "out"
        and not approval_ref
        and not vote_id
    ):
        # Using the fund needs the owners' vote (art. 278 item 5) and the authority's filing
        # (《住宅专项维修资金管理办法》art. 22): cite the passed vote, or — the emergency
        # procedure (art. 24) — its filing reference.
        raise DomainError(
            _l("动用专项维修资金须关联已通过的业主表决，或填写应急使用的备案文号"),
            field="vote_id",
        )
    return {
        "vote_id": vote_id or None,
        "account": account,
        "direction": direction,
        "kind": kind,
        "occurred_on": spending.check_date(occurred_on, today=today, field="occurred_on"),
        "amount_fen": spending.check_amount(amount_fen, allow_zero=allow_zero),
        "counterparty": spending._clean_text(counterparty, limit=100, field="counterparty"),
        "description": spending._clean_text(
            description, limit=500, field="description", required=True
        ),
        "approval_ref": approval_ref,
    }


def _check_vote(session: Session, community_id: int, fields: dict[str, Any]) -> None:
    """A cited vote must be this community's, closed, passed and of the movement's matter."""
    if fields.get("vote_id"):
        governance.check_fund_vote(
            session,
            community_id=community_id,
            vote_id=fields["vote_id"],
            account=fields["account"],
            direction=fields["direction"],
        )


def create_movement(
    session: Session,
    *,
    community: Community,
    actor: User,
    now: datetime,
    today: date,
    **values: Any,
) -> FundMovement:
    """Record a draft movement in one of the two accounts."""
    fields = _fields(today=today, allow_zero=False, **values)
    _check_vote(session, community.id, fields)
    movement = FundMovement(
        community_id=community.id,
        status=RecordStatus.DRAFT,
        entered_by_id=actor.id,
        created_at=now,
        **fields,
    )
    session.add(movement)
    session.flush()
    _audit(session, movement, "fund.create", actor, now)
    return movement


def update_movement(
    session: Session,
    *,
    movement: FundMovement,
    actor: User,
    now: datetime,
    today: date,
    correction_reason: str | None = None,
    **values: Any,
) -> None:
    if movement.status != RecordStatus.DRAFT:
        raise DomainError(_l("已公开的记录不能修改；如有错误，请提交更正"), code="published")
    fields = _fields(today=today, allow_zero=movement.supersedes_id is not None, **values)
    _check_vote(session, movement.community_id, fields)
    if fields["account"] != movement.account:
        raise DomainError(_l("账户无效"), field="account")
    if movement.supersedes_id is not None:
        fields["correction_reason"] = spending._clean_text(
            correction_reason, limit=500, field="correction_reason", required=True
        )
    changed = session.execute(
        update(FundMovement)
        .where(FundMovement.id == movement.id, FundMovement.status == RecordStatus.DRAFT)
        .values(**fields)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if changed != 1:
        raise DomainError(_l("已公开的记录不能修改；如有错误，请提交更正"), code="published")
    session.refresh(movement)
    _audit(session, movement, "fund.update", actor, now)


def add_evidence(
    session: Session,
    *,
    movement: FundMovement,
    data: bytes,
    filename: str,
    actor: User,
    now: datetime,
) -> FundEvidence:
    if movement.status != RecordStatus.DRAFT:
        raise DomainError(_l("已公开的记录不能修改；如有错误，请提交更正"), code="published")
    if len(movement.evidence) >= spending.MAX_EVIDENCE:
        raise DomainError(_l("每条支出最多 %(n)s 个凭证", n=spending.MAX_EVIDENCE), field="file")
    stored = uploads.store_upload(
        session,
        data=data,
        filename=filename,
        allowed=spending.EVIDENCE_TYPES,
        uploaded_by_id=actor.id,
        now=now,
    )
    if any(e.file.sha256 == stored.sha256 for e in movement.evidence):
        raise DomainError(_l("这个文件已经上传过了"), field="file", code="duplicate")
    evidence = FundEvidence(movement=movement, stored_file_id=stored.id, label=stored.original_name)
    session.add(evidence)
    session.flush()
    session.refresh(movement)
    _audit(session, movement, "fund.evidence_add", actor, now)
    return evidence


def delete_draft(session: Session, *, movement: FundMovement, actor: User, now: datetime) -> None:
    if movement.status != RecordStatus.DRAFT:
        raise DomainError(_l("已公开的记录不能修改；如有错误，请提交更正"), code="published")
    _audit(session, movement, "fund.delete", actor, now)
    movement_id = movement.id
    session.execute(delete(FundEvidence).where(FundEvidence.movement_id == movement_id))
    session.execute(
        delete(FundMovement).where(
            FundMovement.id == movement_id, FundMovement.status == RecordStatus.DRAFT
        )
    )


def movement_payload(movement: FundMovement) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "account": movement.account,
        "direction": movement.direction,
        "kind": movement.kind,
        "date": movement.occurred_on.isoformat(),
        "amount_fen": movement.amount_fen,
        "counterparty": movement.counterparty,
        "description": movement.description,
        "approval_ref": movement.approval_ref,
        "evidence_sha256": [e.file.sha256 for e in movement.evidence],
        "supersedes": movement.supersedes_id,
        "correction_reason": movement.correction_reason,
    }
    if movement.vote_id is not None:  # only then, so payloads published before stay equal
        payload["vote_id"] = movement.vote_id
    return payload


def _current_payload(session: Session, record_id: int) -> dict[str, Any] | None:
    movement = session.get(FundMovement, record_id)
    if movement is None or movement.status != RecordStatus.PUBLISHED:
        return None
    return movement_payload(movement)


for _account in FundAccount:
    publication.register_kind(_account.value, _current_payload)


def publish_movement(
    session: Session, *, movement: FundMovement, community: Community, actor: User, now: datetime
) -> FundMovement:
    if movement.status != RecordStatus.DRAFT:
        raise DomainError(_l("这条记录已经公开过了"), code="published")
    claimed = session.execute(
        update(FundMovement)
        .where(FundMovement.id == movement.id, FundMovement.status == RecordStatus.DRAFT)
        .values(status=RecordStatus.PUBLISHED, published_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if claimed != 1:
        raise DomainError(_l("这条记录已经公开过了"), code="published")
    session.refresh(movement)
    publication.append(
        session,
        community=community,
        kind=movement.account,
        record_id=movement.id,
        payload=movement_payload(movement),
        now=now,
    )
    _audit(session, movement, "fund.publish", actor, now)
    return movement


def start_correction(
    session: Session,
    *,
    movement: FundMovement,
    reason: str,
    retract: bool,
    actor: User,
    now: datetime,
) -> FundMovement:
    if movement.status != RecordStatus.PUBLISHED:
        raise DomainError(_l("草稿可以直接修改，无需更正"), code="draft")
    reason = spending._clean_text(reason, limit=500, field="correction_reason", required=True)
    if session.scalar(select(FundMovement.id).where(FundMovement.supersedes_id == movement.id)):
        raise DomainError(_l("这条记录已被更正或已有更正草稿"), code="superseded")
    correction = FundMovement(
        community_id=movement.community_id,
        account=movement.account,
        direction=movement.direction,
        kind=movement.kind,
        occurred_on=movement.occurred_on,
        amount_fen=0 if retract else movement.amount_fen,
        counterparty=movement.counterparty,
        description=movement.description,
        approval_ref=movement.approval_ref,
        vote_id=movement.vote_id,
        status=RecordStatus.DRAFT,
        supersedes_id=movement.id,
        correction_reason=reason,
        entered_by_id=actor.id,
        created_at=now,
    )
    session.add(correction)
    session.flush()
    if not retract:
        for evidence in movement.evidence:
            session.add(
                FundEvidence(
                    movement_id=correction.id,
                    stored_file_id=evidence.stored_file_id,
                    label=evidence.label,
                )
            )
        session.flush()
        session.refresh(correction)
    _audit(session, correction, "fund.correct", actor, now)
    return correction


def current_filter() -> Any:
    newer = aliased(FundMovement)
    return (FundMovement.status == RecordStatus.PUBLISHED) & ~(
        select(newer.id)
        .where(newer.supersedes_id == FundMovement.id, newer.status == RecordStatus.PUBLISHED)
        .exists()
    )


def superseded_by(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(FundMovement.supersedes_id, FundMovement.id).where(
            FundMovement.supersedes_id.in_(ids), FundMovement.status == RecordStatus.PUBLISHED
        )
    )
    return {old: new for old, new in rows if old is not None}


def list_movements(
    session: Session,
    *,
    community_id: int,
    account: str,
    year: int | None = None,
    published_only: bool = True,
) -> list[FundMovement]:
    query = select(FundMovement).where(
        FundMovement.community_id == community_id, FundMovement.account == account
    )
    if published_only:
        query = query.where(FundMovement.status == RecordStatus.PUBLISHED)
    if year:
        query = query.where(
            FundMovement.occurred_on >= date(year, 1, 1),
            FundMovement.occurred_on <= date(year, 12, 31),
        )
    return list(
        session.scalars(
            query.options(
                selectinload(FundMovement.evidence).selectinload(FundEvidence.file)
            ).order_by(FundMovement.occurred_on.desc(), FundMovement.id.desc())
        )
    )


@dataclass(frozen=True)
class AccountSummary:
    account: str
    opening_fen: int  # balance before the year
    in_fen: int
    out_fen: int
    by_kind: list[dict[str, Any]]  # [{"kind", "direction", "total_fen"}] in the year

    @property
    def closing_fen(self) -> int:
        return self.opening_fen + self.in_fen - self.out_fen


def summary(session: Session, *, community_id: int, account: str, year: int) -> AccountSummary:
    """Opening balance, the year's income and spending by kind, closing balance (SQL sums)."""
    signed = case((FundMovement.direction == "in", FundMovement.amount_fen), else_=0) - case(
        (FundMovement.direction == "out", FundMovement.amount_fen), else_=0
    )
    base = (
        FundMovement.community_id == community_id,
        FundMovement.account == account,
        current_filter(),
    )
    opening = session.scalar(
        select(func.coalesce(func.sum(signed), 0)).where(
            *base, FundMovement.occurred_on < date(year, 1, 1)
        )
    )
    rows = session.execute(
        select(FundMovement.direction, FundMovement.kind, func.sum(FundMovement.amount_fen))
        .where(
            *base,
            FundMovement.occurred_on >= date(year, 1, 1),
            FundMovement.occurred_on <= date(year, 12, 31),
        )
        .group_by(FundMovement.direction, FundMovement.kind)
        .order_by(FundMovement.direction, func.sum(FundMovement.amount_fen).desc())
    ).all()
    by_kind = [
        {"direction": d, "kind": k, "total_fen": int(t or 0)} for d, k, t in rows if (t or 0) > 0
    ]
    return AccountSummary(
        account=account,
        opening_fen=int(opening or 0),
        in_fen=sum(r["total_fen"] for r in by_kind if r["direction"] == "in"),
        out_fen=sum(r["total_fen"] for r in by_kind if r["direction"] == "out"),
        by_kind=by_kind,
    )
