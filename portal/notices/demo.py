"""Demo notices: a dozen per community — the fee-change notice the billing demo's new garbage
fee cites and one announced change not yet entered as a standard, outages with buildings and
hours, disclosures, events — with read receipts and acknowledgements from some owners."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from portal.accounts.models import Role, RoleAssignment, User
from portal.communities.models import Community, Ownership, Unit
from portal.demo.festivals import mid_autumn, spring_festival
from portal.demo.service import DemoContext
from portal.notices import markdown, service
from portal.notices.models import Notice, NoticeCategory, NoticeRead, NoticeStatus, OutageType
from portal.publication import service as publication
from portal.timeutil import zone

FEE_CHANGE_TITLE = "【收费标准调整公示】关于调整生活垃圾清运费的公告"


def _at(now: datetime, community: Community, days: int, hour: int) -> datetime:
    """A whole local hour `days` from now (outages start on the hour, not at seed time)."""
    local = (now + timedelta(days=days)).astimezone(zone(community.timezone))
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


def _local_morning(day: date, community: Community) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=zone(community.timezone))


def _mid_autumn_notice(community: Community, now: datetime) -> dict[str, Any]:
    """The invitation to the latest 中秋 gathering already announced (ten days ahead)."""
    today = now.astimezone(zone(community.timezone)).date()
    festival = mid_autumn(today.year)
    if festival - timedelta(days=10) > today:
        festival = mid_autumn(today.year - 1)
    return {
        "category": NoticeCategory.EVENT,
        "title": "中秋邻里游园会报名",
        "published_at": min(_local_morning(festival - timedelta(days=10), community), now),
        "expires_at": _local_morning(festival + timedelta(days=1), community),
        "body": "中秋节当晚 18:30 在中心花园举办游园会，猜灯谜、做月饼，欢迎业主携家人参加。",
    }


def _spring_festival_notice(community: Community, now: datetime) -> dict[str, Any]:
    """The holiday arrangements for the coming 春节, announced two weeks ahead: still
    scheduled when that day is yet to come."""
    today = now.astimezone(zone(community.timezone)).date()
    festival = spring_festival(today.year)
    if festival < today:
        festival = spring_festival(today.year + 1)
    announce = _local_morning(festival - timedelta(days=14), community)
    spec: dict[str, Any] = {
        "category": NoticeCategory.GENERAL,
        "title": f"{festival.year} 年春节期间服务安排",
        "body": "春节期间管理处 24 小时值班，报修请拨打服务热线或在平台提交。",
    }
    if announce > now:
        spec.update(status=NoticeStatus.SCHEDULED, publish_at=announce)
    else:
        spec["published_at"] = announce
    return spec


def fee_change_effective(published_at: datetime, community: Community) -> date:
    """The first billing month that starts once the notice period after a notice has run."""
    local = published_at.astimezone(zone(community.timezone)).date()
    earliest = local + timedelta(days=community.notice_period_days)
    if earliest.day == 1:
        return earliest
    return (earliest.replace(day=28) + timedelta(days=4)).replace(day=1)


def _notices(community: Community, now: datetime, months: int) -> list[dict[str, Any]]:
    days = timedelta(days=1)
    garbage_at = now - 40 * days
    garbage_from = fee_change_effective(garbage_at, community)
    return [
        {
            "category": NoticeCategory.FEE_CHANGE,
            "title": FEE_CHANGE_TITLE,
            "published_at": garbage_at,
            "fee_change": ("residential", "garbage", Decimal("10.00")),
            "body": (
                f"各位业主：\n\n受生活垃圾分类清运成本上涨影响，经{community.name}业主大会审议通过，"
                "住宅生活垃圾清运费由 **8 元/户·月** 调整为 **10 元/户·月**，"
                f"自 {garbage_from:%Y 年 %m 月 %d 日}起执行（公告满 "
                f"{community.notice_period_days} 日后的首个账期）。\n\n"
                "收费依据：业主大会 2026 年第二次会议决议；清运合同及近 12 个月清运支出已在"
                "“收支公开”页公布。\n\n"
                "如有疑问，请在公示期内致电服务热线或到管理处咨询，也可以在平台上提出异议。"
            ),
        },
        {
            "category": NoticeCategory.FEE_CHANGE,
            "title": "【收费标准调整公示】关于调整公共区域能耗分摊标准的公告",
            "published_at": now - 12 * days,
            "fee_change": ("residential", "shared_utilities", Decimal("0.28")),
            "body": (
                "各位业主：\n\n因公共区域电价调整，经业委会审核，住宅公共区域能耗分摊标准拟由 "
                "0.25 元/㎡·月调整为 0.28 元/㎡·月，自公告之日起满 "
                f"{community.notice_period_days} 日后的首个账期执行。\n\n"
                "测算依据及近 12 个月的公共能耗支出明细已在“收支公开”页公布，欢迎查阅。"
            ),
        },
        {
            "category": NoticeCategory.OUTAGE,
            "title": "二次供水水箱清洗，A 区部分楼栋临时停水",
            "published_at": now - 2 * days,
            "pinned": True,
            "important": True,
            "outage": (OutageType.WATER, _at(now, community, 3, 9), _at(now, community, 3, 15)),
            "buildings": 2,
            "body": (
                "为保障饮用水卫生，管理处将对二次供水水箱进行年度清洗消毒。"
                "**停水期间请提前储水**，恢复供水后请先放水 1–2 分钟。\n\n"
                "清洗完成后，水质检测报告将在公告栏公布。"
            ),
        },
        {
            "category": NoticeCategory.OUTAGE,
            "title": "配电房年度检修，部分楼栋临时停电",
            "published_at": now - 30 * days,
            "outage": (OutageType.POWER, _at(now, community, -26, 8), _at(now, community, -26, 12)),
            "buildings": 3,
            "body": "供电部门对小区配电房进行年度预防性试验，届时电梯暂停运行，请提前做好准备。",
        },
        {
            "category": NoticeCategory.OUTAGE,
            "title": "电梯年度检验，相关楼栋电梯分时段停运",
            "published_at": now - 5 * days,
            "outage": (OutageType.ELEVATOR, _at(now, community, 6, 9), _at(now, community, 6, 12)),
            "buildings": 1,
            "body": (
                "市特种设备检验研究院将对电梯进行定期检验，检验期间电梯停运，请走楼梯并注意安全。"
            ),
        },
        {
            "category": NoticeCategory.FINANCIAL,
            "title": f"{now.year - 1} 年度物业服务收支情况公示",
            "published_at": now - 60 * days,
            "important": True,
            "body": (
                f"{now.year - 1} 年度物业服务收支报告、各类别支出明细及发票凭证已在"
                "“收支公开”页公布。报告经业委会审核并由会计师事务所出具专项审计报告。\n\n"
                "- 支出按类别汇总，可逐笔查看凭证\n- 公共收益、专项维修资金单独列示\n"
                "- 所有公开数据均写入公示记录链，可自行下载核验"
            ),
        },
        {
            "category": NoticeCategory.FINANCIAL,
            "title": "第三季度公共收益收支公示",
            "published_at": now - 20 * days,
            "body": "本季度广告、停车位租金等公共收益及其使用情况已在“公共收益”页逐笔公布。",
        },
        _mid_autumn_notice(community, now),
        {
            "category": NoticeCategory.EVENT,
            "title": "消防演练通知",
            "published_at": now - 8 * days,
            "body": "本周六上午 9:30 在中心广场进行消防演练，届时消防报警系统将鸣响，请勿惊慌。",
        },
        {
            "category": NoticeCategory.GENERAL,
            "title": "垃圾分类定时定点投放时间调整",
            "published_at": now - 15 * days,
            "body": "自下月起，湿垃圾投放时间调整为每天 7:00–9:00、18:00–20:00，感谢配合。",
        },
        {
            "category": NoticeCategory.GENERAL,
            "title": "关于禁止高空抛物的温馨提示",
            "published_at": now - 45 * days,
            "body": "高空抛物危害公共安全，依法将承担相应法律责任。请看管好孩子，共同维护安全。",
        },
        _spring_festival_notice(community, now),
        {
            "category": NoticeCategory.GENERAL,
            "title": "（草稿）地下车库照明改造说明",
            "status": NoticeStatus.DRAFT,
            "body": "待工程验收后发布。",
        },
    ]


def seed(ctx: DemoContext) -> None:
    """A dozen notices per community, with read receipts."""
    session, rng, now = ctx.session, ctx.rng, ctx.now
    made = reads = 0
    for community in ctx.communities:
        author = session.scalar(
            select(User.id)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(
                RoleAssignment.community_id == community.id,
                RoleAssignment.role.in_([Role.CS, Role.MANAGER]),
            )
            .order_by(User.id)
            .limit(1)
        )
        # In unit order on every database: the draws below follow it.
        owners = list(
            dict.fromkeys(
                session.scalars(
                    select(Ownership.user_id)
                    .join(Unit, Unit.id == Ownership.unit_id)
                    .where(Unit.community_id == community.id, Ownership.ended_on.is_(None))
                    .order_by(Unit.id, Ownership.id)
                )
            )
        )
        demo_owner = session.scalar(select(User.id).where(User.username == "demo-owner"))
        for spec in _notices(community, now, ctx.months):
            status = spec.get("status", NoticeStatus.PUBLISHED)
            published_at = spec.get("published_at") if status == NoticeStatus.PUBLISHED else None
            created = published_at or now - timedelta(hours=2)
            notice = Notice(
                community_id=community.id,
                category=spec["category"],
                title=spec["title"],
                body_markdown=spec["body"],
                body_html=markdown.render(spec["body"]),
                important=spec.get("important", False)
                or spec["category"] == NoticeCategory.FEE_CHANGE,
                pinned=spec.get("pinned", False),
                status=status,
                publish_at=spec.get("publish_at", published_at),
                published_at=published_at,
                expires_at=spec.get("expires_at"),
                created_by_id=author,
                created_at=created,
                updated_at=created,
            )
            if "fee_change" in spec:
                (notice.fee_property_type, notice.fee_item_code, notice.fee_rate) = spec[
                    "fee_change"
                ]
            if "outage" in spec:
                notice.outage_type, notice.outage_starts_at, notice.outage_ends_at = spec["outage"]
                notice.expires_at = notice.outage_ends_at + timedelta(days=1)
                notice.buildings = list(community.buildings[: spec["buildings"]])
            session.add(notice)
            session.flush()
            made += 1
            if published_at is None:
                continue
            if notice.category in service.LOGGED_CATEGORIES:
                publication.append(
                    session,
                    community=community,
                    kind=service.KIND_NOTICE,
                    record_id=notice.id,
                    payload=service.notice_payload(notice),
                    now=published_at,
                )
            share = rng.randint(25, 75)
            for user_id in owners:
                if user_id == demo_owner and rng.random() < 0.5:
                    continue  # leave some unread for the demo owner
                if user_id != demo_owner and rng.randint(1, 100) > share:
                    continue
                read_at = published_at + timedelta(hours=rng.randint(1, 96))
                if read_at > now:
                    continue
                acked = notice.important and rng.random() < 0.6
                session.add(
                    NoticeRead(
                        notice_id=notice.id,
                        user_id=user_id,
                        read_at=read_at,
                        acknowledged_at=read_at if acked else None,
                    )
                )
                reads += 1
    session.flush()
    ctx.result.lines.append(
        f"notices: {made} notices (fee-change notice: “{FEE_CHANGE_TITLE}”), {reads} read receipts"
    )
