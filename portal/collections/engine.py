"""The daily collections run: open, close and reopen cases, age them, suggest reasons, queue
the L1 reminder through the outbox, and *propose* every later step as a task a person
approves (PIPL art. 24: no automated decision with a significant effect on an owner).

Idempotent for a date: it writes only what differs from what is stored, tasks have unique
keys, reminders unique event keys, and the run row is written once — so a rerun of the same
date writes nothing. Signals are read as of the start of the run date, for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.collections import aging, rules, signals
from portal.collections.aging import UnitAging
from portal.collections.models import (
    ACTIVE_TASK_STATUSES,
    ArrearsReason,
    CaseEvent,
    CaseStatus,
    CollectionCase,
    CollectionContact,
    CollectionRun,
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
from portal.money import format_fen
from portal.notify import service as notify
from portal.notify.models import Category, Reason
from portal.payments.models import Payment
from portal.timeutil import zone

REMINDER_DEADLINE_DAYS = 7
TIER_LABELS = {
    Tier.L2: "书面催缴通知（L2）",
    Tier.L3: "主管上门面谈（L3）",
    Tier.L4: "调解/诉讼（L4，须负责人批准）",
}


@dataclass
class RunResult:
    day: date
    opened: int = 0
    reopened: int = 0
    closed: int = 0
    reminders: int = 0
    proposals: int = 0
    recovery_tasks: int = 0
    plan_offers: int = 0
    paused: int = 0
    skipped_disputed: int = 0
    plans_broken: int = 0
    cases: int = 0
    lines: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            k: v for k, v in self.__dict__.items() if isinstance(v, int) and not isinstance(v, bool)
        }


def _set(obj: Any, **values: Any) -> bool:
    """Assign only what differs (so a rerun writes nothing); True when something changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def as_of(day: date, community: Community) -> datetime:
    """The instant the run reads signals at: the start of the run date, local time."""
    return datetime.combine(day, time(0), tzinfo=zone(community.timezone))


