"""Payment plans for owners in hardship: a collector proposes a schedule, the owner accepts it
in the portal; while it is kept the case stays paused, a missed instalment reopens it (the
daily run), and the unit's payments allocate to the instalments in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import service as audit
from portal.billing import late_fees as billing_late_fees
from portal.collections import aging
from portal.collections.cases import today_of
from portal.collections.engine import add_event
from portal.collections.models import (
    CaseStatus,
    CollectionCase,
    PaymentPlan,
    PlanInstalment,
    PlanStatus,
)
from portal.communities import service as communities
from portal.errors import Conflict, DomainError
from portal.notify import service as notify
from portal.notify.models import Category, Reason
from portal.timeutil import DEFAULT_TZ, check_date, to_local

MAX_INSTALMENTS = 24


def plan_total(session: Session, *, case: CollectionCase, day: date) -> int:
    """What a plan covers: the collectable arrears past due (held amounts are not planned)."""
    ages = aging.unit_aging(session, day=day, unit_ids=[case.unit_id])
    age = ages.get(case.unit_id)
    return age.overdue_fen if age else 0


def _parse_instalments(raw: Any, day: date) -> list[tuple[date, int]]:
    if not isinstance(raw, list) or not raw:
        raise DomainError(_l("请至少填写一期分期"), field="instalments", code="required")
    if len(raw) > MAX_INSTALMENTS:
        raise DomainError(_l("分期不能超过 24 期"), field="instalments")
    out: list[tuple[date, int]] = []
    for item in raw:
        if isinstance(item, tuple):
            due, amount = item
        elif isinstance(item, dict):
            due, amount = item.get("due_on"), item.get("amount_fen")
        else:
            raise DomainError(_l("分期格式不正确"), field="instalments")
        if isinstance(due, str):
            try:
                due = date.fromisoformat(due)
            except ValueError as exc:
                raise DomainError(_l("分期日期格式应为 YYYY-MM-DD"), field="instalments") from exc
            check_date(due, field="instalments", today=day)
        if not isinstance(due, date):
            raise DomainError(_l("每期都要有日期"), field="instalments")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise DomainError(_l("每期金额须为大于 0 的整数（分）"), field="instalments")
        out.append((due, amount))
    return out


def propose_plan(
    session: Session,
    *,
    case: CollectionCase,
    actor: User,
    instalments: Sequence[Any],
    now: datetime,
    down_payment_fen: int = 0,
    total_fen: int | None = None,
    note: str = "",
) -> PaymentPlan:
    """A schedule for the owner to accept: down payment and instalments must add up to the
    total (the collectable arrears), dates ascending and not in the past."""
    if case.status == CaseStatus.CLOSED:
        raise Conflict(_l("案件已结清，无需分期"), code="closed")
    day = today_of(case.community, now)
    items = _parse_instalments(list(instalments), day)
    if (
        isinstance(down_payment_fen, bool)
        or not isinstance(down_payment_fen, int)
        or (down_payment_fen < 0)
    ):
        raise DomainError(_l("首付金额不正确"), field="down_payment_fen")
    owed = plan_total(session, case=case, day=day)
    if total_fen is None:
        total_fen = owed
    if isinstance(total_fen, bool) or not isinstance(total_fen, int) or total_fen <= 0:
        raise DomainError(_l("分期总额须大于 0"), field="total_fen")
    if total_fen != owed:
        raise DomainError(
            _l("分期总额应等于当前逾期应缴金额 %(o)s 分", o=owed),
            field="total_fen",
            code="total_mismatch",
        )
    dates = [d for d, _a in items]
    if dates[0] < day:
        raise DomainError(_l("第一期日期不能早于今天"), field="instalments", code="date_in_past")
    if any(b <= a for a, b in pairwise(dates)):
        raise DomainError(_l("分期日期须逐期递增"), field="instalments", code="dates_not_ascending")
    if dates[-1] > day + timedelta(days=730):
        raise DomainError(_l("分期最长两年"), field="instalments")
    if down_payment_fen + sum(a for _d, a in items) != total_fen:
        raise DomainError(
            _l(
                "首付与各期金额之和（%(s)s 分）须等于分期总额（%(t)s 分）",
                s=down_payment_fen + sum(a for _d, a in items),
                t=total_fen,
            ),
            field="instalments",
            code="sum_mismatch",
        )
    note = (note or "").strip()
    if len(note) > 1000:
        raise DomainError(_l("说明不能超过 1000 字"), field="note")
    # A newer proposal replaces one the owner has not accepted yet; an active plan stays.
    if session.scalar(
        select(PaymentPlan.id).where(
            PaymentPlan.case_id == case.id, PaymentPlan.status == PlanStatus.ACTIVE
        )
    ):
        raise Conflict(_l("已有执行中的分期计划"), code="plan_active")
    session.execute(
        update(PaymentPlan)
        .where(PaymentPlan.case_id == case.id, PaymentPlan.status == PlanStatus.PROPOSED)
        .values(status=PlanStatus.CANCELLED, ended_on=day)
        .execution_options(synchronize_session=False)
    )
    plan = PaymentPlan(
        case_id=case.id,
        unit_id=case.unit_id,
        status=PlanStatus.PROPOSED,
        total_fen=total_fen,
        down_payment_fen=down_payment_fen,
        note=note,
        proposed_by_id=actor.id,
        proposed_at=now,
    )
    session.add(plan)
    session.flush()
    rows = []
    if down_payment_fen:
        rows.append(PlanInstalment(plan_id=plan.id, seq=0, due_on=day, amount_fen=down_payment_fen))
    for seq, (due, amount) in enumerate(items, start=1):
        rows.append(PlanInstalment(plan_id=plan.id, seq=seq, due_on=due, amount_fen=amount))
    session.add_all(rows)
    add_event(
        session,
        case,
        "plan_proposed",
        day=day,
        now=now,
        actor_id=actor.id,
        details={"plan_id": plan.id, "total_fen": total_fen, "instalments": len(items)},
    )
    audit.record(
        session,
        actor_id=actor.id,
        action="collections.plan_propose",
        target_type="collection_plan",
        target_id=plan.id,
        community_id=case.community_id,
        now=now,
        details={"total_fen": total_fen, "instalments": len(items)},
    )
    session.flush()
    session.expire(plan, ["instalments"])
    _tell_owners(session, case=case, plan=plan, items=items, now=now)
    return plan


def _tell_owners(
    session: Session,
    *,
    case: CollectionCase,
    plan: PaymentPlan,
    items: list[tuple[date, int]],
    now: datetime,
) -> None:
    """The owners hear that a plan waits for them (a service message: it answers their own
    request for instalments, so it does not count against the reminder caps)."""
    first = today_of(case.community, now) if plan.down_payment_fen else items[0][0]
    for owner in notify.owners_of_units(session, [case.unit_id]).get(case.unit_id, []):
        notify.queue_message(
            session,
            event_key=f"plan_proposed:{plan.id}",
            recipient=owner,
            community_id=case.community_id,
            unit_id=case.unit_id,
            reason=Reason.PLAN_PROPOSED,
            category=Category.SERVICE,
            template_key="plan_proposed",
            context={
                "total_fen": plan.total_fen,
                "instalments": len(items) + (1 if plan.down_payment_fen else 0),
                "first_due": first.isoformat(),
                "plan_url": notify.public_url("/collections/my-plans"),
            },
            related_type="collection_plan",
            related_id=plan.id,
            now=now,
        )


def get_owned_plan(session: Session, *, owner: User, plan_id: int) -> PaymentPlan | None:
    """The plan if the user currently owns its unit; None (→ 404) otherwise."""
    plan = session.get(PaymentPlan, plan_id)
    if plan is None:
        return None
    if communities.get_owned_unit(session, user=owner, unit_id=plan.unit_id) is None:
        return None
    return plan


def owner_plans(session: Session, *, owner: User) -> list[PaymentPlan]:
    """Plans for the owner's units (proposed and running first)."""
    unit_ids = [u.id for u in communities.units_of(session, owner)]
    if not unit_ids:
        return []
    return list(
        session.scalars(
            select(PaymentPlan)
            .where(PaymentPlan.unit_id.in_(unit_ids))
            .order_by(PaymentPlan.id.desc())
        )
    )


