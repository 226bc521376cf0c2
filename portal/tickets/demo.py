"""Demo repair requests: a year or more per community, with realistic timings.

Most requests are answered and fixed on time, a long tail is late, a few are reopened, some
are cancelled; ratings follow timeliness. Rows are built in Python and bulk-inserted, so a
year of tickets for a few communities takes well under a second or two.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from portal.accounts.models import RoleAssignment, User
from portal.communities import service as communities
from portal.communities.models import Community, Ownership, Unit
from portal.tickets import aftercare, setup
from portal.tickets.models import (
    EventKind,
    FollowupKind,
    FollowupStatus,
    LocationType,
    Ticket,
    TicketEvent,
    TicketFollowup,
    TicketRating,
    TicketSettings,
    TicketStatus,
)
from portal.tickets.sla import add_working_minutes
from portal.timeutil import to_local, zone

if TYPE_CHECKING:
    from portal.demo.service import DemoContext

# code: (weight, share in common areas, share urgent, speed factor)
CATEGORY_MIX: dict[str, tuple[int, int, int, int]] = {
    "plumbing_electric": (30, 10, 18, 100),
    "doors_windows": (12, 15, 3, 130),
    "elevator": (8, 100, 30, 60),
    "cleaning": (12, 100, 2, 70),
    "security": (5, 90, 15, 60),
    "greening": (6, 100, 0, 160),
    "noise": (7, 60, 5, 90),
    "parking": (8, 100, 5, 80),
    "other": (12, 40, 3, 110),
}
DESCRIPTIONS: dict[str, list[str]] = {
    "plumbing_electric": [
        "厨房水槽下水管漏水，柜子里都湿了",
        "卫生间地漏反味，下水很慢",
        "客厅一路插座没电，空开合不上",
        "热水器进水阀滴水",
        "阳台洗衣机龙头关不紧",
        "楼道感应灯不亮",
    ],
    "doors_windows": [
        "入户门锁芯卡住，钥匙很难转",
        "卧室窗户合页松动，关不严漏风",
        "单元门禁门关不上",
        "阳台推拉门滑轮坏了",
    ],
    "elevator": [
        "电梯按钮失灵，按了没反应",
        "电梯运行时有异响",
        "电梯门关闭时夹人，感应不灵",
        "电梯轿厢灯不亮",
    ],
    "cleaning": [
        "单元楼道垃圾两天没清运",
        "地下车库入口有积水和油污",
        "楼梯间有人堆放杂物",
        "垃圾分类点异味很大",
    ],
    "security": [
        "小区东门道闸常开，外来人员随意进出",
        "监控探头被树枝挡住",
        "单元门禁卡刷不开",
    ],
    "greening": [
        "中心花园有树枝折断，挂在半空",
        "草坪很久没修剪，蚊虫多",
        "绿化带喷灌漏水",
    ],
    "noise": [
        "楼上装修周末早上七点就开始施工",
        "夜间广场舞音响声音太大",
        "空调外机噪音很大",
    ],
    "parking": [
        "我的车位被其他车辆长期占用",
        "车库地锁坏了",
        "地面车位划线看不清",
    ],
    "other": [
        "信报箱门掉了",
        "单元门口台阶瓷砖松动",
        "快递柜屏幕不亮",
        "楼道墙面渗水发霉",
    ],
}
# What the engineer wrote on resolving, per category: a note must be about that repair.
NOTES: dict[str, list[str]] = {
    "plumbing_electric": [
        "已上门更换漏水管件和密封圈，试水正常",
        "已疏通下水并加装防臭地漏芯",
        "已更换损坏插座和空开，试用正常",
        "已更换进水阀门，不再滴水",
        "已更换楼道感应灯灯头，照明恢复",
    ],
    "doors_windows": [
        "已更换锁芯，业主试用正常",
        "已紧固窗户合页并更换密封条",
        "已调整单元门闭门器，可正常关闭",
        "已更换推拉门滑轮，推拉顺畅",
    ],
    "elevator": [
        "已由电梯维保单位更换按钮板，运行正常",
        "已调整导靴并润滑，异响消除",
        "已校准门光幕感应，关门正常",
        "已更换轿厢照明，灯光恢复",
    ],
    "cleaning": [
        "已安排保洁清运完毕并加强巡查",
        "已清理积水油污，入口已做防滑处理",
        "已清理楼梯间杂物并张贴提示",
        "已清洗垃圾分类点并喷洒除味剂",
    ],
    "security": [
        "已修复道闸，恢复刷卡通行",
        "已修剪遮挡树枝，监控画面恢复清晰",
        "已重新授权门禁卡，刷卡正常",
    ],
    "greening": [
        "已清除折断树枝并修剪树冠",
        "已完成草坪修剪并喷洒驱蚊药剂",
        "已更换破损喷灌管，不再漏水",
    ],
    "noise": [
        "已联系装修户，按规定时间施工",
        "已与活动组织者沟通，音量已调低并限定时间",
        "已协调业主检修空调外机，噪音减小",
    ],
    "parking": [
        "已联系占用车主挪车并登记在案",
        "已更换车位地锁，使用正常",
        "已重新划线，车位标识清晰",
    ],
    "other": [
        "已重新安装信报箱门",
        "已重新铺贴松动瓷砖",
        "已联系快递柜运营方修复屏幕",
        "已查明渗水点并完成防水修补",
    ],
}
AREAS = ["电梯厅", "单元大堂", "地下车库 B1", "中心花园", "东门", "楼梯间", "垃圾分类点"]
# Score distributions (5, 4, 3, 2, 1) by how the repair went.
SCORES_ON_TIME = (58, 31, 8, 2, 1)
SCORES_LATE = (14, 30, 30, 16, 10)
SCORES_REOPENED = (5, 15, 30, 30, 20)


@dataclass
class _Plan:
    """One ticket to insert, with its own events and rating."""

    row: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    rating: dict[str, Any] | None = None
    followups: list[dict[str, Any]] = field(default_factory=list)


def _lognormal(ctx: DemoContext, median_s: float, sigma: float) -> int:
    return max(60, int(median_s * math.exp(ctx.rng.gauss(0, sigma))))


def _weighted(ctx: DemoContext, weights: tuple[int, ...]) -> int:
    return ctx.rng.choices(range(len(weights)), weights=weights)[0]


def _staff(ctx: DemoContext, community: Community, role: str, count: int) -> list[User]:
    """The community's users with a role, topped up with demo colleagues who cannot log in."""
    users = list(
        ctx.session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(RoleAssignment.community_id == community.id, RoleAssignment.role == role)
            .order_by(User.id)
        )
    )
    surnames = "张王李赵刘陈杨黄"
    titles = {"engineer": "师傅", "cs": "客服"}
    while len(users) < count:
        n = len(users) + 1
        user = User(
            username=f"{role}-{community.code.lower()}-{n}",
            password_hash=None,
            display_name=f"{surnames[(n + len(community.code)) % len(surnames)]}{titles[role]}",
            created_at=ctx.now,
        )
        ctx.session.add(user)
        ctx.session.flush()
        ctx.session.add(RoleAssignment(user_id=user.id, role=role, community_id=community.id))
        ctx.session.flush()
        users.append(user)
    return users