def add_event(
    session: Session,
    case: CollectionCase,
    kind: str,
    *,
    day: date,
    now: datetime,
    actor_id: int | None = None,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> CaseEvent:
    event = CaseEvent(
        case_id=case.id,
        kind=kind,
        on_date=day,
        at=now,
        actor_id=actor_id,
        note=note,
        details=details or {},
    )
    session.add(event)
    return event


def ensure_task(
    session: Session,
    *,
    case: CollectionCase,
    key: str,
    kind: str,
    status: str,
    title: str,
    day: date,
    now: datetime,
    tier: str | None = None,
    due_on: date | None = None,
    problems: list[dict[str, Any]] | None = None,
    assignee_role: str = "collector",
    facts: rules.Facts | None = None,
) -> tuple[CollectionTask | None, bool]:
    """The task with this key, created once (True when created now)."""
    if facts is not None:
        if key in facts.task_keys:
            return None, False
    else:
        existing = session.scalar(select(CollectionTask).where(CollectionTask.key == key))
        if existing is not None:
            return existing, False
    task = CollectionTask(
        key=key,
        case_id=case.id,
        community_id=case.community_id,
        kind=kind,
        tier=tier,
        status=status,
        assignee_role=assignee_role,
        title=title[:200],
        problems=problems or [],
        created_on=day,
        due_on=due_on,
        created_at=now,
    )
    session.add(task)
    if facts is None:
        session.flush()
    else:
        # In a run the keys in `facts` dedupe, and the tasks are inserted together at the
        # next flush: a flush per task re-reads every object in the session each time.
        facts.task_keys.add(key)
        if kind == TaskKind.SERVICE_RECOVERY and status == TaskStatus.OPEN:
            facts.recovery.setdefault(case.id, task)
    return task, True


def run_daily(
    session: Session,
    *,
    day: date,
    now: datetime,
    community_ids: list[int] | None = None,
) -> RunResult:
    """One pass over every community's arrears for `day`; re-running the date writes nothing."""
    result = RunResult(day=day)
    query = select(Community).order_by(Community.id)
    if community_ids is not None:
        query = query.where(Community.id.in_(community_ids or [-1]))
    for community in session.scalars(query).all():
        _run_community(session, community=community, day=day, now=now, result=result)
    if (
        community_ids is None
        and session.scalar(select(CollectionRun.id).where(CollectionRun.run_on == day)) is None
    ):
        session.add(CollectionRun(run_on=day, at=now, summary=result.summary()))
    session.flush()
    return result


def _run_community(
    session: Session, *, community: Community, day: date, now: datetime, result: RunResult
) -> None:
    ages = aging.unit_aging(session, day=day, community_id=community.id)
    cases = {
        c.unit_id: c
        for c in session.scalars(
            select(CollectionCase).where(CollectionCase.community_id == community.id)
        )
    }
    units = {
        u.id: u
        for u in session.scalars(
            select(Unit).where(Unit.id.in_(list(set(ages) | set(cases)) or [-1]))
        )
    }
    opened: list[CollectionCase] = []
    for unit_id, age in ages.items():
        case = cases.get(unit_id)
        if age.overdue_fen <= 0:
            continue  # all that is past due is held under open dispute: never chased
        if case is None:
            case = CollectionCase(
                community_id=community.id,
                unit_id=unit_id,
                status=CaseStatus.OPEN,
                tier=Tier.NONE,
                overdue_fen=age.overdue_fen,
                held_fen=age.held_fen,
                oldest_due_date=age.oldest_due_date,
                near_limitation=False,
                evidence=[],
                reason_note="",
                hardship_flag=False,
                plan_requested=False,
                opened_on=day,
                close_outcome="",
                episode=1,
                created_at=now,
                updated_at=now,
            )
            session.add(case)
            opened.append(case)
            cases[unit_id] = case
            result.opened += 1
            result.lines.append(f"{units[unit_id].code}: 新建案件 {format_fen(age.overdue_fen)}")
        elif case.status == CaseStatus.CLOSED:
            _reopen(session, case, day=day, now=now)
            result.reopened += 1
            result.lines.append(f"{units[unit_id].code}: 再次欠费，案件重新打开")
    session.flush()  # the new cases in one batch of inserts, for their ids
    for case in opened:
        add_event(session, case, "opened", day=day, now=now)
    reminders = Reminders(
        owners=notify.owners_of_units(
            session,
            [u for u, c in cases.items() if c.status != CaseStatus.CLOSED and c.tier == Tier.NONE],
        )
    )
    facts = rules.Facts.load(session, community_id=community.id, day=day)
    facts.signal_cache.update(
        signals.prefetch(
            session,
            unit_ids=[u for u, c in cases.items() if c.status != CaseStatus.CLOSED],
            day=day,
            now=as_of(day, community),
        )
    )
    for unit_id, case in cases.items():
        if case.status == CaseStatus.CLOSED:
            continue
        age = ages.get(unit_id) or UnitAging(unit_id)
        if age.overdue_fen <= 0 and age.held_fen <= 0:
            _close(session, case, day=day, now=now)
            result.closed += 1
            result.lines.append(f"{units[unit_id].code}: 已缴清，结案")
            continue
        result.cases += 1
        _process(
            session,
            case=case,
            unit=units[unit_id],
            community=community,
            age=age,
            day=day,
            now=now,
            result=result,
            reminders=reminders,
            facts=facts,
        )
    reminders.queue(session, now=now, facts=facts)


def _reopen(session: Session, case: CollectionCase, *, day: date, now: datetime) -> None:
    case.status = CaseStatus.OPEN
    case.tier = Tier.NONE
    case.tier_since = None
    case.episode += 1
    case.opened_on = day
    case.closed_on = None
    case.reason = None
    case.reason_note = ""
    case.promised_on = None
    case.pause_reason = None
    case.plan_requested = False
    case.updated_at = now
    add_event(session, case, "reopened", day=day, now=now, details={"episode": case.episode})


def _close(session: Session, case: CollectionCase, *, day: date, now: datetime) -> None:
    payment = session.scalar(
        select(Payment).where(Payment.unit_id == case.unit_id).order_by(Payment.id.desc()).limit(1)
    )
    outcome = (
        f"已缴清：{payment.channel} {format_fen(payment.amount_fen)}（付款 #{payment.id}）"
        if payment is not None
        else "已结清（减免或更正）"
    )
    case.status = CaseStatus.CLOSED
    case.closed_on = day
    case.close_outcome = outcome
    case.overdue_fen = 0
    case.held_fen = 0
    case.pause_reason = None
    case.updated_at = now
    session.execute(
        update(CollectionTask)
        .where(
            CollectionTask.case_id == case.id,
            CollectionTask.status.in_(ACTIVE_TASK_STATUSES),
            CollectionTask.kind != TaskKind.SERVICE_RECOVERY,  # the repair still matters
        )
        .values(status=TaskStatus.CANCELLED, decision_note="案件已结清")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(PaymentPlan)
        .where(PaymentPlan.case_id == case.id, PaymentPlan.status == PlanStatus.ACTIVE)
        .values(status=PlanStatus.COMPLETED, ended_on=day)
        .execution_options(synchronize_session=False)
    )
    add_event(
        session,
        case,
        "closed",
        day=day,
        now=now,
        note=outcome,
        details={"payment_id": payment.id if payment else None},
    )


def allocate_plan(session: Session, *, plan: PaymentPlan) -> int:
    """Spread the unit's payments since acceptance over the instalments in order; returns
    the fen allocated."""
    paid = int(
        session.scalar(
            select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
                Payment.unit_id == plan.unit_id, Payment.received_at >= plan.accepted_at
            )
        )
        or 0
    )
    left = paid
    for instalment in plan.instalments:
        share = min(instalment.amount_fen, max(0, left))
        _set(instalment, paid_fen=share)
        left -= share
    return paid


