"""Service recovery: a dissatisfied unit gets one open task for customer service listing the
specific problems to fix (low ratings, open complaints, low survey answers, overdue tickets,
service disputes), with a deadline; completion and overdue tasks are tracked.

A problem (by its ref, e.g. "ticket:12") is raised once per unit: a task that was done is not
reopened for the same problem, so the daily sweep is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from portal.accounts.models import User
from portal.audit import service as audit
from portal.communities.models import Community, Unit
from portal.errors import Conflict, DomainError, PermissionDenied
from portal.feedback.models import RecoveryStatus, RecoveryTask, SurveyResponse
from portal.feedback.profile import SatisfactionProfile, satisfaction_profile, satisfaction_profiles
from portal.tickets.models import OPEN_STATUSES, Ticket, TicketKind, TicketRating
from portal.timeutil import local_today, zone

DUE_DAYS = 3  # customer service calls back within three days
LOOKBACK_DAYS = 30
LOW_RATING = 2
LOW_SURVEY_X100 = 250
RECOVERY_ROLES = ("cs", "manager")
PROBLEM_SIGNALS = (
    "low_rating",
    "low_survey",
    "open_complaints",
    "open_service_disputes",
    "overdue_tickets",
)


@dataclass
class SweepResult:
    opened: int = 0
    updated: int = 0


def _handled_refs(session: Session, unit_id: int) -> set[str]:
    refs: set[str] = set()
    for problems in session.scalars(
        select(RecoveryTask.problems).where(RecoveryTask.unit_id == unit_id)
    ):
        refs.update(p.get("ref", "") for p in problems or [])
    return refs


def recover_unit(
    session: Session,
    *,
    unit_id: int,
    now: datetime,
    community: Community | None = None,
    profile: SatisfactionProfile | None = None,
) -> RecoveryTask | None:
    """Open (or extend) the unit's recovery task with its problems not yet handled; else None.
    A sweep passes the profile it read for all its units at once."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        return None
    community = community or unit.community
    if profile is None:
        profile = satisfaction_profile(session, unit_id=unit_id, now=now)
    handled = _handled_refs(session, unit_id)
    new = [
        {"signal": e["signal"], "ref": e["ref"], "detail": e["detail"]}
        for e in profile.evidence
        if e["signal"] in PROBLEM_SIGNALS and e["ref"] not in handled
    ]
    if not new:
        return None
    task = session.scalar(select(RecoveryTask).where(RecoveryTask.open_unit_id == unit_id))
    if task is not None:
        task.problems = [*task.problems, *new]
        task.score = profile.score
        session.flush()
        return task
    today = local_today(zone(community.timezone), now)
    due = today + timedelta(days=DUE_DAYS)
    task = RecoveryTask(
        community_id=unit.community_id,
        unit_id=unit_id,
        status=RecoveryStatus.OPEN,
        open_unit_id=unit_id,
        problems=new,
        score=profile.score,
        created_at=now,
        period=today.strftime("%Y-%m"),
        due_on=due,
        note="",
    )
    try:
        with session.begin_nested():  # one open task per unit, even under two sweeps at once
            session.add(task)
            session.flush()
    except IntegrityError:
        return session.scalar(select(RecoveryTask).where(RecoveryTask.open_unit_id == unit_id))
    return task


def candidate_units(
    session: Session, *, community_id: int, now: datetime, lookback_days: int = LOOKBACK_DAYS
) -> list[int]:
    """Units showing dissatisfaction (set-based): a recent rating ≤ 2, an open complaint or a
    recent survey answer averaging ≤ 2.5."""
    since = now - timedelta(days=lookback_days)
    low_ratings = (
        select(Ticket.unit_id)
        .join(TicketRating, TicketRating.ticket_id == Ticket.id)
        .where(
            Ticket.community_id == community_id,
            TicketRating.score <= LOW_RATING,
            TicketRating.created_at >= since,
            Ticket.unit_id.is_not(None),
        )
    )
    complaints = select(Ticket.unit_id).where(
        Ticket.community_id == community_id,
        Ticket.kind == TicketKind.COMPLAINT,
        Ticket.status.in_(OPEN_STATUSES),
        Ticket.unit_id.is_not(None),
    )
    low_surveys = (
        select(SurveyResponse.unit_id)
        .join(Unit, Unit.id == SurveyResponse.unit_id)
        .where(
            Unit.community_id == community_id,
            SurveyResponse.mean_x100 <= LOW_SURVEY_X100,
            SurveyResponse.created_at >= since,
        )
    )
    union = low_ratings.union(complaints, low_surveys).subquery()
    return sorted(int(u) for u in session.scalars(select(union.c[0]).distinct()) if u)


