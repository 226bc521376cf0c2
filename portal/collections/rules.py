"""The escalation rules, shared by the daily run (which proposes) and a person (who decides).

One tier at a time, each needing the previous tier's action recorded: L2 needs the L1
reminder, L3 a *delivered* L2 written notice, L4 an L3 in-person talk and a manager. Nothing
past L1 while the unit has an open service dispute or an unfinished service-recovery task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from portal.collections import signals
from portal.collections.models import (
    TIER_ORDER,
    CollectionCase,
    CollectionContact,
    CollectionHold,
    CollectionTask,
    ContactChannel,
    PaymentPlan,
    PlanStatus,
    TaskKind,
    TaskStatus,
    Tier,
)
from portal.communities.models import Community
from portal.disputes.models import OPEN_STATUSES as DISPUTE_OPEN
from portal.disputes.models import Dispute, TargetType
from portal.errors import Conflict

RECOVERY_DAYS = 14
DWELL_DAYS = 7  # a tier's step gets a week (the reminder's deadline) before the next one


class EscalationRefused(Conflict):
    """409 with one of the contract's codes (tier_skipped, needs_approval, dispute_open,
    service_recovery_pending) or paused."""


@dataclass
class Facts:
    """What the daily run reads about every case of a community, fetched in a few set-based
    queries instead of per case; the run keeps it current as it writes. A person's action
    passes no facts and reads the database directly."""

    disputed_units: set[int] = field(default_factory=set)
    holds: list[CollectionHold] = field(default_factory=list)
    plans: dict[int, PaymentPlan] = field(default_factory=dict)
    recovery: dict[int, CollectionTask] = field(default_factory=dict)
    task_keys: set[str] = field(default_factory=set)
    # case id → [(episode, tier, channel, notice_delivered, outcome, by a person)]
    contacts: dict[int, list[tuple[int, str, str, bool, str, bool]]] = field(default_factory=dict)
    signal_cache: dict[str, Any] = field(default_factory=dict)  # e.g. per-building tickets

    @classmethod
    def load(cls, session: Session, *, community_id: int, day: date) -> Facts:
        facts = cls()
        facts.disputed_units = set(
            session.scalars(
                select(Dispute.unit_id).where(
                    Dispute.community_id == community_id,
                    Dispute.target_type == TargetType.SERVICE,
                    Dispute.status.in_(DISPUTE_OPEN),
                )
            )
        )
        facts.holds = list(
            session.scalars(
                select(CollectionHold)
                .where(
                    CollectionHold.community_id == community_id,
                    CollectionHold.starts_on <= day,
                    or_(CollectionHold.ends_on.is_(None), CollectionHold.ends_on >= day),
                    CollectionHold.released_at.is_(None),
                )
                .order_by(CollectionHold.id)
            )
        )
        case_ids = select(CollectionCase.id).where(CollectionCase.community_id == community_id)
        for plan in session.scalars(
            select(PaymentPlan)
            .options(selectinload(PaymentPlan.instalments))
            .where(PaymentPlan.case_id.in_(case_ids), PaymentPlan.status == PlanStatus.ACTIVE)
            .order_by(PaymentPlan.id)
        ):
            facts.plans.setdefault(plan.case_id, plan)
        for task in session.scalars(
            select(CollectionTask)
            .where(
                CollectionTask.community_id == community_id,
                CollectionTask.kind == TaskKind.SERVICE_RECOVERY,
                CollectionTask.status == TaskStatus.OPEN,
            )
            .order_by(CollectionTask.id)
        ):
            facts.recovery.setdefault(task.case_id, task)
        facts.task_keys = set(
            session.scalars(
                select(CollectionTask.key).where(CollectionTask.community_id == community_id)
            )
        )
        for row in session.execute(
            select(
                CollectionContact.case_id,
                CollectionContact.episode,
                CollectionContact.tier,
                CollectionContact.channel,
                CollectionContact.notice_delivered,
                CollectionContact.outcome,
                CollectionContact.staff_id,
            ).where(CollectionContact.case_id.in_(case_ids))
        ):
            facts.add_contact(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6])
        return facts

    def add_contact(
        self,
        case_id: int,
        episode: int,
        tier: str,
        channel: str,
        delivered: bool,
        outcome: str,
        staff_id: int | None,
    ) -> None:
        self.contacts.setdefault(case_id, []).append(
            (episode, tier, channel, delivered, outcome, staff_id is not None)
        )


def tier_index(tier: str) -> int:
    return TIER_ORDER.index(Tier(tier))


def next_tier(tier: str) -> Tier | None:
    i = tier_index(tier)
    return TIER_ORDER[i + 1] if i + 1 < len(TIER_ORDER) else None


def threshold_days(community: Community, tier: str) -> int:
    return {
        Tier.L1: community.tier_l1_days,
        Tier.L2: community.tier_l2_days,
        Tier.L3: community.tier_l3_days,
        Tier.L4: community.tier_l4_days,
    }[Tier(tier)]


def tier_action_recorded(
    session: Session, *, case: CollectionCase, tier: str, facts: Facts | None = None
) -> bool:
    """Has the action of `tier` been recorded in this episode? L1: a reminder or contact;
    L2: a written notice delivered with proof; L3: an in-person talk; L4: anything."""
    if facts is not None:
        return any(
            episode == case.episode
            and t == tier
            and (tier != Tier.L2 or delivered)
            and (tier != Tier.L3 or channel == ContactChannel.VISIT)
            for episode, t, channel, delivered, _o, _p in facts.contacts.get(case.id, [])
        )
    query = select(CollectionContact.id).where(
        CollectionContact.case_id == case.id,
        CollectionContact.episode == case.episode,
        CollectionContact.tier == tier,
    )
    if tier == Tier.L2:
        query = query.where(CollectionContact.notice_delivered.is_(True))
    elif tier == Tier.L3:
        query = query.where(CollectionContact.channel == ContactChannel.VISIT)
    return session.scalar(query.limit(1)) is not None


def active_hold(
    session: Session, *, case: CollectionCase, day: date, facts: Facts | None = None
) -> CollectionHold | None:
    """A hold on the unit or its community covering `day`."""
    if facts is not None:
        return next((h for h in facts.holds if h.unit_id in (None, case.unit_id)), None)
    return session.scalar(
        select(CollectionHold)
        .where(
            CollectionHold.community_id == case.community_id,
            or_(CollectionHold.unit_id.is_(None), CollectionHold.unit_id == case.unit_id),
            CollectionHold.starts_on <= day,
            or_(CollectionHold.ends_on.is_(None), CollectionHold.ends_on >= day),
            CollectionHold.released_at.is_(None),
        )
        .order_by(CollectionHold.id)
        .limit(1)
    )


def active_plan(
    session: Session, *, case_id: int, facts: Facts | None = None
) -> PaymentPlan | None:
    if facts is not None:
        return facts.plans.get(case_id)
    return session.scalar(
        select(PaymentPlan)
        .where(PaymentPlan.case_id == case_id, PaymentPlan.status == PlanStatus.ACTIVE)
        .limit(1)
    )


def open_recovery_task(
    session: Session, *, case_id: int, facts: Facts | None = None
) -> CollectionTask | None:
    if facts is not None:
        return facts.recovery.get(case_id)
    return session.scalar(
        select(CollectionTask)
        .where(
            CollectionTask.case_id == case_id,
            CollectionTask.kind == TaskKind.SERVICE_RECOVERY,
            CollectionTask.status == TaskStatus.OPEN,
        )
        .limit(1)
    )


def escalation_block(
    session: Session, *, case: CollectionCase, day: date, facts: Facts | None = None
) -> tuple[str, Any, date | None] | None:
    """Why the case may not go past L1 now: (code, message, until) or None."""
    disputed = (
        case.unit_id in facts.disputed_units
        if facts is not None
        else signals.open_service_dispute(session, unit_id=case.unit_id)
    )
    if disputed:
        return "dispute_open", _l("该户有未结的服务异议，催缴不能超过 L1"), None
    task = open_recovery_task(session, case_id=case.id, facts=facts)
    if task is not None:
        return (
            "service_recovery_pending",
            _l("服务补救任务尚未完成，暂停升级"),
            task.due_on,
        )
    return None


def pause_block(
    session: Session, *, case: CollectionCase, day: date, facts: Facts | None = None
) -> tuple[str, Any, date | None] | None:
    """Holds, plans and promises pause every step (code, message, until)."""
    hold = active_hold(session, case=case, day=day, facts=facts)
    if hold is not None:
        return "hold", _l("催缴暂停中：%(r)s", r=hold.reason), hold.ends_on
    if active_plan(session, case_id=case.id, facts=facts) is not None:
        return "plan", _l("业主正在按分期计划缴费"), None
    if case.promised_on is not None and case.promised_on >= day:
        return (
            "promise",
            _l("业主承诺 %(d)s 前缴费", d=case.promised_on.isoformat()),
            (case.promised_on + timedelta(days=1)),
        )
    return None


def check_escalation(
    session: Session,
    *,
    case: CollectionCase,
    community: Community,
    target: str,
    day: date,
    by_manager: bool,
) -> None:
    """Raise EscalationRefused unless a person may move the case to `target` now."""
    if target not in (Tier.L2, Tier.L3, Tier.L4):
        raise EscalationRefused(_l("只能升级到 L2、L3 或 L4"), field="tier", code="invalid_tier")
    if case.status == "closed":
        raise EscalationRefused(_l("案件已结清，不能升级"), code="closed")
    if next_tier(case.tier) != target:
        raise EscalationRefused(
            _l(
                "催缴须逐级进行：当前为 %(c)s，下一级只能是 %(n)s",
                c=case.tier,
                n=next_tier(case.tier) or "—",
            ),
            field="tier",
            code="tier_skipped",
        )
    if not tier_action_recorded(session, case=case, tier=case.tier):
        needed = {
            Tier.L1: _l("L1 提醒尚未记录"),
            Tier.L2: _l("L2 书面催缴通知尚未送达（需留存送达凭证）"),
            Tier.L3: _l("L3 上门面谈尚未记录"),
        }.get(Tier(case.tier), _l("上一级的催缴动作尚未记录"))
        raise EscalationRefused(needed, field="tier", code="tier_skipped")
    block = escalation_block(session, case=case, day=day)
    if block is not None:
        raise EscalationRefused(block[1], code=block[0])
    paused = pause_block(session, case=case, day=day)
    if paused is not None:
        raise EscalationRefused(paused[1], code="paused")
    if target == Tier.L4 and not by_manager:
        raise EscalationRefused(
            _l("L4 调解/诉讼须由管理处负责人批准"), field="tier", code="needs_approval"
        )