def _check_plan(
    session: Session,
    *,
    case: CollectionCase,
    day: date,
    now: datetime,
    result: RunResult,
    facts: rules.Facts | None = None,
) -> bool:
    """Allocate payments to the active plan; True while it is kept."""
    plan = rules.active_plan(session, case_id=case.id, facts=facts)
    if plan is None:
        return False
    allocate_plan(session, plan=plan)
    missed = [i for i in plan.instalments if i.due_on < day and i.paid_fen < i.amount_fen]
    if not missed:
        if all(i.paid_fen >= i.amount_fen for i in plan.instalments):
            plan.status = PlanStatus.COMPLETED
            plan.ended_on = day
            add_event(session, case, "plan_completed", day=day, now=now)
            if facts is not None:
                facts.plans.pop(case.id, None)
            return False
        return True
    first = missed[0]
    plan.status = PlanStatus.BROKEN
    plan.ended_on = day
    if facts is not None:
        facts.plans.pop(case.id, None)
    note = (
        f"第 {first.seq} 期（{first.due_on.isoformat()}，{format_fen(first.amount_fen)}）"
        f"未按时缴纳，分期计划中止，案件恢复催缴"
    )
    add_event(session, case, "plan_missed", day=day, now=now, note=note)
    ensure_task(
        session,
        case=case,
        key=f"{case.id}:planmissed:{plan.id}",
        kind=TaskKind.PLAN_MISSED,
        status=TaskStatus.OPEN,
        title=f"分期未按时缴纳，请联系业主：{note}",
        day=day,
        now=now,
        due_on=day + timedelta(days=3),
        facts=facts,
    )
    result.plans_broken += 1
    return False