def sweep(session: Session, *, community: Community, now: datetime) -> SweepResult:
    """Open or extend recovery tasks for every dissatisfied unit; re-running changes nothing."""
    result = SweepResult()
    candidates = candidate_units(session, community_id=community.id, now=now)
    profiles = satisfaction_profiles(session, candidates, now)
    for unit_id in candidates:
        existed = session.scalar(
            select(RecoveryTask.id).where(RecoveryTask.open_unit_id == unit_id)
        )
        before = _handled_refs(session, unit_id)
        task = recover_unit(
            session, unit_id=unit_id, now=now, community=community, profile=profiles[unit_id]
        )
        if task is None:
            continue
        if existed is None:
            result.opened += 1
        elif _handled_refs(session, unit_id) != before:
            result.updated += 1
    return result


def can_work(user: User, community_id: int) -> bool:
    return user.is_admin or community_id in user.community_ids(*RECOVERY_ROLES)


def complete_task(
    session: Session, *, task: RecoveryTask, staff: User, note: str, now: datetime
) -> None:
    """Close a recovery task with what was done (compare-and-set); audited."""
    if not can_work(staff, task.community_id):
        raise PermissionDenied(_l("只有客服或管理处负责人可以处理回访任务"))
    note = (note or "").strip()
    if not note:
        raise DomainError(_l("请记录处理结果"), field="note", code="required")
    if len(note) > 2000:
        raise DomainError(_l("处理结果不能超过 2000 字"), field="note")
    today = local_today(zone(task.community.timezone), now)
    done = session.execute(
        update(RecoveryTask)
        .where(RecoveryTask.id == task.id, RecoveryTask.status == RecoveryStatus.OPEN)
        .values(
            status=RecoveryStatus.DONE,
            open_unit_id=None,
            done_at=now,
            done_on_time=today <= task.due_on,
            done_by_id=staff.id,
            note=note,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Conflict(_l("该任务已经处理过"), code="already_done")
    session.refresh(task)
    audit.record(
        session,
        actor_id=staff.id,
        action="recovery.complete",
        target_type="recovery_task",
        target_id=task.id,
        community_id=task.community_id,
        now=now,
        details={"unit_id": task.unit_id, "problems": len(task.problems)},
    )


def get_scoped_task(session: Session, *, staff: User, task_id: int) -> RecoveryTask | None:
    task = session.get(RecoveryTask, task_id)
    if task is None or not can_work(staff, task.community_id):
        return None
    return task


def is_overdue(task: RecoveryTask, today: date) -> bool:
    return task.status == RecoveryStatus.OPEN and task.due_on < today


@dataclass
class TaskPage:
    tasks: list[RecoveryTask]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def task_list(
    session: Session,
    *,
    community_ids: set[int] | None,
    status: str,
    today: date,
    page: int = 1,
    per_page: int = 50,
) -> TaskPage:
    """Recovery tasks in the user's communities: open (overdue first), overdue, done or all."""
    query = select(RecoveryTask)
    if community_ids is not None:
        query = query.where(RecoveryTask.community_id.in_(community_ids or {-1}))
    if status == "open":
        query = query.where(RecoveryTask.status == RecoveryStatus.OPEN)
    elif status == "overdue":
        query = query.where(RecoveryTask.status == RecoveryStatus.OPEN, RecoveryTask.due_on < today)
    elif status == "done":
        query = query.where(RecoveryTask.status == RecoveryStatus.DONE)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    rows = session.scalars(
        query.options(joinedload(RecoveryTask.unit))
        .order_by(RecoveryTask.status.desc(), RecoveryTask.due_on, RecoveryTask.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return TaskPage(list(rows), total, page, per_page)


def unit_tasks(session: Session, *, unit_id: int) -> list[RecoveryTask]:
    return list(
        session.scalars(
            select(RecoveryTask)
            .where(RecoveryTask.unit_id == unit_id)
            .order_by(RecoveryTask.created_at.desc())
        )
    )


def counts(session: Session, *, community_id: int, today: date) -> dict[str, Any]:
    """Open, overdue and done tasks of a community (one grouped query)."""
    open_, overdue, done = session.execute(
        select(
            func.count(RecoveryTask.id).filter(RecoveryTask.status == RecoveryStatus.OPEN),
            func.count(RecoveryTask.id).filter(
                RecoveryTask.status == RecoveryStatus.OPEN, RecoveryTask.due_on < today
            ),
            func.count(RecoveryTask.id).filter(RecoveryTask.status == RecoveryStatus.DONE),
        ).where(RecoveryTask.community_id == community_id)
    ).one()
    return {"open": open_ or 0, "overdue": overdue or 0, "done": done or 0}
