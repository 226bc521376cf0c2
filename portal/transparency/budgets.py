"""Annual budgets per top-level spending category, versioned: a revision supersedes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.audit import service as audit
from portal.communities.models import Community
from portal.errors import DomainError
from portal.publication import service as publication
from portal.transparency import service as spending
from portal.transparency.models import Budget, BudgetLine, RecordStatus

KIND_BUDGET = "budget"


def _audit(session: Session, budget: Budget, action: str, actor: User, now: datetime) -> None:
    audit.record(
        session,
        actor_id=actor.id,
        action=action,
        target_type="budget",
        target_id=budget.id,
        community_id=budget.community_id,
        now=now,
        details={"year": budget.year, "version": budget.version},
    )


def check_year(year: Any, *, field: str = "year") -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise DomainError(_l("年份无效"), field=field)
    return year


def get_scoped_budget(session: Session, *, user: User, budget_id: int) -> Budget | None:
    budget = session.get(Budget, budget_id)
    if budget is None or not spending.can_edit(user, budget.community_id):
        return None
    return budget


def list_budgets(session: Session, *, community_id: int) -> list[Budget]:
    """Every version of every year, newest year and version first."""
    return list(
        session.scalars(
            select(Budget)
            .where(Budget.community_id == community_id)
            .options(selectinload(Budget.lines))
            .order_by(Budget.year.desc(), Budget.version.desc())
        )
    )


def current_budget(session: Session, *, community_id: int, year: int) -> Budget | None:
    """The latest published version of a year's budget."""
    return session.scalar(
        select(Budget)
        .where(
            Budget.community_id == community_id,
            Budget.year == year,
            Budget.status == RecordStatus.PUBLISHED,
        )
        .options(selectinload(Budget.lines).selectinload(BudgetLine.category))
        .order_by(Budget.version.desc())
        .limit(1)
    )


def start_budget(
    session: Session,
    *,
    community: Community,
    year: Any,
    reason: str = "",
    actor: User,
    now: datetime,
) -> Budget:
    """A draft for a year: the first version, or a revision copying the published one."""
    year = check_year(year)
    draft = session.scalar(
        select(Budget.id).where(
            Budget.community_id == community.id,
            Budget.year == year,
            Budget.status == RecordStatus.DRAFT,
        )
    )
    if draft:
        raise DomainError(
            _l("%(year)s 年已有一份预算草稿，请先完成或删除它", year=year),
            field="year",
            code="duplicate",
        )
    previous = current_budget(session, community_id=community.id, year=year)
    if previous is not None:
        reason = spending._clean_text(reason, limit=500, field="reason", required=True)
    last_version = session.scalar(
        select(func.max(Budget.version)).where(
            Budget.community_id == community.id, Budget.year == year
        )
    )
    budget = Budget(
        community_id=community.id,
        year=year,
        version=(last_version or 0) + 1,
        status=RecordStatus.DRAFT,
        supersedes_id=previous.id if previous else None,
        reason=reason.strip(),
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(budget)
    session.flush()
    if previous is not None:
        for line in previous.lines:
            session.add(
                BudgetLine(
                    budget_id=budget.id, category_id=line.category_id, amount_fen=line.amount_fen
                )
            )
        session.flush()
        session.refresh(budget)
    _audit(session, budget, "budget.create", actor, now)
    return budget


def set_lines(
    session: Session,
    *,
    budget: Budget,
    amounts: dict[int, Any],
    note: str,
    actor: User,
    now: datetime,
) -> None:
    """Replace a draft's amounts: {top-level category id: fen (0 or more)}."""
    if budget.status != RecordStatus.DRAFT:
        raise DomainError(_l("已公开的预算不能修改；请编制修订版"), code="published")
    tops = {c.id for c in spending.top_categories(session, community_id=budget.community_id)}
    clean: dict[int, int] = {}
    for category_id, amount in amounts.items():
        if category_id not in tops:
            raise DomainError(_l("未知的支出类别"), code="unknown_category")
        if amount is None:
            continue
        clean[category_id] = spending.check_amount(
            amount, allow_zero=True, field=f"line_{category_id}"
        )
    budget.note = spending._clean_text(note, limit=1000, field="note")
    existing = {line.category_id: line for line in budget.lines}
    for category_id, line in existing.items():
        if category_id not in clean:
            session.delete(line)
    for category_id, amount in clean.items():
        if category_id in existing:
            existing[category_id].amount_fen = amount
        else:
            session.add(BudgetLine(budget_id=budget.id, category_id=category_id, amount_fen=amount))
    session.flush()
    session.refresh(budget)
    _audit(session, budget, "budget.update", actor, now)


def budget_payload(budget: Budget) -> dict[str, Any]:
    lines = sorted(
        ({"category": line.category.code, "amount_fen": line.amount_fen} for line in budget.lines),
        key=lambda line: line["category"],
    )
    return {
        "year": budget.year,
        "version": budget.version,
        "lines": lines,
        "total_fen": sum(line["amount_fen"] for line in lines),
        "supersedes": budget.supersedes_id,
        "reason": budget.reason,
        "note": budget.note,
    }


def _current_budget_payload(session: Session, record_id: int) -> dict[str, Any] | None:
    budget = session.get(Budget, record_id)
    if budget is None or budget.status != RecordStatus.PUBLISHED:
        return None
    return budget_payload(budget)


publication.register_kind(KIND_BUDGET, _current_budget_payload)


def publish_budget(
    session: Session, *, budget: Budget, community: Community, actor: User, now: datetime
) -> Budget:
    """Publish a draft budget (it then supersedes the previous version of the year)."""
    if budget.status != RecordStatus.DRAFT:
        raise DomainError(_l("这份预算已经公开过了"), code="published")
    if not budget.lines:
        raise DomainError(_l("预算至少需要一个类别的金额"), code="empty")
    claimed = session.execute(
        update(Budget)
        .where(Budget.id == budget.id, Budget.status == RecordStatus.DRAFT)
        .values(status=RecordStatus.PUBLISHED, published_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if claimed != 1:
        raise DomainError(_l("这份预算已经公开过了"), code="published")
    session.refresh(budget)
    publication.append(
        session,
        community=community,
        kind=KIND_BUDGET,
        record_id=budget.id,
        payload=budget_payload(budget),
        now=now,
    )
    _audit(session, budget, "budget.publish", actor, now)
    return budget


def delete_budget_draft(session: Session, *, budget: Budget, actor: User, now: datetime) -> None:
    if budget.status != RecordStatus.DRAFT:
        raise DomainError(_l("已公开的预算不能删除"), code="published")
    _audit(session, budget, "budget.delete", actor, now)
    session.delete(budget)
    session.flush()
