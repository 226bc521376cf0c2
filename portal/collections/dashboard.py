"""The collector's day (tasks ranked) and the manager's view: tier funnel, recovery by tier
and reason, aging table, workload and the approvals waiting. Set-based queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from portal.accounts.models import User
from portal.collections import aging
from portal.collections.models import (
    CaseStatus,
    CollectionCase,
    CollectionContact,
    CollectionTask,
    PaymentPlan,
    PlanInstalment,
    PlanStatus,
    TaskKind,
    TaskStatus,
)

# How urgent each kind of work is, before amount × age breaks the ties.
TASK_WEIGHT = {
    TaskKind.SERVICE_RECOVERY: 5,
    TaskKind.PROMISE_DUE: 4,
    TaskKind.PLAN_MISSED: 4,
    TaskKind.ESCALATE: 3,
    TaskKind.PLAN_OFFER: 3,
}


@dataclass
class WorkItem:
    kind: str
    title: str
    case: CollectionCase
    task: CollectionTask | None
    score: float
    overdue: bool = False
    due_on: date | None = None


def _community_filter(column: Any, ids: set[int] | None) -> Any:
    return True if ids is None else column.in_(ids or {-1})


def todays_work(
    session: Session, *, community_ids: set[int] | None, day: date, limit: int = 40
) -> list[WorkItem]:
    """Today's tasks ranked: overdue recovery tasks, promises and plans due, proposals, then
    the largest and oldest cases (amount × age)."""
    items: list[WorkItem] = []
    tasks = session.scalars(
        select(CollectionTask)
        .options(joinedload(CollectionTask.case).joinedload(CollectionCase.unit))
        .where(
            _community_filter(CollectionTask.community_id, community_ids),
            CollectionTask.status.in_([TaskStatus.OPEN, TaskStatus.PROPOSED]),
        )
    ).all()
    for task in tasks:
        case = task.case
        days = (day - case.oldest_due_date).days if case.oldest_due_date else 0
        overdue = task.due_on is not None and task.due_on < day
        weight = TASK_WEIGHT.get(TaskKind(task.kind), 1) + (2 if overdue else 0)
        items.append(
            WorkItem(
                kind=task.kind,
                title=task.title,
                case=case,
                task=task,
                score=weight * 1e12 + case.overdue_fen * max(days, 1),
                overdue=overdue,
                due_on=task.due_on,
            )
        )
    due_plans = session.execute(
        select(PaymentPlan, PlanInstalment)
        .join(PlanInstalment, PlanInstalment.plan_id == PaymentPlan.id)
        .options(joinedload(PaymentPlan.case).joinedload(CollectionCase.unit))
        .join(CollectionCase, CollectionCase.id == PaymentPlan.case_id)
        .where(
            _community_filter(CollectionCase.community_id, community_ids),
            PaymentPlan.status == PlanStatus.ACTIVE,
            PlanInstalment.paid_fen < PlanInstalment.amount_fen,
            PlanInstalment.due_on <= day + timedelta(days=3),
        )
    ).all()
    for plan, instalment in due_plans:
        items.append(
            WorkItem(
                kind="plan_due",
                title=f"分期第 {instalment.seq} 期 {instalment.due_on.isoformat()} 到期",
                case=plan.case,
                task=None,
                score=3.5e12 + instalment.amount_fen,
                due_on=instalment.due_on,
            )
        )
    busy = {i.case.id for i in items}
    cases = session.scalars(
        select(CollectionCase)
        .options(joinedload(CollectionCase.unit))
        .where(
            _community_filter(CollectionCase.community_id, community_ids),
            CollectionCase.status == CaseStatus.OPEN,
            CollectionCase.oldest_due_date.is_not(None),
        )
        .order_by(CollectionCase.overdue_fen.desc(), CollectionCase.oldest_due_date)
        .limit(limit)
    ).all()
    for case in cases:
        if case.id in busy:
            continue
        days = (day - case.oldest_due_date).days if case.oldest_due_date else 0
        items.append(
            WorkItem(
                kind="case",
                title=f"逾期 {days} 天",
                case=case,
                task=None,
                score=case.overdue_fen * max(days, 1),
            )
        )
    items.sort(key=lambda i: -i.score)
    return items[:limit]


def approval_count(session: Session, *, community_ids: set[int] | None) -> int:
    """Proposals waiting for a decision: the menu badge on every staff page, so one indexed
    count (todo_counts' three queries over every open case cost ~15 ms a page at 29,000)."""
    return int(
        session.scalar(
            select(func.count(CollectionTask.id)).where(
                _community_filter(CollectionTask.community_id, community_ids),
                CollectionTask.status == TaskStatus.PROPOSED,
            )
        )
        or 0
    )


def todo_counts(session: Session, *, community_ids: set[int] | None, day: date) -> dict[str, int]:
    """The numbers a collector's and a manager's home page opens on."""
    task_rows = session.execute(
        select(CollectionTask.kind, CollectionTask.status, CollectionTask.tier, func.count())
        .where(
            _community_filter(CollectionTask.community_id, community_ids),
            CollectionTask.status.in_([TaskStatus.OPEN, TaskStatus.PROPOSED]),
        )
        .group_by(CollectionTask.kind, CollectionTask.status, CollectionTask.tier)
    ).all()
    counts = {"tasks": 0, "approvals": 0, "approvals_l4": 0, "recovery": 0, "open_cases": 0}
    for kind, status, tier, n in task_rows:
        counts["tasks"] += n
        if status == TaskStatus.PROPOSED:
            counts["approvals"] += n
            if tier == "L4":
                counts["approvals_l4"] += n
        if kind == TaskKind.SERVICE_RECOVERY:
            counts["recovery"] += n
    counts["open_cases"] = int(
        session.scalar(
            select(func.count(CollectionCase.id)).where(
                _community_filter(CollectionCase.community_id, community_ids),
                CollectionCase.status != CaseStatus.CLOSED,
            )
        )
        or 0
    )
    counts["near_limitation"] = int(
        session.scalar(
            select(func.count(CollectionCase.id)).where(
                _community_filter(CollectionCase.community_id, community_ids),
                CollectionCase.status != CaseStatus.CLOSED,
                CollectionCase.near_limitation.is_(True),
            )
        )
        or 0
    )
    return counts


def tier_funnel(session: Session, *, community_id: int) -> list[dict[str, Any]]:
    """Active cases and their amounts per tier."""
    rows = session.execute(
        select(
            CollectionCase.tier,
            func.count(CollectionCase.id),
            func.sum(CollectionCase.overdue_fen),
            func.sum(CollectionCase.held_fen),
        )
        .where(
            CollectionCase.community_id == community_id,
            CollectionCase.status != CaseStatus.CLOSED,
        )
        .group_by(CollectionCase.tier)
    ).all()
    found = {r[0]: r for r in rows}
    return [
        {
            "tier": tier,
            "cases": int(found[tier][1]) if tier in found else 0,
            "overdue_fen": int(found[tier][2] or 0) if tier in found else 0,
            "held_fen": int(found[tier][3] or 0) if tier in found else 0,
        }
        for tier in ("none", "L1", "L2", "L3", "L4")
    ]


def recovery(session: Session, *, community_id: int, group: str) -> list[dict[str, Any]]:
    """Cases by the tier they reached (or by reason) and how many of them were paid up."""
    column = (
        CollectionCase.tier
        if group == "tier"
        else func.coalesce(CollectionCase.reason, CollectionCase.suggested_reason, "unknown")
    )
    rows = session.execute(
        select(
            column,
            func.count(CollectionCase.id),
            func.sum(sql_case((CollectionCase.status == CaseStatus.CLOSED, 1), else_=0)),
        )
        .where(CollectionCase.community_id == community_id)
        .group_by(column)
        .order_by(column)
    ).all()
    return [
        {
            "key": key,
            "cases": int(total),
            "recovered": int(closed or 0),
            "rate": round(100 * int(closed or 0) / int(total)) if total else None,
        }
        for key, total, closed in rows
    ]


def aging_table(session: Session, *, community_id: int, day: date) -> list[dict[str, Any]]:
    """Active cases per aging bucket, with the collectable and the held amounts apart."""
    rows = session.execute(
        select(
            CollectionCase.oldest_due_date, CollectionCase.overdue_fen, CollectionCase.held_fen
        ).where(
            CollectionCase.community_id == community_id,
            CollectionCase.status != CaseStatus.CLOSED,
        )
    ).all()
    table = {
        name: {"bucket": name, "cases": 0, "overdue_fen": 0, "held_fen": 0}
        for name in aging.BUCKET_NAMES
    }
    for oldest, overdue, held in rows:
        name = aging.bucket_of((day - oldest).days if oldest else None)
        if name is None:
            continue
        table[name]["cases"] += 1
        table[name]["overdue_fen"] += int(overdue)
        table[name]["held_fen"] += int(held)
    return list(table.values())


def workload(session: Session, *, community_id: int, since: datetime) -> list[dict[str, Any]]:
    """Contacts per staff member since a date."""
    rows = session.execute(
        select(User.display_name, func.count(CollectionContact.id))
        .join(User, User.id == CollectionContact.staff_id)
        .join(CollectionCase, CollectionCase.id == CollectionContact.case_id)
        .where(CollectionCase.community_id == community_id, CollectionContact.at >= since)
        .group_by(User.display_name)
        .order_by(func.count(CollectionContact.id).desc())
    ).all()
    return [{"staff": name, "contacts": int(n)} for name, n in rows]


def approvals(session: Session, *, community_id: int) -> list[CollectionTask]:
    """Proposed steps waiting for a person."""
    return list(
        session.scalars(
            select(CollectionTask)
            .options(joinedload(CollectionTask.case).joinedload(CollectionCase.unit))
            .where(
                CollectionTask.community_id == community_id,
                CollectionTask.status == TaskStatus.PROPOSED,
            )
            .order_by(CollectionTask.created_on, CollectionTask.id)
        )
    )
