"""Demo collections: the daily run six weeks ago and today, and scripted case histories in
DEMO1 — a wilful owner taken through L1–L4, one at L3 waiting for the manager's approval of L4,
one with a delivered written notice, one who promised to pay, one in hardship on a plan, one
whose overdue repair makes them dissatisfied (a service-recovery task, no L2), and a debt
carried over from before the demo's history that approaches the limitation period."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from portal.accounts.models import User
from portal.billing import ledger, summaries
from portal.billing import runs as billing_runs
from portal.billing.models import Bill, BillLine, FeeStandard, LineKind
from portal.collections import cases, engine, plans, rules
from portal.collections.aging import unit_aging
from portal.collections.models import CollectionCase
from portal.communities.models import Community, Unit
from portal.demo.service import DemoContext
from portal.errors import DomainError
from portal.money import line_amount_fen
from portal.notify import sending as notify_sending
from portal.notify import service as notify
from portal.notify.channels import InboxChannel
from portal.tickets import intake as tickets_intake
from portal.tickets import setup as tickets_setup
from portal.timeutil import DEFAULT_TZ, local_today

HISTORY_DAYS = 45
INBOX_ONLY = {"inbox": InboxChannel()}


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=DEFAULT_TZ).astimezone(UTC)


def _d(day: date, days: int) -> date:
    return day + timedelta(days=days)


def _user(ctx: DemoContext, username: str) -> User | None:
    return ctx.session.scalar(select(User).where(User.username == username))


def seed(ctx: DemoContext) -> None:
    """Run the engine on the demo's arrears and script the stories a collector reads."""
    session = ctx.session
    today = local_today(now=ctx.now)
    start = today - timedelta(days=HISTORY_DAYS)
    community = ctx.communities[0]
    collector = _user(ctx, "demo-collector")
    manager = _user(ctx, "demo-manager")
    owners = notify.owners_of_units(session, [u.id for u in ctx.units[community.id]])
    reserved = {
        unit_id
        for unit_id, people in owners.items()
        if any(p.username in ("demo-owner", "demo-owner-2") for p in people)
    }
    ages = unit_aging(session, day=start, community_id=community.id)
    candidates = sorted(
        (
            a
            for uid, a in ages.items()
            if a.overdue_fen > 0 and uid in owners and uid not in reserved
        ),
        key=lambda a: (-(a.days_overdue(start) or 0), a.unit_id),
    )
    units = {u.id: u for u in ctx.units[community.id]}
    picks = [units[a.unit_id] for a in candidates]
    limitation = _legacy_bill(ctx, community, picks[-1] if picks else None, today)
    dissatisfied = picks[len(picks) // 2] if len(picks) > 8 else None
    if dissatisfied is not None:
        _overdue_repair(ctx, community, dissatisfied, owners[dissatisfied.id][0], start)

    start_now = _at(start)
    engine.run_daily(session, day=start, now=start_now)
    notify_sending.send_due(
        session, now=start_now, channels=INBOX_ONLY, commit=session.flush, only=("inbox",)
    )
    # The scripted stories need cases the rules let escalate (no open service dispute or
    # recovery task, not paused): the demo's own tickets and disputes decide which.
    eligible = []
    for unit in picks:
        case = _case(ctx, unit)
        if (
            unit is not dissatisfied
            and case is not None
            and case.status == "open"
            and case.suggested_reason in ("forgot", "wilful")
            and rules.escalation_block(session, case=case, day=start) is None
        ):
            eligible.append(unit)
    stories = 0
    if collector is not None and manager is not None and len(eligible) >= 6:
        stories = _stories(ctx, eligible, collector, manager, start, today)
    result = engine.run_daily(session, day=today, now=ctx.now)
    notify_sending.send_due(
        session, now=ctx.now, channels=INBOX_ONLY, commit=session.flush, only=("inbox",)
    )
    session.flush()
    ctx.result.lines.append(
        f"collections: {result.cases} active cases, {stories} scripted histories, "
        f"{result.proposals} escalations waiting for approval, "
        f"{result.recovery_tasks} service-recovery tasks"
        + (f", {limitation} near limitation" if limitation else "")
    )


def _case(ctx: DemoContext, unit: Unit) -> CollectionCase | None:
    return ctx.session.scalar(select(CollectionCase).where(CollectionCase.unit_id == unit.id))


def _stories(
    ctx: DemoContext,
    picks: list[Unit],
    collector: User,
    manager: User,
    start: date,
    today: date,
) -> int:
    session = ctx.session
    story = _Story(session)

    def contact(case: CollectionCase, day: date, channel: str, outcome: str, **kw: object) -> None:
        cases.log_contact(
            session,
            case=case,
            actor=collector,
            channel=channel,
            outcome=outcome,
            at=_at(day),
            now=_at(day, 11),
            **kw,  # type: ignore[arg-type]
        )

    # 1. Wilful, taken through every tier: L1 call, L2 notice by registered mail, L3 visit by
    #    two staff, L4 approved by the manager.
    case = _case(ctx, picks[0])
    with story(case) as case:
        contact(case, _d(start, 2), "phone", "no_answer")
        contact(case, _d(start, 6), "phone", "refused", refusal_reason="认为物业费太高，拒绝缴纳")
        cases.escalate_case(session, case=case, actor=collector, tier="L2", now=_at(_d(start, 8)))
        contact(case, _d(start, 9), "letter", "delivered", mail_number="XA20261001001CN")
        cases.escalate_case(session, case=case, actor=collector, tier="L3", now=_at(_d(start, 20)))
        contact(
            case,
            _d(start, 22),
            "visit",
            "refused",
            refusal_reason="仍拒绝缴纳，不愿沟通",
            second_staff_id=manager.id,
            note="管理处负责人陪同上门面谈",
        )
        cases.confirm_reason(
            session,
            case=case,
            actor=collector,
            reason="wilful",
            note="多次沟通，明确拒缴且无服务投诉",
            now=_at(_d(start, 23)),
        )
        cases.escalate_case(
            session,
            case=case,
            actor=manager,
            tier="L4",
            now=_at(_d(start, 30)),
            note="同意申请人民调解",
        )
        story.ok()
    # 2. Wilful at L3, the visit recorded: the run proposes L4 for the manager.
    case = _case(ctx, picks[1])
    with story(case) as case:
        contact(case, _d(start, 3), "phone", "no_answer")
        cases.escalate_case(session, case=case, actor=collector, tier="L2", now=_at(_d(start, 10)))
        contact(case, _d(start, 11), "letter", "delivered", mail_number="XA20261001002CN")
        cases.escalate_case(session, case=case, actor=collector, tier="L3", now=_at(_d(start, 25)))
        contact(
            case,
            _d(start, 27),
            "visit",
            "refused",
            refusal_reason="表示不会缴纳",
            second_staff_id=manager.id,
        )
        story.ok()
    # 3. L2 with the written notice delivered; no answer since.
    case = _case(ctx, picks[2])
    with story(case) as case:
        contact(case, _d(start, 4), "phone", "no_answer")
        contact(case, _d(start, 9), "phone", "no_answer")
        cases.escalate_case(session, case=case, actor=collector, tier="L2", now=_at(_d(start, 15)))
        contact(case, _d(start, 16), "letter", "delivered", mail_number="XA20261001003CN")
        story.ok()
    # 4. Forgot: a friendly call and a promise to pay in a few days.
    case = _case(ctx, picks[3])
    with story(case) as case:
        contact(
            case,
            today - timedelta(days=1),
            "phone",
            "promised",
            promised_on=today + timedelta(days=5),
            note="业主出差忘记缴费，回来即缴",
        )
        cases.confirm_reason(
            session,
            case=case,
            actor=collector,
            reason="forgot",
            note="业主说明出差忘记缴费",
            now=_at(today - timedelta(days=1), 12),
        )
        story.ok()
    # 5. Hardship, on a plan the owner accepted.
    case = _case(ctx, picks[4])
    with story(case) as case:
        contact(case, _d(start, 5), "phone", "hardship", note="家中有人住院，暂时困难，申请分期")
        cases.set_hardship(
            session, case=case, actor=collector, plan_requested=True, now=_at(_d(start, 5), 12)
        )
        propose_at = _at(_d(start, 7))
        total = plans.plan_total(session, case=case, day=_d(start, 7))
        if total > 0:
            first = max(today + timedelta(days=10), start + timedelta(days=8))
            parts = [total // 3, total // 3, total - 2 * (total // 3)]
            schedule = [
                {"due_on": billing_runs.add_months(first, i), "amount_fen": amount}
                for i, amount in enumerate(parts)
                if amount > 0
            ]
            plan = plans.propose_plan(
                session,
                case=case,
                actor=collector,
                instalments=schedule,
                now=propose_at,
                note="每月分期，三期还清",
            )
            owner = notify.owners_of_units(session, [case.unit_id])[case.unit_id][0]
            plans.accept_plan(session, plan=plan, owner=owner, now=_at(_d(start, 8), 20))
            story.ok()
    # 6. Hardship told on the phone, no plan yet: the run asks the collector to offer one.
    case = _case(ctx, picks[5])
    with story(case) as case:
        contact(case, today - timedelta(days=3), "phone", "hardship", note="失业中，愿意分期")
        story.ok()
    session.flush()
    return story.count


class _Story:
    """Each story in a savepoint: one the rules refuse (the demo's own disputes decide) is
    left out rather than forced, which is what the rules are for."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.count = 0

    @contextmanager
    def __call__(self, case: CollectionCase | None) -> Iterator[CollectionCase]:
        assert case is not None  # noqa: S101 - eligible units all have a case
        try:
            with self.session.begin_nested():
                yield case
        except DomainError:
            pass

    def ok(self) -> None:
        self.count += 1


def _overdue_repair(
    ctx: DemoContext, community: Community, unit: Unit, owner: User, start: date
) -> None:
    """A leak reported weeks ago that nobody has come to fix: the owner stopped paying."""
    tickets_setup.ensure_categories(ctx.session, community)
    tickets_intake.create_ticket(
        ctx.session,
        community=community,
        actor=owner,
        now=_at(start - timedelta(days=10), 19),
        category_code="plumbing_electric",
        description="卫生间顶上漏水，已经报修多次，一直没人来修，楼下也受影响",
        unit=unit,
    )


def _legacy_bill(ctx: DemoContext, community: Community, unit: Unit | None, today: date) -> int:
    """A bill from the previous management system, unpaid for 32 months (near limitation)."""
    if unit is None:
        return 0
    session = ctx.session
    period = billing_runs.add_months(today.replace(day=1), -32)
    if session.scalar(select(Bill.id).where(Bill.unit_id == unit.id, Bill.period == period)):
        return 0
    standard = session.scalar(
        select(FeeStandard)
        .where(
            FeeStandard.community_id == community.id,
            FeeStandard.property_type == unit.property_type,
            FeeStandard.item_code == "property_service",
        )
        .order_by(FeeStandard.version)
        .limit(1)
    )
    if standard is None:
        return 0
    amount = line_amount_fen(unit.area_m2, standard.rate)
    issued = _at(period)
    bill = Bill(
        community_id=community.id,
        unit_id=unit.id,
        period=period,
        period_months=1,
        issued_on=period,
        due_date=period + timedelta(days=billing_runs.DUE_DAYS),
        amount_fen=amount,
        outstanding_fen=amount,
        waived_fen=0,
        created_at=issued,
    )
    bill.lines = [
        BillLine(
            kind=LineKind.CHARGE,
            item_code=standard.item_code,
            item_name=standard.item_name,
            fee_standard_id=standard.id,
            quantity=unit.area_m2,
            rate=standard.rate,
            months=1,
            amount_fen=amount,
            outstanding_fen=amount,
            waived_fen=0,
            explanation=f"{unit.area_m2}㎡ × {standard.rate} 元/㎡·月 × 1 月（前期遗留欠费）",
        )
    ]
    session.add(bill)
    session.flush()
    summaries.new_bills(session, [(community.id, unit.building_id, period, amount)])
    ledger.post_many(session, [ledger.bill_entry(session, bill=bill, now=issued)], move_lines=False)
    return 1
