"""Demo feedback: last year's annual survey (closed, results published), an open pulse survey
the demo owners have not answered, complaints across categories (answered, rated, some open),
service-recovery tasks, and buildings whose satisfaction differs enough to tell a story.

Everything is played through the real services at past instants.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from portal.accounts.models import User
from portal.billing.models import Bill, BillLine, JournalEntry, Posting
from portal.communities.models import Community, Ownership, Unit
from portal.errors import DomainError
from portal.feedback import complaints, recovery, surveys
from portal.feedback.models import QuestionKind, RecoveryTask, SurveyKind
from portal.feedback.surveys import QuestionSpec
from portal.payments.models import Payment
from portal.tickets import aftercare, workflow
from portal.timeutil import zone

if TYPE_CHECKING:
    from portal.demo.service import DemoContext

COMPLAINTS = [
    ("c_cleaning", "楼道垃圾两天没人清理，气味很大"),
    ("c_security", "夜里单元门一直开着，门岗也没人"),
    ("c_attitude", "打电话到客服中心，接电话的人态度很不耐烦"),
    ("c_noise", "楼下商铺晚上十点后还在装修，噪音很大"),
    ("c_parking", "地库车位被外来车辆长期占用，反映多次没人管"),
    ("c_greening", "小区绿化带杂草很多，很久没有修剪"),
    ("c_billing", "账单里的公摊电费比上月高了很多，没有说明"),
    ("c_repair", "上周修的水管又漏了，维修质量太差"),
    ("c_cleaning", "电梯轿厢地面很脏，一周没拖过"),
    ("c_other", "快递柜旁边堆满纸箱，没人收拾"),
]
ANSWERS = [
    "已安排保洁当天补扫，并增加巡查频次，向您致歉。",
    "已加装闭门器并要求门岗夜间巡查，感谢监督。",
    "已对当班客服进行约谈和培训，并电话向您致歉。",
    "已联系商户停止夜间施工，物业将每晚巡查。",
    "已张贴通知并锁定车位地锁，外来车辆已劝离。",
    "绿化班组已完成修剪和除草。",
    "经核对为水泵检修期间用电增加，已在公告栏公示明细。",
    "维修师傅已重新上门更换配件，后续两周回访。",
    "已安排每日两次清洁电梯。",
    "已清理并安排每天定时回收纸箱。",
]


RECOVERY_NOTES = [
    "已电话回访，业主反映的保洁问题已安排专人跟进。",
    "上门沟通，已调整该楼栋的保洁和巡逻时间。",
    "已回访并邀请业主参加季度座谈会。",
]


def _owners(session: Any, community: Community) -> list[tuple[User, Unit]]:
    """Registered owners (not the demo log-ins) with one unit each, in a stable order."""
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


def seed(ctx: DemoContext) -> None:
    """Surveys, complaints and recovery tasks for every community (DEMO1 the richest)."""
    session = ctx.session
    cs = session.scalar(select(User).where(User.username == "demo-cs"))
    if cs is None or not ctx.communities:
        return
    started = time.perf_counter()
    totals = {"responses": 0, "complaints": 0}
    for index, community in enumerate(ctx.communities):
        staff = cs if index == 0 else _admin(session)
        if staff is None:
            continue
        made = _seed_community(ctx, community, staff, rich=index == 0)
        for key in totals:
            totals[key] += made[key]
    tasks = len(list(session.scalars(select(RecoveryTask.id))))
    ctx.result.lines.append(
        f"feedback: {totals['responses']} survey responses, {totals['complaints']} complaints, "
        f"{tasks} recovery tasks in {time.perf_counter() - started:.1f}s"
    )


QUALITY_SPREAD = (2.4, 4.6)  # mean 1-5 answers of the worst and the best served building


def _building_quality(session: Any, building_ids: list[int]) -> dict[int, float]:
    """Each building's mean survey answer, spread between QUALITY_SPREAD in the order of its
    collection rate (one grouped query over the seeded bills)."""
    rows = session.execute(
        select(
            Unit.building_id,
            func.sum(Bill.amount_fen),
            func.sum(Bill.amount_fen - Bill.outstanding_fen),
        )
        .join(Unit, Unit.id == Bill.unit_id)
        .where(Unit.building_id.in_(building_ids))
        .group_by(Unit.building_id)
    ).all()
    rate = {b: (collected or 0) / billed for b, billed, collected in rows if billed}
    ranked = sorted(building_ids, key=lambda b: (rate.get(b, 1.0), b))
    low, high = QUALITY_SPREAD
    step = (high - low) / max(1, len(ranked) - 1)
    return {b: round(low + i * step, 2) for i, b in enumerate(ranked)}


def _admin(session: Any) -> User | None:
    return session.scalar(select(User).where(User.username == "demo-admin"))


def _seed_community(
    ctx: DemoContext, community: Community, staff: User, *, rich: bool
) -> dict[str, int]:
    session, rng, now = ctx.session, ctx.rng, ctx.now
    owners = _owners(session, community)
    made = {"responses": 0, "complaints": 0}
    if len(owners) < 10:
        return made
    tz = zone(community.timezone)
    local_now = now.astimezone(tz)
    # Each building has its own service level, so satisfaction differs building by building;
    # it follows the building's collection rate (the payments demo lets the owners of poorly
    # served buildings fall behind), so low satisfaction and low collection go together.
    building_ids = sorted({unit.building_id for _user, unit in owners})
    quality = _building_quality(session, building_ids)

    # Last year's annual survey: December, closed and published.
    year = local_now.year - 1
    opens = datetime(year, 12, 1, 9, 0, tzinfo=tz).astimezone(UTC)
    closes = datetime(year, 12, 31, 23, 0, tzinfo=tz).astimezone(UTC)
    annual = surveys.create_survey(
        session,
        staff=staff,
        community=community,
        title=f"{year} 年度物业服务满意度调查",
        kind=SurveyKind.ANNUAL,
        closes_at=closes,
        questions=surveys.standard_questions(),
        now=opens,
        intro="感谢您抽出 2 分钟参与，结果将在调查结束后向全体业主公布。",
    )
    # (Its invitations went out a year ago; the demo outbox shows only the open pulse's.)
    for user, unit in owners:
        if rng.random() > 0.62:
            continue
        at = opens + timedelta(minutes=rng.randint(60, 29 * 24 * 60))
        answers: dict[str, Any] = {}
        for question in annual.questions:
            if question.kind == QuestionKind.RATING:
                base = quality[unit.building_id] + rng.uniform(-1.2, 1.2)
                answers[question.code] = max(1, min(5, round(base)))
            elif rng.random() < 0.3:
                answers[question.code] = rng.choice(
                    ["希望加强夜间巡逻", "保洁很用心，谢谢", "电梯维修要更及时", "收支公开很好"]
                )
        surveys.submit_response(
            session, survey_id=annual.id, owner=user, unit_id=unit.id, answers=answers, now=at
        )
        made["responses"] += 1
    surveys.close_survey(session, survey=annual, staff=staff, now=closes, publish=True)
    # Customer service worked most of the recovery tasks the survey raised, a few late.
    for task in session.scalars(
        select(RecoveryTask)
        .where(RecoveryTask.community_id == community.id, RecoveryTask.open_unit_id.is_not(None))
        .order_by(RecoveryTask.id)  # one draw per task: the same order on every database
    ).all():
        if rng.random() < 0.85:
            recovery.complete_task(
                session,
                task=task,
                staff=staff,
                note=rng.choice(RECOVERY_NOTES),
                now=task.created_at + timedelta(days=rng.choice([1, 2, 2, 3, 6])),
            )

    # An open pulse survey: a few owners have answered; the demo log-ins have not.
    pulse_opens = now - timedelta(days=3)
    pulse = surveys.create_survey(
        session,
        staff=staff,
        community=community,
        title="近期保洁与安保快速调查",
        kind=SurveyKind.PULSE,
        closes_at=now + timedelta(days=14),
        questions=[
            QuestionSpec(kind=QuestionKind.RATING, text="近一个月保洁满意度", dimension="cleaning"),
            QuestionSpec(kind=QuestionKind.RATING, text="近一个月安保满意度", dimension="security"),
            QuestionSpec(
                kind=QuestionKind.CHOICE,
                text="您最希望优先改进的是",
                options=("保洁", "安保", "绿化", "停车"),
            ),
            QuestionSpec(kind=QuestionKind.TEXT, text="其他建议", required=False),
        ],
        now=pulse_opens,
    )
    surveys.invite_owners(session, survey=pulse, now=pulse_opens)
    demo_units = set(
        session.scalars(
            select(Ownership.unit_id)
            .join(User, User.id == Ownership.user_id)
            .where(User.username.like("demo-owner%"), Ownership.ended_on.is_(None))
        )
    )
    respondents = [o for o in owners if o[1].id not in demo_units]
    for user, unit in respondents[: max(6, len(respondents) // 5)]:
        at = pulse_opens + timedelta(minutes=rng.randint(30, 60 * 60))
        base = quality[unit.building_id]
        surveys.submit_response(
            session,
            survey_id=pulse.id,
            owner=user,
            unit_id=unit.id,
            answers={
                "q1": max(1, min(5, round(base + rng.uniform(-1, 1)))),
                "q2": max(1, min(5, round(base + rng.uniform(-1, 1)))),
                "q3": rng.choice(["保洁", "安保", "绿化", "停车"]),
            },
            now=at,
        )
        made["responses"] += 1

    # Complaints across categories over the last months, mostly from the weaker buildings.
    weak = sorted(owners, key=lambda o: (quality[o[1].building_id], o[1].id))
    count = len(COMPLAINTS) if rich else 4
    for i in range(count):
        user, unit = weak[(i * 3) % len(weak)]
        category, text = COMPLAINTS[i]
        days_ago = 150 - i * 15 if i < count - 2 else 1 + i % 2
        at = now - timedelta(days=days_ago, hours=rng.randint(1, 8))
        try:
            ticket = complaints.file_complaint(
                session,
                owner=user,
                unit_id=unit.id,
                category_code=category,
                description=text,
                now=at,
            )
        except DomainError:
            continue
        made["complaints"] += 1
        if days_ago < 3:
            continue  # the newest stay open for customer service to answer
        workflow.acknowledge(
            session, ticket=ticket, actor=staff, now=at + timedelta(minutes=rng.randint(10, 90))
        )
        answered = at + timedelta(hours=rng.choice([3, 6, 20, 30]))
        complaints.answer_complaint(
            session, ticket=ticket, staff=staff, answer=ANSWERS[i], now=answered
        )
        aftercare.rate(
            session,
            ticket=ticket,
            actor=user,
            now=answered + timedelta(hours=20),
            score=rng.choice([2, 3, 4, 4, 5]),
            comment_text="",
        )
        task = session.scalar(select(RecoveryTask).where(RecoveryTask.open_unit_id == unit.id))
        if task is not None and rng.random() < 0.75:
            recovery.complete_task(
                session,
                task=task,
                staff=staff,
                note="已电话回访业主，问题已处理，业主表示认可。",
                now=answered + timedelta(days=rng.choice([1, 2, 5])),
            )
    if rich:
        made["complaints"] += _recovery_rounds(ctx, community, staff, owners)
    # Today's sweep: low repair ratings and low survey answers get their tasks.
    recovery.sweep(session, community=community, now=now)
    return made


RECOVERY_ROUNDS_DAYS_AGO = (160, 130, 100, 70)


def _recovery_rounds(
    ctx: DemoContext, community: Community, staff: User, owners: list[tuple[User, Unit]]
) -> int:
    """Earlier in the year customer service worked owners who were in arrears and had
    complained: complaint, recovery task, answer, task done two days later. The demo picks
    owners who then paid within 30 days (the story the dashboard's recovery-after-
    service figure is there to check), so that figure has something to compare."""
    session, rng, now = ctx.session, ctx.rng, ctx.now
    owner_of = {unit.id: user for user, unit in owners}
    filed = 0
    for days_ago in RECOVERY_ROUNDS_DAYS_AGO:
        start = now - timedelta(days=days_ago, hours=rng.randint(0, 6))
        done_at = start + timedelta(days=2)
        tasked = set(session.scalars(select(RecoveryTask.open_unit_id)))
        owed = session.execute(
            select(Bill.unit_id, func.sum(Posting.amount_fen))
            .join(BillLine, BillLine.bill_id == Bill.id)
            .join(Posting, Posting.bill_line_id == BillLine.id)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(
                Bill.community_id == community.id,
                Bill.due_date < start.date(),
                JournalEntry.created_at < start,
            )
            .group_by(Bill.unit_id)
            .having(func.sum(Posting.amount_fen) > 0)
        ).all()
        in_arrears = sorted(u for u, _ in owed if u in owner_of and u not in tasked)
        paid = set(
            session.scalars(
                select(Payment.unit_id).where(
                    Payment.unit_id.in_(in_arrears),
                    Payment.received_at >= done_at,
                    Payment.received_at < done_at + timedelta(days=30),
                )
            )
        )
        # Owners who went on paying: the long-standing non-payers are the collections demo's
        # scripted cases, and a complaint of theirs would (rightly) hold their escalation.
        payers = [u for u in in_arrears if u in paid]
        picked = rng.sample(payers, min(3, len(payers)))
        for unit_id in picked:
            category, text = COMPLAINTS[rng.randrange(len(COMPLAINTS))]
            try:
                ticket = complaints.file_complaint(
                    session,
                    owner=owner_of[unit_id],
                    unit_id=unit_id,
                    category_code=category,
                    description=text,
                    now=start,
                )
            except DomainError:
                continue
            filed += 1
            # Filing the complaint opened (or extended) the unit's recovery task.
            task = session.scalar(select(RecoveryTask).where(RecoveryTask.open_unit_id == unit_id))
            workflow.acknowledge(
                session, ticket=ticket, actor=staff, now=start + timedelta(hours=1)
            )
            complaints.answer_complaint(
                session,
                ticket=ticket,
                staff=staff,
                answer=ANSWERS[COMPLAINTS.index((category, text))],
                now=start + timedelta(hours=6),
            )
            if task is not None:
                recovery.complete_task(
                    session, task=task, staff=staff, note=rng.choice(RECOVERY_NOTES), now=done_at
                )
    return filed