def _owners_by_unit(ctx: DemoContext, community: Community) -> dict[int, int]:
    rows = ctx.session.execute(
        select(Ownership.unit_id, Ownership.user_id)
        .join(Unit, Unit.id == Ownership.unit_id)
        .where(Unit.community_id == community.id, Ownership.ended_on.is_(None))
        .order_by(Ownership.id)
    ).all()
    owners: dict[int, int] = {}
    for unit_id, user_id in rows:
        owners.setdefault(unit_id, user_id)
    return owners


def seed(ctx: DemoContext) -> None:
    """A year or more of tickets per community, with ratings and follow-ups."""
    started = time.monotonic()
    total = 0
    for index, community in enumerate(ctx.communities):
        total += _seed_community(ctx, community, index)
    today = to_local(ctx.now, zone("Asia/Shanghai")).date()
    result = aftercare.run_followups(ctx.session, day=today, now=ctx.now)
    ctx.session.flush()
    ctx.result.lines.append(
        f"tickets: {total} repair requests, {result.rechecks} recheck prompts "
        f"in {time.monotonic() - started:.1f}s"
    )


def _seed_community(ctx: DemoContext, community: Community, index: int) -> int:
    session = ctx.session
    categories = {c.code: c for c in setup.list_categories(session, community)}
    settings = setup.get_settings(session, community.id)
    if index == 1:  # the second demo community times normal requests in working hours
        settings.business_hours = True
        settings.work_start_min, settings.work_end_min, settings.work_days = 510, 1080, "123456"
    session.flush()
    engineers = _staff(ctx, community, "engineer", 3)
    cs_users = _staff(ctx, community, "cs", 1)
    owners = _owners_by_unit(ctx, community)
    units = [u for u in ctx.units.get(community.id, []) if u.id in owners]
    if not units:
        return 0
    demo_owner = session.scalar(select(User).where(User.username == "demo-owner"))
    demo_unit = None
    if demo_owner is not None:
        demo_unit = next(
            (
                u
                for u in communities.units_of(session, demo_owner)
                if u.community_id == community.id
            ),
            None,
        )
    tz = zone(community.timezone)
    months = max(12, ctx.months)
    quality = (90, 125, 105)[index % 3]  # DEMO1 a little faster, DEMO2 slower
    per_month = max(8, len(units) * 3 // 10)
    first_day = (to_local(ctx.now, tz) - timedelta(days=30 * months)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    span = (ctx.now - first_day.astimezone(UTC)).total_seconds()
    count = int(per_month * span / (30 * 86400))
    codes = list(CATEGORY_MIX)
    weights = [CATEGORY_MIX[c][0] for c in codes]
    plans: list[_Plan] = []
    for _ in range(count):
        offset = ctx.rng.random() * span
        created = first_day.astimezone(UTC) + timedelta(seconds=offset)
        local = to_local(created, tz)
        # Fewer requests at night: move most night-time ones into the day.
        if local.hour < 7 and ctx.rng.random() < 0.8:
            created += timedelta(hours=ctx.rng.randint(8, 12))
        if created >= ctx.now - timedelta(minutes=5):
            continue
        code = ctx.rng.choices(codes, weights=weights)[0]
        plans.append(
            _plan(
                ctx,
                community,
                categories[code].id,
                code,
                created,
                units,
                owners,
                engineers,
                cs_users,
                settings,
                quality,
            )
        )
    if index == 0:  # a few fresh requests still waiting, one of them already late
        for minutes in (12, 35, 70, 290):
            code = ctx.rng.choice(["plumbing_electric", "elevator", "cleaning", "other"])
            plans.append(
                _plan(
                    ctx,
                    community,
                    categories[code].id,
                    code,
                    ctx.now - timedelta(minutes=minutes),
                    units,
                    owners,
                    engineers,
                    cs_users,
                    settings,
                    quality,
                    force={"first_s": 6 * 3600, "urgency": "normal"},
                )
            )
        # Work in the demo engineer's hands: on track, nearly due, and overdue.
        for hours_ago, code in ((20, "doors_windows"), (40, "plumbing_electric"), (52, "other")):
            plans.append(
                _plan(
                    ctx,
                    community,
                    categories[code].id,
                    code,
                    ctx.now - timedelta(hours=hours_ago),
                    units,
                    owners,
                    engineers,
                    cs_users,
                    settings,
                    quality,
                    force={
                        "first_s": 1500,
                        "resolve_s": (hours_ago + 30) * 3600,
                        "urgency": "normal",
                        "engineer": engineers[0],
                        "common": False,
                    },
                )
            )
    if demo_owner is not None and demo_unit is not None:
        plans.extend(
            _demo_owner_plans(
                ctx, community, categories, demo_unit, demo_owner, engineers, cs_users, settings
            )
        )
    plans.sort(key=lambda p: p.row["created_at"])
    for number, plan in enumerate(plans, start=1):
        plan.row["number"] = f"{community.code}-{number:05d}"
    ids = session.scalars(
        insert(Ticket).returning(Ticket.id, sort_by_parameter_order=True),
        [p.row for p in plans],
    ).all()
    events: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for ticket_id, plan in zip(ids, plans, strict=True):
        for event in plan.events:
            event["ticket_id"] = ticket_id
            events.append(event)
        if plan.rating is not None:
            plan.rating["ticket_id"] = ticket_id
            ratings.append(plan.rating)
        for followup in plan.followups:
            followup["ticket_id"] = ticket_id
            tasks.append(followup)
    if events:
        session.execute(insert(TicketEvent), events)
    if ratings:
        session.execute(insert(TicketRating), ratings)
    if tasks:
        session.execute(insert(TicketFollowup), tasks)
    session.execute(
        update(TicketSettings)
        .where(TicketSettings.community_id == community.id)
        .values(last_number=len(plans))
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return len(plans)


def _event(kind: str, at: datetime, actor: int | None, **extra: Any) -> dict[str, Any]:
    return {
        "at": at,
        "actor_id": actor,
        "kind": kind,
        "from_status": extra.pop("from_status", None),
        "to_status": extra.pop("to_status", None),
        "body": extra.pop("body", ""),
        "internal": extra.pop("internal", False),
        "data": extra.pop("data", {}),
    }


def _plan(
    ctx: DemoContext,
    community: Community,
    category_id: int,
    code: str,
    created: datetime,
    units: list[Unit],
    owners: dict[int, int],
    engineers: list[User],
    cs_users: list[User],
    settings: TicketSettings,
    quality: int,
    *,
    unit: Unit | None = None,
    reporter_id: int | None = None,
    force: dict[str, Any] | None = None,
) -> _Plan:
    """One ticket's whole life, decided up front and cut off at `now`."""
    rng = ctx.rng
    force = force or {}
    _weight, common_share, urgent_share, speed = CATEGORY_MIX[code]
    unit = unit or rng.choice(units)
    reporter_id = reporter_id or owners[unit.id]
    common = force.get("common", rng.randrange(100) < common_share)
    urgency = force.get("urgency", "urgent" if rng.randrange(100) < urgent_share else "normal")
    phone = rng.random() < 0.25
    tz = zone(community.timezone)
    first_target, resolve_target = setup.sla_minutes(
        ctx.session, community_id=community.id, category_id=category_id, urgency=urgency
    )
    hours = setup.working_hours_for(settings, urgency)
    first_due = add_working_minutes(created, first_target, tz, hours)
    resolve_due = add_working_minutes(created, resolve_target, tz, hours)
    # First response: mostly well inside the target, a long tail beyond it.
    first_s = _lognormal(ctx, first_target * 60 * 0.18 * quality / 100, 0.85)
    if rng.random() < 0.03:
        first_s *= rng.randint(3, 8)
    first_s = force.get("first_s", first_s)
    # Resolution: median about 40 % of the target, lognormal, a long tail of slow repairs.
    resolve_s = _lognormal(ctx, resolve_target * 60 * 0.35 * speed * quality / 10000, 0.72)
    if rng.random() < 0.03:
        resolve_s *= rng.randint(2, 5)
    if hours is not None:  # working-hours clocks: wall time stretches over nights and Sundays
        resolve_s = int(
            (add_working_minutes(created, resolve_s // 60, tz, hours) - created).total_seconds()
        )
    acknowledged = created + timedelta(seconds=first_s)
    assigned = acknowledged + timedelta(minutes=rng.randint(2, 45))
    resolve_s = max(resolve_s, int((assigned - created).total_seconds()) + 1200)
    resolve_s = force.get("resolve_s", resolve_s)
    resolved = created + timedelta(seconds=resolve_s)
    begun = assigned + (resolved - assigned) * rng.uniform(0.1, 0.7)
    hour = to_local(begun, tz).hour
    if urgency == "normal" and not 8 <= hour < 20:  # routine work waits for the morning
        morning = to_local(begun, tz).replace(hour=8, minute=rng.randint(0, 59))
        if hour >= 20:
            morning += timedelta(days=1)
        begun = min(max(morning.astimezone(UTC), assigned), resolved - timedelta(minutes=10))
    # The demo engineer gets most of the recent work, so their queue is not empty.
    recent = created > ctx.now - timedelta(days=4)
    engineer = force.get("engineer") or (
        engineers[0] if recent and rng.random() < 0.7 else rng.choice(engineers)
    )
    cs = cs_users[0]
    building_id = unit.building_id
    row: dict[str, Any] = {
        "community_id": community.id,
        "category_id": category_id,
        "urgency": urgency,
        "status": TicketStatus.SUBMITTED,
        "channel": "phone" if phone else "web",
        "unit_id": unit.id,
        "reporter_id": reporter_id,
        "created_by_id": cs.id if phone else reporter_id,
        "assignee_id": None,
        "location_type": LocationType.COMMON_AREA if common else LocationType.IN_HOME,
        "building_id": building_id,
        "floor": (rng.choice([1, -1, None]) if common else unit.floor),
        "area": rng.choice(AREAS) if common else "",
        "lat": None,
        "long": None,
        "description": force.get("description") or rng.choice(DESCRIPTIONS[code]),
        "preferred_on": None,
        "preferred_slot": rng.choice(["any", "any", "morning", "afternoon", "evening"]),
        "contact_phone": "",
        "period": to_local(created, tz).strftime("%Y-%m"),
        "created_at": created,
        "updated_at": created,
        "first_response_due_at": first_due,
        "resolution_due_at": resolve_due,
        "acknowledged_at": None,
        "assigned_at": None,
        "started_at": None,
        "resolved_at": None,
        "closed_at": None,
        "cancelled_at": None,
        "first_response_s": None,
        "resolution_s": None,
        "first_response_met": None,
        "resolution_met": None,
        "reopen_count": 0,
        "rating_score": None,
    }
    plan = _Plan(row=row)
    creator = cs.id if phone else reporter_id
    plan.events.append(
        _event(
            EventKind.SUBMITTED,
            created,
            creator,
            to_status="submitted",
            data={"channel": row["channel"]},
        )
    )
    now = ctx.now
    status = TicketStatus.SUBMITTED

    def move(kind: str, at: datetime, actor: int | None, to: str, **extra: Any) -> None:
        nonlocal status
        plan.events.append(_event(kind, at, actor, from_status=status, to_status=to, **extra))
        status = to
        row["status"] = to
        row["updated_at"] = at

    if rng.random() < 0.03 and not force:
        cancel_at = created + timedelta(seconds=first_s // 2 + 300)
        if cancel_at < now:
            move(
                EventKind.CANCELLED,
                cancel_at,
                reporter_id,
                TicketStatus.CANCELLED,
                body="问题已自行解决",
            )
            row["cancelled_at"] = cancel_at
        return plan
    if acknowledged >= now:
        return plan
    row.update(
        acknowledged_at=acknowledged,
        first_response_s=first_s,
        first_response_met=acknowledged <= first_due,
    )
    move(EventKind.ACKNOWLEDGED, acknowledged, cs.id, TicketStatus.ACKNOWLEDGED)
    if assigned >= now:
        return plan
    row.update(assignee_id=engineer.id, assigned_at=assigned)
    move(
        EventKind.ASSIGNED,
        assigned,
        cs.id,
        TicketStatus.ASSIGNED,
        data={"assignee_id": engineer.id, "assignee": engineer.display_name},
    )
    if begun >= now:
        return plan
    row["started_at"] = begun
    move(EventKind.STARTED, begun, engineer.id, TicketStatus.IN_PROGRESS)
    if resolved >= now:
        return plan
    row.update(resolved_at=resolved, resolution_s=resolve_s, resolution_met=resolved <= resolve_due)
    move(
        EventKind.RESOLVED,
        resolved,
        engineer.id,
        TicketStatus.RESOLVED,
        body=rng.choice(NOTES[code]),
    )
    late = not row["resolution_met"]
    reopen_chance = force.get("reopen_chance", 0.16 if late else 0.05)
    if rng.random() < reopen_chance:
        reopened = resolved + timedelta(hours=rng.randint(6, 24 * 6))
        if reopened >= now:
            return plan
        row["reopen_count"] = 1
        row.update(resolution_met=None, resolution_s=None)
        move(
            EventKind.REOPENED,
            reopened,
            reporter_id,
            TicketStatus.REOPENED,
            body="修过之后又出现同样的问题",
            data={"via": "owner"},
        )
        again = reopened + timedelta(seconds=_lognormal(ctx, 16 * 3600 * quality / 100, 0.7))
        if again >= now:
            return plan
        resolved = again
        row.update(
            resolved_at=again,
            resolution_s=int((again - created).total_seconds()),
            resolution_met=again <= resolve_due,
        )
        move(
            EventKind.RESOLVED,
            again,
            engineer.id,
            TicketStatus.RESOLVED,
            body=NOTES[code][-1],
        )
    # Ratings follow how it went.
    if row["reopen_count"]:
        scores = SCORES_REOPENED
    elif row["resolution_met"] and row["first_response_met"]:
        scores = SCORES_ON_TIME
    else:
        scores = SCORES_LATE
    rate_at = resolved + timedelta(hours=rng.randint(1, 72))
    if force.get("rate", rng.random() < 0.68) and rate_at < now:
        score = force.get("score") or 5 - _weighted(ctx, scores)
        by_phone = rng.random() < 0.2
        row["rating_score"] = score
        plan.rating = {
            "score": score,
            "comment": ""
            if score >= 4
            else rng.choice(["等了太久", "师傅态度一般", "还是有点问题"]),
            "channel": "phone" if by_phone else "owner",
            "recorded_by_id": cs.id if by_phone else reporter_id,
            "created_at": rate_at,
        }
        plan.events.append(
            _event(
                EventKind.RATED,
                rate_at,
                cs.id if by_phone else reporter_id,
                body=plan.rating["comment"],
                data={"score": score, "channel": plan.rating["channel"]},
            )
        )
        if score <= aftercare.LOW_RATING:  # a service-recovery call, done unless very recent
            done = rate_at < now - timedelta(days=4)
            plan.followups.append(
                _followup(
                    FollowupKind.SERVICE_RECOVERY,
                    row,
                    rate_at,
                    tz,
                    days=2,
                    status=FollowupStatus.DONE if done else FollowupStatus.OPEN,
                    done_at=rate_at + timedelta(hours=rng.randint(3, 40)) if done else None,
                    note="已回电致歉，安排复查，业主表示理解" if done else "",
                    handled_by_id=cs.id if done else None,
                )
            )
    # Closed by the owner's confirmation, or by the daily job after 7 quiet days.
    if rng.random() < 0.4:
        close_at = resolved + timedelta(hours=rng.randint(2, 48))
        closer = reporter_id
    else:
        close_at, closer = resolved + timedelta(days=aftercare.AUTO_CLOSE_DAYS, hours=1), None
    if close_at < now and not force.get("stay_resolved"):
        row["closed_at"] = close_at
        move(
            EventKind.CLOSED,
            close_at,
            closer,
            TicketStatus.CLOSED,
            data={"by": "owner" if closer else "system"},
        )
    # Two weeks on, the daily job asked "is it still fixed?"; most owners said yes.
    asked = resolved + timedelta(days=aftercare.RECHECK_DAYS, hours=1)
    if asked < now:
        plan.events.append(_event(EventKind.RECHECK_ASKED, asked, None))
        answered = asked + timedelta(hours=rng.randint(2, 96))
        if force.get("recheck_open") or (answered >= now or rng.random() < 0.2):
            expired = asked + timedelta(days=aftercare.RECHECK_EXPIRE_DAYS) < now
            state = FollowupStatus.EXPIRED if expired else FollowupStatus.OPEN
            plan.followups.append(
                _followup(
                    FollowupKind.RECHECK,
                    row,
                    asked,
                    tz,
                    days=aftercare.RECHECK_EXPIRE_DAYS,
                    status=state,
                )
            )
        else:
            plan.followups.append(
                _followup(
                    FollowupKind.RECHECK,
                    row,
                    asked,
                    tz,
                    days=aftercare.RECHECK_EXPIRE_DAYS,
                    status=FollowupStatus.DONE,
                    done_at=answered,
                    answer="fixed",
                    handled_by_id=reporter_id,
                )
            )
            plan.events.append(
                _event(EventKind.RECHECK_ANSWERED, answered, reporter_id, data={"fixed": True})
            )
    return plan


def _followup(
    kind: str, row: dict[str, Any], at: datetime, tz: Any, *, days: int, **values: Any
) -> dict[str, Any]:
    return {
        "kind": kind,
        "round": row["reopen_count"],
        "created_at": at,
        "due_on": (to_local(at, tz) + timedelta(days=days)).date(),
        "done_at": None,
        "answer": None,
        "note": "",
        "handled_by_id": None,
        **values,
    }


def _demo_owner_plans(
    ctx: DemoContext,
    community: Community,
    categories: dict[str, Any],
    unit: Unit,
    owner: User,
    engineers: list[User],
    cs_users: list[User],
    settings: TicketSettings,
) -> list[_Plan]:
    """demo-owner's own history: something to rate, something in progress, a recheck due."""
    now = ctx.now
    engineer = engineers[0]
    common = {
        "units": [unit],
        "owners": {unit.id: owner.id},
        "engineers": engineers,
        "cs_users": cs_users,
        "settings": settings,
        "quality": 100,
        "unit": unit,
        "reporter_id": owner.id,
    }
    specs = [
        (
            "doors_windows",
            now - timedelta(days=75),
            {
                "rate": True,
                "score": 5,
                "common": False,
                "reopen_chance": 0,
                "description": "卧室窗户关不严，冬天漏风",
            },
        ),
        (
            "plumbing_electric",
            now - timedelta(days=16, hours=3),
            {
                "rate": False,
                "common": False,
                "reopen_chance": 0,
                "resolve_s": 20 * 3600,
                "recheck_open": True,
                "description": "卫生间花洒接口漏水",
            },
        ),
        (
            "other",
            now - timedelta(days=2, hours=5),
            {
                "rate": False,
                "common": False,
                "reopen_chance": 0,
                "resolve_s": 26 * 3600,
                "stay_resolved": True,
                "description": "信报箱门掉了，麻烦修一下",
            },
        ),
        (
            "plumbing_electric",
            now - timedelta(hours=7),
            {
                "urgency": "normal",
                "common": False,
                "engineer": engineer,
                "resolve_s": 40 * 3600,
                "description": "厨房水龙头一直滴水，关不紧",
            },
        ),
    ]
    return [
        _plan(ctx, community, categories[code].id, code, created, force=force, **common)
        for code, created, force in specs
    ]