def _process(
    session: Session,
    *,
    case: CollectionCase,
    unit: Unit,
    community: Community,
    age: UnitAging,
    day: date,
    now: datetime,
    result: RunResult,
    reminders: Reminders,
    facts: rules.Facts | None = None,
) -> None:
    changed = _set(
        case,
        overdue_fen=age.overdue_fen,
        held_fen=age.held_fen,
        oldest_due_date=age.oldest_due_date,
        near_limitation=aging.near_limitation(age.oldest_due_date, day),
    )
    disputed = (
        case.unit_id in facts.disputed_units
        if facts is not None
        else signals.open_service_dispute(session, unit_id=case.unit_id)
    )
    if rules.tier_index(case.tier) > 1 and disputed:
        # A service dispute opened after the case went past L1: stand down to L1 until it
        # is settled (the owner's complaint comes first); a person escalates again later.
        add_event(
            session,
            case,
            "stood_down",
            day=day,
            now=now,
            note="业主提出服务异议，暂回 L1，待异议处理完毕",
            details={"from": case.tier},
        )
        case.tier = Tier.L1
        case.tier_since = day
        changed = True
        result.lines.append(f"{unit.code}: 服务异议未结，退回 L1")
    if age.overdue_fen <= 0:  # only disputed amounts left: nothing is chased
        changed |= _set(case, status=CaseStatus.PAUSED, pause_reason="disputed")
        result.skipped_disputed += 1
        if changed:
            case.updated_at = now
        return
    # The reason and its evidence are read whatever the case's state, so a paused case shows
    # why its owner is behind too.
    found = signals.gather(
        session,
        case=case,
        unit=unit,
        day=day,
        now=as_of(day, community),
        contacts=facts.contacts.get(case.id, []) if facts is not None else None,
        cache=facts.signal_cache if facts is not None else None,
    )
    changed |= _set(case, suggested_reason=found.suggested, evidence=found.evidence)
    kept = _check_plan(session, case=case, day=day, now=now, result=result, facts=facts)
    paused = (
        rules.pause_block(session, case=case, day=day, facts=facts)
        if not kept
        else ("plan", "", None)
    )
    if paused is not None:
        changed |= _set(case, status=CaseStatus.PAUSED, pause_reason=paused[0])
        result.paused += 1
        if changed:
            case.updated_at = now
        return
    changed |= _set(case, status=CaseStatus.OPEN, pause_reason=None)
    if case.promised_on is not None and case.promised_on < day:
        _, created = ensure_task(
            session,
            case=case,
            key=f"{case.id}:promise:{case.promised_on.isoformat()}",
            kind=TaskKind.PROMISE_DUE,
            status=TaskStatus.OPEN,
            title=f"业主承诺 {case.promised_on.isoformat()} 前缴费，尚未缴清：请回访",
            day=day,
            now=now,
            due_on=day,
            facts=facts,
        )
        if created:
            result.lines.append(f"{unit.code}: 承诺到期未缴，回访任务")
    if changed:
        case.updated_at = now
    days = age.days_overdue(day) or 0
    reason = case.effective_reason
    if (
        case.tier == Tier.NONE
        and days >= community.tier_l1_days
        and _plan_reminder(
            session,
            case=case,
            unit=unit,
            community=community,
            age=age,
            day=day,
            now=now,
            reminders=reminders,
        )
    ):
        result.reminders += 1
        result.lines.append(f"{unit.code}: L1 提醒 {format_fen(age.overdue_fen)}")
    if reason == ArrearsReason.DISSATISFIED and found.problems():
        problems = found.problems()
        _, created = ensure_task(
            session,
            case=case,
            key=f"{case.id}:recovery:{case.episode}",
            kind=TaskKind.SERVICE_RECOVERY,
            status=TaskStatus.OPEN,
            title="服务补救：" + "；".join(p["text"] for p in problems[:3]),
            day=day,
            now=now,
            due_on=day + timedelta(days=rules.RECOVERY_DAYS),
            problems=problems,
            assignee_role="engineer" if any(p["type"] == "ticket" for p in problems) else "cs",
            facts=facts,
        )
        if created:
            result.recovery_tasks += 1
            result.lines.append(f"{unit.code}: 不满 → 服务补救任务（暂停升级）")
    if reason == ArrearsReason.HARDSHIP:
        has_plan = session.scalar(
            select(PaymentPlan.id).where(
                PaymentPlan.case_id == case.id,
                PaymentPlan.status.in_([PlanStatus.PROPOSED, PlanStatus.ACTIVE]),
            )
        )
        if has_plan is None:
            _, created = ensure_task(
                session,
                case=case,
                key=f"{case.id}:planoffer:{case.episode}",
                kind=TaskKind.PLAN_OFFER,
                status=TaskStatus.OPEN,
                title="经济困难：联系业主商定分期缴费计划",
                day=day,
                now=now,
                due_on=day + timedelta(days=3),
                facts=facts,
            )
            if created:
                result.plan_offers += 1
                result.lines.append(f"{unit.code}: 困难 → 建议分期")
        return
    _propose_next(
        session,
        case=case,
        unit=unit,
        community=community,
        days=days,
        day=day,
        now=now,
        result=result,
        facts=facts,
    )


