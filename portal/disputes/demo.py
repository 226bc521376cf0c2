"""Demo disputes in DEMO1: every state, realistic timings, credits posted through the ledger.

Each case is played through the real service functions at past instants, so the timeline,
the SLA figures, the holds and the ledger adjustments are exactly what the app would make.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from portal.accounts.models import User
from portal.billing.models import Bill, BillLine, FeeStandard
from portal.communities.models import Community, Ownership, Unit
from portal.disputes import decisions, intake, lifecycle
from portal.disputes.intake import get_settings
from portal.disputes.models import Dispute
from portal.timeutil import zone
from portal.transparency.models import SpendingItem

if TYPE_CHECKING:
    from portal.demo.service import DemoContext


@dataclass
class Cast:
    cs: User
    finance: User
    manager: User
    committee: User | None


def _user(session: Any, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _owners(session: Any, community: Community) -> list[tuple[User, Unit]]:
    """Registered owners (not the demo log-ins) with their units, in a stable order."""
    rows = session.execute(
        select(User, Unit)
        .join(Ownership, Ownership.user_id == User.id)
        .join(Unit, Unit.id == Ownership.unit_id)
        .where(
            Unit.community_id == community.id,
            Ownership.ended_on.is_(None),
            User.username.like("owner%"),
        )
        .order_by(Unit.id, User.id)
    ).all()
    seen: set[int] = set()
    out = []
    for user, unit in rows:
        if unit.id not in seen:
            seen.add(unit.id)
            out.append((user, unit))
    return out


def _line(
    session: Any,
    unit: Unit,
    *,
    item: str,
    paid: bool | None,
    issued_by: date,
    newest: bool = True,
) -> Any:
    """A line of the unit's bills issued by `issued_by` (an owner can only contest a bill
    they have received)."""
    query = (
        select(BillLine)
        .join(Bill, Bill.id == BillLine.bill_id)
        .where(Bill.unit_id == unit.id, BillLine.item_code == item, Bill.issued_on <= issued_by)
        .order_by(Bill.period.desc() if newest else Bill.period)
    )
    if paid is True:
        query = query.where(BillLine.outstanding_fen == 0)
    elif paid is False:  # prefer an open line; most owners here pay on time, so fall back
        found = session.scalars(query.where(BillLine.outstanding_fen > 0).limit(1)).first()
        if found is not None:
            return found
    return session.scalars(query.limit(1)).first()


def seed(ctx: DemoContext) -> None:
    """A realistic mix of disputes, in every state, for the first community."""
    if not ctx.communities:
        return
    community = ctx.communities[0]
    session = ctx.session
    staff = {r: _user(session, f"demo-{r}") for r in ("cs", "finance", "manager", "committee")}
    if not (staff["cs"] and staff["finance"] and staff["manager"]):
        return
    cast = Cast(staff["cs"], staff["finance"], staff["manager"], staff["committee"])
    started = time.perf_counter()
    made = _seed_community(ctx, community, cast)
    took = time.perf_counter() - started
    by_status: dict[str, int] = {}
    for d in session.scalars(select(Dispute).where(Dispute.community_id == community.id)):
        by_status[d.status] = by_status.get(d.status, 0) + 1
    ctx.result.lines.append(
        f"disputes: {made} in {community.code} ("
        + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
        + f") in {took:.1f}s"
    )


def _seed_community(ctx: DemoContext, community: Community, cast: Cast) -> int:
    session, rng, now = ctx.session, ctx.rng, ctx.now
    owners = _owners(session, community)
    if len(owners) < 20:
        return 0
    rng.shuffle(owners)
    pool = iter(owners)
    made = 0

    tz = zone(community.timezone)
    # The cases below are written for 150+ days of bills; a shorter history (a small demo, or
    # a seed day early in a month) compresses their timeline so that every case still
    # contests a bill that had been issued.
    first_issued = session.scalar(
        select(func.min(Bill.issued_on)).where(Bill.community_id == community.id)
    )
    history = (now.astimezone(tz).date() - first_issued).days if first_issued else 0
    scale = min(1.0, max(history - 5, 1) / 155)

    def at(days_ago: float, hours: float = 0) -> datetime:
        """Office hours on the day `days_ago` days back (local), `hours` later."""
        day = (now - timedelta(days=days_ago * scale)).astimezone(tz)
        start = day.replace(hour=9, minute=0, second=0, microsecond=0)
        return start + timedelta(hours=hours, minutes=rng.randint(0, 400))

    def day(days_ago: float) -> date:
        """The local date `days_ago` days back."""
        return (now - timedelta(days=days_ago * scale)).astimezone(tz).date()

    last_at: dict[int, datetime] = {}

    def step(when: datetime, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """Run one workflow step; a dispute's steps never go back in time (the random
        office-hour minutes of two days could otherwise cross)."""
        when = min(when, now - timedelta(minutes=5))
        dispute = kwargs.get("dispute")
        if dispute is not None and dispute.id in last_at:
            when = max(when, last_at[dispute.id] + timedelta(minutes=1))
        result = fn(session, now=when, **kwargs)
        target = dispute if dispute is not None else result
        if isinstance(target, Dispute):
            last_at[target.id] = when
        return result

    def open_on_line(
        owner: User, line: Any, when: datetime, reason: str, text: str, **kwargs: Any
    ) -> Dispute:
        return step(
            when,
            intake.open_dispute,
            owner=owner,
            target_type="bill_line",
            target_id=line.id,
            reason=reason,
            statement=text,
            **kwargs,
        )

    def credit_case(days_ago: int, reason: str, text: str, ask: int, give: int, reply: str) -> None:
        """An accepted credit: it reduces an unpaid line, or becomes credit on a paid one."""
        nonlocal made
        owner, unit = next(pool)
        line = _line(session, unit, item="property_service", paid=None, issued_by=day(days_ago))
        if line is None:
            return
        ask, give = min(ask, line.amount_fen), min(give, line.amount_fen)
        d = open_on_line(
            owner,
            line,
            at(days_ago),
            reason,
            text,
            requested_outcome="credit",
            requested_amount_fen=ask,
        )
        step(
            at(days_ago - 1),
            decisions.acknowledge,
            dispute=d,
            actor=cast.cs,
            message="已收到，正在核实。",
        )
        p = step(
            at(days_ago - 3),
            decisions.propose,
            dispute=d,
            actor=cast.finance,
            kind="credit",
            body=reply,
            amount_fen=give,
        )
        if p.status == "awaiting_approval":
            step(
                at(days_ago - 4),
                decisions.approve_proposal,
                dispute=d,
                proposal_id=p.id,
                actor=cast.manager,
            )
        step(at(days_ago - 5), decisions.accept_proposal, dispute=d, owner=owner, proposal_id=p.id)
        made += 1

    # ---- closed in the owner's favour (credits through the ledger)
    credit_case(
        150,
        "wrong_area",
        "房产证面积 87.42㎡，账单按 89.50㎡ 计费，多收了。附房产证照片。",
        1470,
        1470,
        "经核对房产证，面积录入有误，已更正为 87.42㎡，并减免多收部分。",
    )
    credit_case(
        120,
        "service_not_provided",
        "8 月整月电梯停运维修，电梯运行相关费用不应全额收取。",
        4000,
        2000,
        "电梯停运 16 天，按比例减免一半，剩余为维保期间的固定成本，详见维保合同。",
    )
    credit_case(
        95,
        "duplicate_charge",
        "3 月物业费已在前台现金缴纳（有收据），线上又扣了一次。",
        23000,
        23000,
        "核实为重复入账，已全额冲减，多缴部分转为预存，可抵下期物业费。",
    )
    credit_case(
        70,
        "wrong_rate",
        "单价应为 2.35 元/㎡·月，系统按商铺标准计费。",
        9000,
        6500,
        "该房屋登记为住宅，已按住宅标准调整差额。",
    )
    credit_case(
        40,
        "service_not_provided",
        "楼道保洁连续两周未做，照片附后。",
        3000,
        1500,
        "保洁排班出现空档，已补做并减免半月保洁对应费用。",
    )

    # ---- closed: explanation accepted
    for days_ago, reason, text, reply in (
        (
            130,
            "wrong_rate",
            "为什么物业费比隔壁小区贵？",
            "本小区标准经 2024 年业主大会表决通过，含 24 小时安保和地下车库保洁，"
            "明细见收费标准页。",
        ),
        (
            85,
            "other",
            "账单上的公摊面积是怎么算的？",
            "物业费按房产证建筑面积计，不另计公摊；已附计算说明。",
        ),
    ):
        owner, unit = next(pool)
        line = _line(session, unit, item="property_service", paid=True, issued_by=day(days_ago))
        if line is None:
            continue
        d = open_on_line(owner, line, at(days_ago), reason, text, requested_outcome="explanation")
        step(at(days_ago - 1), decisions.start_review, dispute=d, actor=cast.cs)
        p = step(
            at(days_ago - 4),
            decisions.propose,
            dispute=d,
            actor=cast.cs,
            kind="explanation",
            body=reply,
            amount_fen=None,
        )
        step(at(days_ago - 5), decisions.accept_proposal, dispute=d, owner=owner, proposal_id=p.id)
        made += 1

    # ---- closed: not upheld after the committee looked at it
    owner, unit = next(pool)
    line = _line(session, unit, item="garbage", paid=True, issued_by=day(110))
    if line is not None:
        d = open_on_line(
            owner,
            line,
            at(110),
            "service_not_provided",
            "我家常年不在，垃圾清运费不应收取。",
            requested_outcome="credit",
            requested_amount_fen=line.amount_fen,
        )
        step(at(109), decisions.acknowledge, dispute=d, actor=cast.cs)
        p = step(
            at(104),
            decisions.propose,
            dispute=d,
            actor=cast.cs,
            kind="explanation",
            body="垃圾清运费按户收取，与是否入住无关，依据物业服务合同第五条。",
            amount_fen=None,
        )
        step(
            at(101),
            decisions.reject_proposal,
            dispute=d,
            owner=owner,
            proposal_id=p.id,
            reason="空置房应减免。",
        )
        step(
            at(100),
            lifecycle.escalate,
            dispute=d,
            actor=owner,
            to="committee",
            reason="请业委会评理。",
        )
        if cast.committee is not None:
            step(
                at(95),
                lifecycle.add_opinion,
                dispute=d,
                actor=cast.committee,
                body="业委会经讨论认为：合同未约定空置减免，按户收取符合约定；建议物业下次续约时讨论空置房政策。",
            )
        step(
            at(92),
            lifecycle.close_dispute,
            dispute=d,
            actor=cast.manager,
            outcome="not_upheld",
            note="经业委会意见，维持原收费。已告知业主续约时可提议空置房减免条款。",
        )
        made += 1

    # ---- closed: withdrawn
    owner, unit = next(pool)
    line = _line(session, unit, item="property_service", paid=True, issued_by=day(60))
    if line is not None:
        d = open_on_line(
            owner,
            line,
            at(60),
            "wrong_area",
            "面积好像不对，请核实。",
            requested_outcome="correction",
        )
        step(at(59), decisions.acknowledge, dispute=d, actor=cast.cs)
        step(at(58), lifecycle.withdraw, dispute=d, owner=owner, reason="自己看错了，面积没问题。")
        made += 1

    # ---- records: spending items and fee standards
    made += _record_cases(ctx, community, cast, pool, at, step)

    # ---- open cases, in every state
    # submitted and overdue (nobody answered for a week)
    owner, unit = next(pool)
    line = _line(session, unit, item="property_service", paid=False, issued_by=day(8))
    if line is not None:
        open_on_line(
            owner,
            line,
            at(8),
            "wrong_area",
            "车位面积不应计入住宅物业费。",
            requested_outcome="correction",
        )
        made += 1
    # acknowledged, under review, rejected (pending mediation), awaiting approval
    owner, unit = next(pool)
    line = _line(session, unit, item="garbage", paid=False, issued_by=day(3))
    if line is not None:
        d = open_on_line(
            owner,
            line,
            at(3),
            "duplicate_charge",
            "垃圾清运费本月出现两次？",
            requested_outcome="explanation",
        )
        step(at(2), decisions.acknowledge, dispute=d, actor=cast.cs, message="已受理，财务核对中。")
        made += 1
    owner, unit = next(pool)
    line = _line(session, unit, item="property_service", paid=False, issued_by=day(6))
    if line is not None:
        d = open_on_line(
            owner,
            line,
            at(6),
            "service_not_provided",
            "小区绿化两个月没有修剪，服务不到位，申请减免部分物业费。",
            requested_outcome="credit",
            requested_amount_fen=min(5000, line.amount_fen),
        )
        step(at(5), decisions.start_review, dispute=d, actor=cast.cs, message="已安排现场查看。")
        made += 1
    owner, unit = next(pool)
    line = _line(session, unit, item="property_service", paid=False, issued_by=day(20))
    if line is not None:
        d = open_on_line(
            owner,
            line,
            at(20),
            "wrong_rate",
            "顶楼漏水一直没修好，物业费应打折。",
            requested_outcome="credit",
            requested_amount_fen=line.amount_fen,
        )
        step(at(19), decisions.acknowledge, dispute=d, actor=cast.cs)
        p = step(
            at(14),
            decisions.propose,
            dispute=d,
            actor=cast.finance,
            kind="credit",
            body="已安排屋面维修，维修期间减免 30 元。",
            amount_fen=3000,
        )
        step(
            at(12),
            decisions.reject_proposal,
            dispute=d,
            owner=owner,
            proposal_id=p.id,
            reason="漏水影响居住，30 元太少。",
        )
        made += 1
    # A correction above the approval threshold waits for the manager: take the first owner
    # whose bill is large enough for that.
    threshold = get_settings(session, community.id).approval_threshold_fen
    line = None
    for _ in range(12):
        owner, unit = next(pool)
        found = _line(session, unit, item="property_service", paid=False, issued_by=day(9))
        if found is not None and found.amount_fen > threshold:
            line = found
            break
    amount = min(line.amount_fen, max(30000, threshold + 1)) if line is not None else 0
    if line is not None:
        d = open_on_line(
            owner,
            line,
            at(9),
            "wrong_area",
            "阁楼不计入建筑面积，附测绘报告。",
            requested_outcome="credit",
            requested_amount_fen=amount,
        )
        step(at(8), decisions.start_review, dispute=d, actor=cast.finance)
        step(
            at(4),
            decisions.propose,
            dispute=d,
            actor=cast.finance,
            kind="correction",
            body="测绘报告确认阁楼不计面积，按更正后的面积冲减差额。",
            amount_fen=amount,
        )  # above the approval threshold: waits for the manager
        made += 1

    # the demo owners: one answer waiting for them, one fresh complaint
    made += _demo_owner_cases(ctx, community, cast, at, step)
    return made


def _record_cases(
    ctx: DemoContext,
    community: Community,
    cast: Cast,
    pool: Any,
    at: Callable[..., datetime],
    step: Callable[..., Any],
) -> int:
    session = ctx.session
    made = 0
    items = list(
        session.scalars(
            select(SpendingItem)
            .where(
                SpendingItem.community_id == community.id,
                SpendingItem.status == "published",
                SpendingItem.amount_fen > 100_000,
                SpendingItem.published_at < at(50),  # objections come after publication
            )
            .order_by(SpendingItem.spent_on.desc(), SpendingItem.id)
            .limit(6)
        )
    )
    texts = [
        ("amount_questioned", "这笔维修费比市场价高很多，请公开比价过程。"),
        ("purpose_questioned", "这项支出和本小区有什么关系？"),
        ("evidence_missing", "凭证只有收据，没有合同和验收单。"),
    ]
    for index, item in enumerate(items[:3]):
        reason, text = texts[index]
        owner, _unit = next(pool)
        days = 45 - index * 18
        d = step(
            at(days),
            intake.open_dispute,
            owner=owner,
            target_type="spending",
            target_id=item.id,
            reason=reason,
            statement=text,
            requested_outcome="explanation",
            requested_amount_fen=None,
        )
        step(at(days - 1), decisions.acknowledge, dispute=d, actor=cast.cs)
        if index == 0:  # answered with the comparison quotes; the owner accepted
            p = step(
                at(days - 5),
                decisions.propose,
                dispute=d,
                actor=cast.manager,
                kind="explanation",
                body="已补充公开三家比价单和验收记录，见该支出的凭证。",
                amount_fen=None,
            )
            step(at(days - 6), decisions.accept_proposal, dispute=d, owner=owner, proposal_id=p.id)
        elif index == 1:  # a correction: it was booked to the wrong community
            p = step(
                at(days - 4),
                decisions.propose,
                dispute=d,
                actor=cast.finance,
                kind="correction",
                body="经核查该笔为邻近项目费用，误记入本小区，已发布更正记录。",
                amount_fen=None,
            )
            step(at(days - 5), decisions.accept_proposal, dispute=d, owner=owner, proposal_id=p.id)
        else:  # still under review
            step(at(days - 1), decisions.start_review, dispute=d, actor=cast.finance)
        made += 1
    standard = session.scalar(
        select(FeeStandard)
        .where(FeeStandard.community_id == community.id)
        .order_by(FeeStandard.version.desc(), FeeStandard.id.desc())
        .limit(1)
    )
    if standard is not None:
        owner, _unit = next(pool)
        d = step(
            at(30),
            intake.open_dispute,
            owner=owner,
            target_type="fee_standard",
            target_id=standard.id,
            reason="not_announced",
            statement="新标准公示期不足 30 天，程序不合规。",
            requested_outcome="correction",
            requested_amount_fen=None,
        )
        step(at(29), decisions.acknowledge, dispute=d, actor=cast.cs)
        p = step(
            at(24),
            decisions.propose,
            dispute=d,
            actor=cast.manager,
            kind="explanation",
            body="调整公告于执行日前 30 日在公告栏和本平台同时发布，截图见公告页。",
            amount_fen=None,
        )
        step(
            at(22),
            decisions.reject_proposal,
            dispute=d,
            owner=owner,
            proposal_id=p.id,
            reason="公告栏张贴时间晚于平台发布。",
        )
        step(
            at(21),
            lifecycle.escalate,
            dispute=d,
            actor=owner,
            to="mediator",
            reason="申请街道人民调解委员会调解。",
        )
        made += 1
    return made


def _demo_owner_cases(
    ctx: DemoContext,
    community: Community,
    cast: Cast,
    at: Callable[..., datetime],
    step: Callable[..., Any],
) -> int:
    session = ctx.session
    made = 0
    owner = _user(session, "demo-owner")
    if owner is not None:
        unit = session.scalar(
            select(Unit).join(Ownership).where(Ownership.user_id == owner.id).limit(1)
        )
        issued_by = (at(4) - timedelta(days=1)).date()
        line = (
            _line(session, unit, item="garbage", paid=False, issued_by=issued_by) if unit else None
        )
        if line is not None:
            d = step(
                at(4),
                intake.open_dispute,
                owner=owner,
                target_type="bill_line",
                target_id=line.id,
                reason="service_not_provided",
                statement="上月 12 日到 20 日垃圾没有清运，楼道有异味，申请减免。",
                requested_outcome="credit",
                requested_amount_fen=line.amount_fen // 2 or line.amount_fen,
            )
            step(
                at(3),
                decisions.acknowledge,
                dispute=d,
                actor=cast.cs,
                message="已收到，正在向清运公司核实。",
            )
            step(
                at(1),
                decisions.propose,
                dispute=d,
                actor=cast.finance,
                kind="credit",
                body="清运公司确认 12 日至 20 日车辆故障停运，减免本月垃圾清运费的一半。",
                amount_fen=line.amount_fen // 2 or line.amount_fen,
            )
            made += 1
    owner2 = _user(session, "demo-owner-2")
    if owner2 is not None:
        d = step(
            at(1),
            intake.open_dispute,
            owner=owner2,
            target_type="service",
            target_id=None,
            reason="security_cleaning",
            statement="地下车库夜间照明一半不亮，保安巡逻记录也看不到。",
            requested_outcome="explanation",
            requested_amount_fen=None,
        )
        made += 1
    return made