def proposed_count(session: Session, *, unit_ids: Sequence[int]) -> int:
    """Plans proposed to these units and not yet answered (the owner's menu badge)."""
    if not unit_ids:
        return 0
    return int(
        session.scalar(
            select(func.count(PaymentPlan.id)).where(
                PaymentPlan.unit_id.in_(unit_ids), PaymentPlan.status == PlanStatus.PROPOSED
            )
        )
        or 0
    )


def accept_plan(session: Session, *, plan: PaymentPlan, owner: User, now: datetime) -> PaymentPlan:
    """The owner accepts the proposed schedule (once); the case pauses while it is kept."""
    case = plan.case
    day = today_of(case.community, now)
    if plan.status != PlanStatus.PROPOSED:
        raise Conflict(_l("该分期计划已不能接受"), code="not_proposed")
    if plan.instalments and plan.instalments[0].due_on < day and plan.down_payment_fen == 0:
        raise Conflict(_l("该分期计划已过期，请联系物业重新商定"), code="expired")
    claimed = session.execute(
        update(PaymentPlan)
        .where(PaymentPlan.id == plan.id, PaymentPlan.status == PlanStatus.PROPOSED)
        .values(status=PlanStatus.ACTIVE, accepted_by_id=owner.id, accepted_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Conflict(_l("该分期计划已不能接受"), code="not_proposed")
    session.expire(plan)
    case.status = CaseStatus.PAUSED
    case.pause_reason = "plan"
    case.updated_at = now
    add_event(
        session,
        case,
        "plan_accepted",
        day=day,
        now=now,
        actor_id=owner.id,
        details={"plan_id": plan.id},
    )
    session.flush()
    return plan


def planned_bills(session: Session, community_id: int) -> dict[int, date]:
    """Units on a plan being kept, with the day it was accepted: the bills due before then
    are the planned amount, on which no late fee accrues."""
    out: dict[int, date] = {}
    rows = session.execute(
        select(PaymentPlan.unit_id, PaymentPlan.accepted_at)
        .join(CollectionCase, CollectionCase.id == PaymentPlan.case_id)
        .where(
            CollectionCase.community_id == community_id,
            PaymentPlan.status == PlanStatus.ACTIVE,
            PaymentPlan.accepted_at.is_not(None),
        )
    )
    for unit_id, accepted_at in rows:
        out[unit_id] = to_local(accepted_at, DEFAULT_TZ).date() + timedelta(days=1)
    return out


billing_late_fees.on_planned_bills(planned_bills)


def plan_json(plan: PaymentPlan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "status": plan.status,
        "total_fen": plan.total_fen,
        "down_payment_fen": plan.down_payment_fen,
        "accepted_at": plan.accepted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if plan.accepted_at
        else None,
        "instalments": [
            {
                "seq": i.seq,
                "due_on": i.due_on.isoformat(),
                "amount_fen": i.amount_fen,
                "paid_fen": i.paid_fen,
            }
            for i in plan.instalments
        ],
    }