def _propose_next(
    session: Session,
    *,
    case: CollectionCase,
    unit: Unit,
    community: Community,
    days: int,
    day: date,
    now: datetime,
    result: RunResult,
    facts: rules.Facts | None = None,
) -> None:
    target = rules.next_tier(case.tier)
    if case.tier == Tier.NONE or target is None:
        return
    if days < rules.threshold_days(community, target):
        return
    if case.tier_since is not None and day < case.tier_since + timedelta(days=rules.DWELL_DAYS):
        return  # give the owner the reminder's deadline before anything firmer
    if not rules.tier_action_recorded(session, case=case, tier=case.tier, facts=facts):
        return
    if rules.escalation_block(session, case=case, day=day, facts=facts) is not None:
        return
    _, created = ensure_task(
        session,
        case=case,
        key=f"{case.id}:escalate:{target}:{case.episode}:{case.tier_since}",
        kind=TaskKind.ESCALATE,
        status=TaskStatus.PROPOSED,
        tier=target,
        title=(
            f"建议升级到{TIER_LABELS[Tier(target)]}：逾期 {days} 天，{format_fen(case.overdue_fen)}"
        ),
        day=day,
        now=now,
        assignee_role="manager" if target == Tier.L4 else "collector",
        facts=facts,
    )
    if created:
        result.proposals += 1
        result.lines.append(f"{unit.code}: 建议升级到 {target}（待审批）")


@dataclass
class _Reminder:
    case: CollectionCase
    unit: Unit
    requests: list[notify.MessageRequest]


@dataclass
class Reminders:
    """A community's L1 reminders for one run: planned case by case, queued through the
    outbox as one batch at the end (one reminder at a time cost ~14 statements a case)."""

    owners: dict[int, list[User]]
    planned: list[_Reminder] = field(default_factory=list)

    def queue(self, session: Session, *, now: datetime, facts: rules.Facts | None) -> None:
        requests = [r for reminder in self.planned for r in reminder.requests]
        queued = iter(notify.queue_messages(session, requests, now=now))
        contacts = []
        for reminder in self.planned:
            messages = [m for _ in reminder.requests for m in next(queued)]
            pushed = [m for m in messages if m.channel != "inbox"]
            channel = pushed[0].channel if pushed else ContactChannel.INBOX
            if channel not in set(ContactChannel):
                channel = ContactChannel.INBOX
            main = pushed[0] if pushed else (messages[0] if messages else None)
            case = reminder.case
            contacts.append(
                CollectionContact(
                    case_id=case.id,
                    unit_id=reminder.unit.id,
                    channel=channel,
                    tier=Tier.L1,
                    episode=case.episode,
                    at=now,
                    staff_id=None,
                    outcome=ContactOutcome.SENT,
                    message_id=main.id if main is not None else None,
                    note="自动 L1 提醒（含缴费链接）",
                    created_at=now,
                )
            )
            if facts is not None:
                facts.add_contact(
                    case.id, case.episode, Tier.L1, channel, False, ContactOutcome.SENT, None
                )
        session.add_all(contacts)


def _plan_reminder(
    session: Session,
    *,
    case: CollectionCase,
    unit: Unit,
    community: Community,
    age: UnitAging,
    day: date,
    now: datetime,
    reminders: Reminders,
) -> bool:
    """The L1 friendly reminder with a pay link, to go through the outbox (quiet hours, caps)
    with the run's other reminders; the case moves to L1 now."""
    owners = reminders.owners.get(unit.id, [])
    if not owners:
        return False  # no one to message: the next action is a phone call (L1 by a person)
    periods = [b for b in age.bills if b.collectable_fen > 0]
    first, last = periods[0], periods[-1]
    label = first.period.strftime("%Y-%m")
    if last.period != first.period:
        label += " – " + last.period.strftime("%Y-%m")
    context = {
        "period": label,
        "amount_fen": age.overdue_fen,
        "tier": "L1",
        "deadline": (day + timedelta(days=REMINDER_DEADLINE_DAYS)).isoformat(),
        "pay_url": notify.public_url("/bills"),
    }
    requests = [
        notify.MessageRequest(
            event_key=f"collections_l1:case:{case.id}:{case.episode}",
            recipient=owner,
            community_id=community.id,
            unit_id=unit.id,
            reason=Reason.COLLECTIONS_TIER,
            category=Category.MONEY,
            template_key="collections_tier",
            context=dict(context),
            related_type="collection_case",
            related_id=case.id,
            amount_fen=age.overdue_fen,
            held_fen=age.held_fen,
        )
        for owner in owners
    ]
    reminders.planned.append(_Reminder(case=case, unit=unit, requests=requests))
    case.tier = Tier.L1
    case.tier_since = day
    case.updated_at = now
    add_event(session, case, "tier", day=day, now=now, details={"tier": "L1", "auto": True})
    return True
