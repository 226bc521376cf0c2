"""What a collector or manager does with a case: scoped look-ups, the case list, the next
action, confirming the reason, logging contacts, escalating, deciding proposed steps,
finishing service recovery, and holds. Every staff action is audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from portal.accounts.models import Role, RoleAssignment, User
from portal.audit import service as audit
from portal.collections import aging, rules
from portal.collections.engine import add_event
from portal.collections.models import (
    STAFF_CHANNELS,
    ArrearsReason,
    CaseStatus,
    CollectionCase,
    CollectionContact,
    CollectionHold,
    CollectionTask,
    ContactChannel,
    ContactOutcome,
    PaymentPlan,
    PlanStatus,
    TaskKind,
    TaskStatus,
    Tier,
)
from portal.communities.models import Community, Unit
from portal.errors import Conflict, DomainError, NotFound, PermissionDenied
from portal.feedback.profile import SatisfactionProfile, satisfaction_profiles
from portal.notify import policy
from portal.notify.models import Category
from portal.timeutil import local_today, zone
from portal.uploads import service as files

READ_ROLES = (Role.COLLECTOR, Role.MANAGER)
NOTE_MAX = 1000


def community_ids(user: User) -> set[int] | None:
    """Communities whose cases the user may work (None: every one, for an admin)."""
    if user.is_admin:
        return None
    return user.community_ids(*READ_ROLES)


def is_manager(user: User, community_id: int) -> bool:
    return user.is_admin or community_id in user.community_ids(Role.MANAGER)


def get_scoped_case(session: Session, *, staff: User, case_id: int) -> CollectionCase | None:
    """The case if the staff member works its community; None (→ 404) otherwise."""
    case = session.get(CollectionCase, case_id)
    if case is None:
        return None
    ids = community_ids(staff)
    if ids is not None and case.community_id not in ids:
        return None
    return case


def community_staff(session: Session, *, community_id: int, exclude: User) -> list[User]:
    """Staff of the community (who can go along on a home visit), not `exclude`."""
    staff_roles = [r for r in Role if r not in (Role.OWNER, Role.ADMIN)]
    return list(
        session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(
                RoleAssignment.community_id == community_id,
                RoleAssignment.role.in_(staff_roles),
                User.active.is_(True),
                User.id != exclude.id,
            )
            .distinct()
            .order_by(User.id)
            .limit(100)
        )
    )


def today_of(community: Community, now: datetime) -> date:
    return local_today(zone(community.timezone), now=now)


# ---------------------------------------------------------------- the next action


def next_action(session: Session, *, case: CollectionCase, day: date) -> dict[str, Any]:
    """{"kind", "tier", "not_before"}: what a person should do next, and from when."""
    community = case.community

    def act(kind: str, tier: str | None, not_before: date | None) -> dict[str, Any]:
        return {
            "kind": kind,
            "tier": tier,
            "not_before": not_before.isoformat() if not_before else None,
        }

    if case.status == CaseStatus.CLOSED:
        return act("wait", None, None)
    if case.overdue_fen <= 0:
        return act("wait", None, None)
    paused = rules.pause_block(session, case=case, day=day)
    if paused is not None:
        return act("wait", None, paused[2])
    oldest = case.oldest_due_date or day
    if case.tier == Tier.NONE:
        return act("reminder", Tier.L1, max(day, oldest + timedelta(days=community.tier_l1_days)))
    recovery = rules.open_recovery_task(session, case_id=case.id)
    if recovery is not None:
        return act("service_recovery", None, recovery.due_on)
    if rules.escalation_block(session, case=case, day=day) is not None:
        return act("wait", None, None)
    if case.effective_reason == ArrearsReason.HARDSHIP:
        return act("payment_plan", None, day)
    kinds = {Tier.L1: "reminder", Tier.L2: "written_notice", Tier.L3: "visit", Tier.L4: "legal"}
    if not rules.tier_action_recorded(session, case=case, tier=case.tier):
        return act(kinds[Tier(case.tier)], case.tier, day)
    target = rules.next_tier(case.tier)
    if target is None:
        return act("legal", Tier.L4, day)
    start = oldest + timedelta(days=rules.threshold_days(community, target))
    if case.tier_since is not None:
        start = max(start, case.tier_since + timedelta(days=rules.DWELL_DAYS))
    return act(kinds[target], target, max(day, start))


# ---------------------------------------------------------------- the case list


@dataclass
class CaseFilters:
    community_ids: set[int] | None
    status: str = "active"  # active (open + paused) | open | paused | closed | all
    tier: str | None = None
    reason: str | None = None
    building_id: int | None = None
    bucket: str | None = None
    near_limitation: bool = False
    # In arrears and dissatisfied: the owner's satisfaction score < 60 or an open complaint
    # (feedback.profile: SatisfactionProfile.dissatisfied), read for all cases at once.
    dissatisfied: bool = False


@dataclass
class CasePage:
    cases: list[CollectionCase]
    total: int
    page: int
    per_page: int
    # unit id → satisfaction profile of the page's cases (when the list was given `now`)
    profiles: dict[int, SatisfactionProfile] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _filtered(filters: CaseFilters, day: date) -> Any:
    query = select(CollectionCase).join(Unit, Unit.id == CollectionCase.unit_id)
    if filters.community_ids is not None:
        query = query.where(CollectionCase.community_id.in_(filters.community_ids or {-1}))
    if filters.status == "active":
        query = query.where(CollectionCase.status != CaseStatus.CLOSED)
    elif filters.status in ("open", "paused", "closed"):
        query = query.where(CollectionCase.status == filters.status)
    if filters.tier:
        query = query.where(CollectionCase.tier == filters.tier)
    if filters.reason:
        reason = func.coalesce(CollectionCase.reason, CollectionCase.suggested_reason)
        query = query.where(reason == filters.reason)
    if filters.building_id:
        query = query.where(Unit.building_id == filters.building_id)
    if filters.near_limitation:
        query = query.where(CollectionCase.near_limitation.is_(True))
    if filters.bucket:
        for name, low, high in aging.BUCKETS:
            if name == filters.bucket:
                query = query.where(CollectionCase.oldest_due_date <= day - timedelta(days=low))
                if high is not None:
                    query = query.where(
                        CollectionCase.oldest_due_date >= day - timedelta(days=high)
                    )
    return query


def _with_dissatisfied(
    session: Session, query: Any, filters: CaseFilters, now: datetime | None
) -> tuple[Any, dict[int, SatisfactionProfile]]:
    """Narrow the query to dissatisfied owners' cases: the profiles of every matching case in
    a few grouped queries (feedback.profile.satisfaction_profiles), never one per case."""
    if not filters.dissatisfied:
        return query, {}
    if now is None:
        raise ValueError("the dissatisfied filter needs `now`")
    unit_ids = list(session.scalars(select(query.subquery().c.unit_id)))
    profiles = satisfaction_profiles(session, unit_ids, now)
    keep = sorted(u for u, p in profiles.items() if p.dissatisfied)
    return query.where(CollectionCase.unit_id.in_(keep or [-1])), profiles


def list_cases(
    session: Session,
    *,
    filters: CaseFilters,
    day: date,
    page: int = 1,
    per_page: int = 25,
    now: datetime | None = None,
) -> CasePage:
    """Cases matching the filters, largest and oldest first, one page; given `now`, with the
    satisfaction profile of each case on the page."""
    query, profiles = _with_dissatisfied(session, _filtered(filters, day), filters, now)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    rows = session.scalars(
        query.options(joinedload(CollectionCase.unit))
        .order_by(CollectionCase.overdue_fen.desc(), CollectionCase.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    shown: dict[int, SatisfactionProfile] = {}
    if now is not None:
        missing = [c.unit_id for c in rows if c.unit_id not in profiles]
        if missing:
            profiles = {**profiles, **satisfaction_profiles(session, missing, now)}
        shown = {c.unit_id: profiles[c.unit_id] for c in rows}
    return CasePage(list(rows), total, page, per_page, shown)


def iter_cases(
    session: Session, *, filters: CaseFilters, day: date, now: datetime | None = None
) -> Any:
    """Every matching case, streamed in batches (for the arrears-list export)."""
    query, _profiles = _with_dissatisfied(session, _filtered(filters, day), filters, now)
    query = query.options(joinedload(CollectionCase.unit).joinedload(Unit.building))
    query = query.order_by(CollectionCase.community_id, Unit.code)
    return session.scalars(query.execution_options(yield_per=500))


# ---------------------------------------------------------------- the reason


def confirm_reason(
    session: Session,
    *,
    case: CollectionCase,
    actor: User,
    reason: str,
    note: str,
    now: datetime,
) -> CollectionCase:
    """A person confirms the suggested reason or overrides it; an override needs a note."""
    if reason not in set(ArrearsReason):
        raise DomainError(_l("请选择欠费原因"), field="reason")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise DomainError(_l("说明不能超过 1000 字"), field="note")
    if case.suggested_reason and reason != case.suggested_reason and not note:
        raise DomainError(_l("与系统建议不同，请写明理由"), field="note", code="note_required")
    previous = case.reason
    case.reason = reason
    case.reason_note = note
    case.reason_by_id = actor.id
    case.reason_at = now
    if reason == ArrearsReason.HARDSHIP:
        case.hardship_flag = True
    case.updated_at = now
    day = today_of(case.community, now)
    add_event(
        session,
        case,
        "reason",
        day=day,
        now=now,
        actor_id=actor.id,
        note=note,
        details={"reason": reason, "suggested": case.suggested_reason, "previous": previous},
    )
    audit.record(
        session,
        actor_id=actor.id,
        action="collections.reason",
        target_type="collection_case",
        target_id=case.id,
        community_id=case.community_id,
        now=now,
        details={"reason": reason, "suggested": case.suggested_reason, "override": bool(note)},
    )
    session.flush()
    return case


# ---------------------------------------------------------------- contacts


@dataclass
class Proof:
    data: bytes
    filename: str


def log_contact(
    session: Session,
    *,
    case: CollectionCase,
    actor: User,
    channel: str,
    outcome: str,
    at: datetime,
    now: datetime,
    planned: bool = False,
    promised_on: date | None = None,
    refusal_reason: str = "",
    note: str = "",
    mail_number: str = "",
    proof: Proof | None = None,
    second_staff_id: int | None = None,
) -> CollectionContact:
    """Record a contact attempt with its proof; the contact rules apply as to messages (a
    planned call in quiet hours or over a cap is refused, one made is flagged)."""
    if case.status == CaseStatus.CLOSED:
        raise Conflict(_l("案件已结清，无需再联系"), code="closed")
    if channel not in STAFF_CHANNELS:
        raise DomainError(_l("请选择联系方式"), field="channel")
    if outcome not in set(ContactOutcome) or outcome == ContactOutcome.SENT:
        raise DomainError(_l("请选择联系结果"), field="outcome")
    if at.tzinfo is None:
        raise DomainError(_l("时间须带时区"), field="at")
    if at > now + timedelta(minutes=5) and not planned:
        raise DomainError(_l("联系时间不能晚于现在（计划中的联系请选择“计划”）"), field="at")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise DomainError(_l("备注不能超过 1000 字"), field="note")
    day = today_of(case.community, now)
    if outcome == ContactOutcome.PROMISED:
        if promised_on is None:
            raise DomainError(_l("请填写业主承诺的缴费日期"), field="promised_on")
        if promised_on < day:
            raise DomainError(
                _l("承诺缴费日期不能早于今天"), field="promised_on", code="promise_in_past"
            )
        if promised_on > day + timedelta(days=90):
            raise DomainError(_l("承诺日期不能超过 90 天"), field="promised_on")
    elif promised_on is not None:
        raise DomainError(_l("只有“承诺缴费”才填写承诺日期"), field="promised_on")
    refusal_reason = (refusal_reason or "").strip()
    if outcome == ContactOutcome.REFUSED and not refusal_reason:
        raise DomainError(_l("请记录业主拒缴的理由"), field="refusal_reason")
    second: User | None = None
    if channel == ContactChannel.VISIT:
        # 上门: two staff, for the safety of both sides and a witness to what was said.
        if second_staff_id is None:
            raise DomainError(_l("上门须两名工作人员，请选择同行人员"), field="second_staff")
        second = session.get(User, second_staff_id)
        if (
            second is None
            or second.id == actor.id
            or not (second.is_admin or case.community_id in second.community_ids())
            or not second.is_staff
        ):
            raise DomainError(_l("同行人员须是本小区的另一名工作人员"), field="second_staff")
    mail_number = (mail_number or "").strip()
    if len(mail_number) > 40:
        raise DomainError(_l("挂号信单号过长"), field="mail_number")
    if channel == ContactChannel.LETTER and outcome == ContactOutcome.DELIVERED and not mail_number:
        raise DomainError(_l("挂号信送达须填写邮件单号"), field="mail_number")
    if channel == ContactChannel.POSTED and outcome == ContactOutcome.DELIVERED and proof is None:
        raise DomainError(_l("张贴通知须上传张贴照片"), field="proof")
    tz = zone(case.community.timezone)
    decision = policy.check_contact(
        session,
        unit_id=case.unit_id,
        community_tz=tz,
        channel=channel,
        category=Category.MONEY,
        at=at,
        planned=planned,
    )
    if not decision.allowed:
        message = {
            "quiet_hours": _l("21:00–08:00 不得联系业主，请在 %(t)s 之后再联系"),
            "cap_channel": _l("同一方式 3 天内只能联系一次，请在 %(t)s 之后再联系"),
            "cap_weekly": _l("7 天内联系已达 7 次，请在 %(t)s 之后再联系"),
        }.get(decision.reason or "", _l("现在不能联系，请在 %(t)s 之后再联系"))
        when = (
            decision.defer_until.astimezone(tz).strftime("%m-%d %H:%M")
            if (decision.defer_until)
            else "—"
        )
        raise DomainError(message % {"t": when}, field="at", code=decision.reason or "refused")
    stored_id = None
    if proof is not None:
        stored = files.store_upload(
            session,
            data=proof.data,
            filename=proof.filename,
            allowed=frozenset({"image", "pdf"}),
            uploaded_by_id=actor.id,
            now=now,
        )
        stored_id = stored.id
    tier = case.tier
    if tier == Tier.NONE:
        tier = Tier.L1  # a person's own reminder call is the L1 step
    delivered = (
        tier in (Tier.L2, Tier.L3, Tier.L4)
        and outcome == ContactOutcome.DELIVERED
        and (
            (channel == ContactChannel.LETTER and bool(mail_number))
            or (channel == ContactChannel.POSTED and stored_id is not None)
        )
    )
    contact = CollectionContact(
        case_id=case.id,
        unit_id=case.unit_id,
        channel=channel,
        tier=tier,
        episode=case.episode,
        at=at,
        staff_id=actor.id,
        second_staff_id=second.id if second else None,
        outcome=outcome,
        refusal_reason=refusal_reason[:200],
        promised_on=promised_on,
        proof_file_id=stored_id,
        mail_number=mail_number,
        notice_delivered=delivered,
        flagged=decision.flagged,
        flag_reason=decision.reason if decision.flagged else None,
        note=note,
        created_at=now,
    )
    session.add(contact)
    session.flush()
    policy.record_contact_attempt(
        session,
        unit_id=case.unit_id,
        channel=channel,
        category=Category.MONEY,
        at=at,
        source_type="collection_contact",
        source_id=contact.id,
        community_tz=tz,
    )
    if case.tier == Tier.NONE:
        case.tier = Tier.L1
        case.tier_since = day
        add_event(
            session, case, "tier", day=day, now=now, actor_id=actor.id, details={"tier": "L1"}
        )
    if outcome == ContactOutcome.PROMISED:
        case.promised_on = promised_on
        case.status = CaseStatus.PAUSED
        case.pause_reason = "promise"
    if outcome == ContactOutcome.HARDSHIP:
        case.hardship_flag = True
    case.updated_at = now
    audit.record(
        session,
        actor_id=actor.id,
        action="collections.contact",
        target_type="collection_case",
        target_id=case.id,
        community_id=case.community_id,
        now=now,
        details={
            "channel": channel,
            "outcome": outcome,
            "tier": tier,
            "flagged": decision.flagged,
            "promised_on": promised_on.isoformat() if promised_on else None,
        },
    )
    return contact


# ---------------------------------------------------------------- escalation and tasks


def escalate_case(
    session: Session, *, case: CollectionCase, actor: User, tier: str, now: datetime, note: str = ""
) -> CollectionCase:
    """Move the case one tier up, by a person; refused (409) unless every rule holds."""
    day = today_of(case.community, now)
    rules.check_escalation(
        session,
        case=case,
        community=case.community,
        target=tier,
        day=day,
        by_manager=is_manager(actor, case.community_id),
    )
    moved = session.execute(
        update(CollectionCase)
        .where(CollectionCase.id == case.id, CollectionCase.tier == case.tier)
        .values(tier=tier, tier_since=day, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict(_l("案件刚被他人更新，请刷新后重试"), code="stale")
    session.expire(case, ["tier", "tier_since", "updated_at"])
    session.execute(
        update(CollectionTask)
        .where(
            CollectionTask.case_id == case.id,
            CollectionTask.kind == TaskKind.ESCALATE,
            CollectionTask.tier == tier,
            CollectionTask.status == TaskStatus.PROPOSED,
        )
        .values(status=TaskStatus.APPROVED, decided_by_id=actor.id, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    add_event(
        session,
        case,
        "tier",
        day=day,
        now=now,
        actor_id=actor.id,
        note=note,
        details={"tier": tier},
    )
    audit.record(
        session,
        actor_id=actor.id,
        action="collections.escalate",
        target_type="collection_case",
        target_id=case.id,
        community_id=case.community_id,
        now=now,
        details={"tier": tier},
    )
    session.flush()
    return case


def get_scoped_task(session: Session, *, staff: User, task_id: int) -> CollectionTask | None:
    task = session.get(CollectionTask, task_id)
    if task is None:
        return None
    if staff.is_admin or task.community_id in staff.community_ids(
        Role.COLLECTOR, Role.MANAGER, Role.CS, Role.ENGINEER
    ):
        return task
    return None


def decide_task(
    session: Session, *, task: CollectionTask, actor: User, approve: bool, note: str, now: datetime
) -> CollectionTask:
    """Approve (escalate now, with every rule checked again) or decline a proposed step."""
    if task.kind != TaskKind.ESCALATE or task.status != TaskStatus.PROPOSED:
        raise Conflict(_l("该任务不是待审批的升级建议"), code="not_proposed")
    if task.tier == Tier.L4 and not is_manager(actor, task.community_id):
        raise PermissionDenied(_l("L4 调解/诉讼须由管理处负责人批准"), code="needs_approval")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise DomainError(_l("说明不能超过 1000 字"), field="note")
    case = task.case
    if approve:
        escalate_case(session, case=case, actor=actor, tier=task.tier or "", now=now, note=note)
        session.refresh(task)
        task.decision_note = note
        return task
    claimed = session.execute(
        update(CollectionTask)
        .where(CollectionTask.id == task.id, CollectionTask.status == TaskStatus.PROPOSED)
        .values(
            status=TaskStatus.DECLINED, decided_by_id=actor.id, decided_at=now, decision_note=note
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Conflict(_l("该建议已被处理"), code="stale")
    session.expire(task)
    audit.record(
        session,
        actor_id=actor.id,
        action="collections.decline",
        target_type="collection_task",
        target_id=task.id,
        community_id=task.community_id,
        now=now,
        details={"tier": task.tier, "note": note[:200]},
    )
    session.flush()
    return task


def complete_task(
    session: Session, *, task: CollectionTask, actor: User, note: str, now: datetime
) -> CollectionTask:
    """Mark an open task done (a service-recovery task needs a note of what was fixed)."""
    if task.status != TaskStatus.OPEN:
        raise Conflict(_l("该任务已处理"), code="stale")
    note = (note or "").strip()
    if task.kind == TaskKind.SERVICE_RECOVERY and not note:
        raise DomainError(_l("请写明已解决的问题"), field="note")
    if len(note) > NOTE_MAX:
        raise DomainError(_l("说明不能超过 1000 字"), field="note")
    claimed = session.execute(
        update(CollectionTask)
        .where(CollectionTask.id == task.id, CollectionTask.status == TaskStatus.OPEN)
        .values(status=TaskStatus.DONE, decided_by_id=actor.id, decided_at=now, decision_note=note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Conflict(_l("该任务已处理"), code="stale")
    session.expire(task)
    add_event(
        session,
        task.case,
        "task_done",
        day=today_of(task.case.community, now),
        now=now,
        actor_id=actor.id,
        note=note,
        details={"task_id": task.id, "kind": task.kind},
    )
    audit.record(
        session,
        actor_id=actor.id,
        action="collections.task_done",
        target_type="collection_task",
        target_id=task.id,
        community_id=task.community_id,
        now=now,
        details={"kind": task.kind},
    )
    session.flush()
    return task


def set_hardship(
    session: Session, *, case: CollectionCase, actor: User, plan_requested: bool, now: datetime
) -> None:
    """Record that the owner told us of hardship (and whether they asked for instalments)."""
    case.hardship_flag = True
    case.plan_requested = case.plan_requested or plan_requested
    case.updated_at = now
    add_event(
        session,
        case,
        "hardship",
        day=today_of(case.community, now),
        now=now,
        actor_id=actor.id,
        details={"plan_requested": plan_requested},
    )
    audit.record(
        session,
        actor_id=actor.id,
        action="collections.hardship",
        target_type="collection_case",
        target_id=case.id,
        community_id=case.community_id,
        now=now,
    )
    session.flush()


# ---------------------------------------------------------------- holds


def place_hold(
    session: Session,
    *,
    community: Community,
    actor: User,
    reason: str,
    starts_on: date,
    ends_on: date | None,
    now: datetime,
    unit: Unit | None = None,
) -> CollectionHold:
    """Pause collection for a unit or the whole community (cases keep aging)."""
    if not is_manager(actor, community.id):
        raise PermissionDenied(_l("只有管理处负责人可以暂停催缴"))
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise DomainError(_l("请写明暂停原因（200 字以内）"), field="reason")
    if ends_on is not None and ends_on < starts_on:
        raise DomainError(_l("结束日期不能早于开始日期"), field="ends_on")
    if unit is not None and unit.community_id != community.id:
        raise NotFound(_l("房屋不存在"))
    hold = CollectionHold(
        community_id=community.id,
        unit_id=unit.id if unit else None,
        reason=reason,
        starts_on=starts_on,
        ends_on=ends_on,
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(hold)
    session.flush()
    audit.record(
        session,
        actor_id=actor.id,
        action="collections.hold",
        target_type="collection_hold",
        target_id=hold.id,
        community_id=community.id,
        now=now,
        details={"unit": unit.code if unit else None, "reason": reason},
    )
    return hold


def release_hold(session: Session, *, hold: CollectionHold, actor: User, now: datetime) -> None:
    """End a hold now (compare-and-set)."""
    if not is_manager(actor, hold.community_id):
        raise PermissionDenied(_l("只有管理处负责人可以恢复催缴"))
    session.execute(
        update(CollectionHold)
        .where(CollectionHold.id == hold.id, CollectionHold.released_at.is_(None))
        .values(released_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire(hold)
    audit.record(
        session,
        actor_id=actor.id,
        action="collections.hold_release",
        target_type="collection_hold",
        target_id=hold.id,
        community_id=hold.community_id,
        now=now,
    )


def holds_of(session: Session, *, community_id: int) -> Sequence[CollectionHold]:
    return session.scalars(
        select(CollectionHold)
        .where(CollectionHold.community_id == community_id, CollectionHold.released_at.is_(None))
        .order_by(CollectionHold.starts_on)
    ).all()


# ---------------------------------------------------------------- plans in the case page


def plans_of(session: Session, *, case_id: int) -> Sequence[PaymentPlan]:
    return session.scalars(
        select(PaymentPlan).where(PaymentPlan.case_id == case_id).order_by(PaymentPlan.id.desc())
    ).all()


def current_plan(session: Session, *, case_id: int) -> PaymentPlan | None:
    return session.scalar(
        select(PaymentPlan)
        .where(
            PaymentPlan.case_id == case_id,
            PaymentPlan.status.in_([PlanStatus.PROPOSED, PlanStatus.ACTIVE]),
        )
        .order_by(PaymentPlan.id.desc())
        .limit(1)
    )
