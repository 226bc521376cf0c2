"""Demo data: categories, about two years of published spending with invoice-like evidence
images (drawn locally with Pillow), budgets, common revenue, the maintenance fund, an annual
statement under 酬金制, a correction and a retraction, and a few drafts."""

from __future__ import annotations

import calendar
import hashlib
import io
import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from portal.accounts.models import Role, RoleAssignment, User
from portal.communities.models import Community, FeeRegime
from portal.demo.service import DemoContext
from portal.governance import service as governance
from portal.governance.models import Matter
from portal.publication import service as publication
from portal.timeutil import local_today, zone
from portal.transparency import budgets, funds, statements
from portal.transparency import service as spending
from portal.transparency.models import (
    AnnualStatement,
    Budget,
    BudgetLine,
    FundAccount,
    FundEvidence,
    FundMovement,
    RecordStatus,
    SpendingCategory,
    SpendingEvidence,
    SpendingItem,
)
from portal.uploads import service as uploads
from portal.uploads.models import StoredFile

FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
FEE_PER_M2_MONTH = Decimal("2.80")
# Share of the yearly budget per top-level category (sums to 1 with the company's margin).
SHARES = {
    "staff": Decimal("0.31"),
    "cleaning": Decimal("0.13"),
    "security": Decimal("0.17"),
    "greening": Decimal("0.06"),
    "repairs": Decimal("0.08"),
    "energy": Decimal("0.09"),
    "elevator": Decimal("0.07"),
    "office": Decimal("0.035"),
    "tax": Decimal("0.035"),
}
# (category code, vendor, description, share of the top category's monthly budget)
MONTHLY = [
    ("staff.wages", "本项目管理处", "管理服务人员工资（{m} 月）", Decimal("0.78")),
    ("staff.social", "社会保险经办机构", "社保及住房公积金（{m} 月）", Decimal("0.22")),
    ("cleaning.service", "洁美环境服务有限公司", "保洁外包服务费（{m} 月）", Decimal("0.70")),
    ("cleaning.waste", "城环再生资源回收有限公司", "生活垃圾清运费（{m} 月）", Decimal("0.22")),
    ("security.guards", "卫安保安服务有限公司", "秩序维护外包服务费（{m} 月）", Decimal("0.92")),
    ("greening.care", "青禾园林绿化工程有限公司", "绿化养护服务费（{m} 月）", Decimal("0.85")),
    ("energy.power", "国网电力公司", "公共区域及电梯用电（{m} 月）", Decimal("0.74")),
    ("energy.water", "自来水公司", "公共区域用水（{m} 月）", Decimal("0.24")),
    ("elevator.contract", "迅达电梯维保服务公司", "电梯维保合同款（{m} 月）", Decimal("0.90")),
    ("office.telecom", "中国电信", "管理处通讯及宽带（{m} 月）", Decimal("0.25")),
    ("tax.vat", "税务局", "增值税及附加（{m} 月）", Decimal("1.00")),
]
OCCASIONAL = [
    ("repairs.plumbing", "安居水电维修部", "地下车库排水泵更换"),
    ("repairs.plumbing", "安居水电维修部", "{b}雨水管疏通"),
    ("repairs.electrical", "恒明电气工程有限公司", "{b}楼道感应灯更换"),
    ("repairs.electrical", "恒明电气工程有限公司", "配电房电缆头检修"),
    ("repairs.fire", "安消消防技术服务有限公司", "消防设施年度检测及维保"),
    ("repairs.building", "固建防水工程有限公司", "{b}屋面防水局部修补"),
    ("security.cctv", "视联安防科技有限公司", "小区监控摄像头更换"),
    ("greening.plants", "青禾园林绿化工程有限公司", "中心花园苗木补种"),
    ("greening.pest", "青禾园林绿化工程有限公司", "春季病虫害防治"),
    ("cleaning.supplies", "百洁日用品商行", "保洁耗材采购"),
    ("office.supplies", "文正办公用品店", "办公用品采购"),
    ("elevator.parts", "迅达电梯维保服务公司", "{b}电梯门机皮带更换"),
]
ANNUAL = [
    ("elevator.inspection", "市特种设备检验研究院", "电梯年度定期检验", 4, Decimal("0.06")),
    ("office.insurance", "人保财险", "公众责任险年度保费", 3, Decimal("0.40")),
    ("office.audit", "立信会计师事务所", "年度收支专项审计", 3, Decimal("0.30")),
    ("staff.training", "本项目管理处", "员工消防及服务礼仪培训", 6, Decimal("0.02")),
]


def _font(size: int) -> Any:
    for path in FONT_PATHS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return None


@dataclass
class _Painter:
    """Draws small invoice-like PNGs (grey, so they stay a few KB)."""

    cjk: bool
    big: Any
    small: Any
    base: Image.Image

    @classmethod
    def create(cls) -> _Painter:
        big, small = _font(16), _font(13)
        cjk = big is not None
        if not cjk:  # no CJK font on this machine: draw Latin text with Pillow's own font
            big = ImageFont.load_default()
            small = big
        base = Image.new("L", (480, 300), 250)
        draw = ImageDraw.Draw(base)
        draw.rectangle([6, 6, 473, 293], outline=90, width=2)
        draw.text(
            (130, 16), "增值税电子普通发票" if cjk else "VAT e-invoice (demo)", font=big, fill=60
        )
        labels = (
            ("购买方", "销售方", "项目", "金额", "日期")
            if cjk
            else ("Buyer", "Seller", "Item", "Amount", "Date")
        )
        for n, text in enumerate(labels):
            draw.text((20, 62 + n * 34), text, font=small, fill=90)
        draw.text(
            (20, 262), "示例凭证 · 演示数据" if cjk else "demo evidence", font=small, fill=150
        )
        return cls(cjk, big, small, base)

    def invoice(
        self, *, number: str, buyer: str, seller: str, item: str, fen: int, day: date
    ) -> bytes:
        image = self.base.copy()
        draw = ImageDraw.Draw(image)
        yuan = f"¥{fen // 100:,}.{fen % 100:02d}"
        if not self.cjk:
            buyer, seller, item = "owners of the community", "vendor", "service"
        for n, text in enumerate((buyer, seller, item, yuan, day.isoformat())):
            draw.text((90, 62 + n * 34), text, font=self.small, fill=20)
        draw.text((330, 40), f"No. {number}", font=self.small, fill=60)
        out = io.BytesIO()
        image.save(out, "PNG", compress_level=1)
        return out.getvalue()


def _store(session: Any, data: bytes, name: str, now: datetime) -> StoredFile:
    """Write a generated (hence trusted) PNG straight into the upload store."""
    digest = hashlib.sha256(data).hexdigest()
    path = uploads.storage_path(digest, "png")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(path)
    stored = StoredFile(
        sha256=digest,
        content_type="image/png",
        extension="png",
        size_bytes=len(data),
        original_name=name,
        width=480,
        height=300,
        created_at=now,
    )
    session.add(stored)
    return stored


def _staff(session: Any, community: Community) -> User | None:
    return session.scalar(
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(
            RoleAssignment.community_id == community.id,
            RoleAssignment.role.in_([Role.FINANCE, Role.MANAGER]),
        )
        .order_by(User.id)
        .limit(1)
    )


def _instant(day: date, tz: Any, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=tz)


def _month_starts(first: date, last: date) -> list[date]:
    months, cursor = [], first.replace(day=1)
    while cursor <= last:
        months.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return months


def _scale(fen: int, rng: Any, spread: int = 8) -> int:
    """A realistic wobble of ±spread% around an amount, rounded to whole yuan."""
    return max(100, fen * rng.randint(100 - spread, 100 + spread) // 100 // 100 * 100)


def seed(ctx: DemoContext) -> None:
    """Spending, budgets, funds and statements for every demo community."""
    painter = _Painter.create()
    totals = {"items": 0, "entries": 0}
    for community in ctx.communities:
        _seed_community(ctx, community, painter, totals)
    ctx.session.flush()
    ctx.result.lines.append(
        f"transparency: {totals['items']} spending items with evidence, "
        f"{totals['entries']} publication-log entries"
    )


def _seed_community(
    ctx: DemoContext, community: Community, painter: _Painter, totals: dict[str, int]
) -> None:
    session, rng = ctx.session, ctx.rng
    tz = zone(community.timezone)
    today = local_today(tz, ctx.now)
    spending.ensure_default_categories(session, community=community)
    cats = {
        c.code: c
        for c in session.scalars(
            select(SpendingCategory).where(SpendingCategory.community_id == community.id)
        )
    }
    staff = _staff(session, community)
    staff_id = staff.id if staff else None
    units = ctx.units.get(community.id, [])
    area = sum((u.area_m2 for u in units), Decimal(0)) or Decimal(10000)
    yearly_fee = int(area * FEE_PER_M2_MONTH * 12 * 100)
    monthly_budget = {code: int(yearly_fee * share) // 12 for code, share in SHARES.items()}
    buildings = [b.name for b in community.buildings] or ["1号楼"]
    first = date(today.year - 1, 1, 1)
    # (publish instant, kind, record) in the order they went public
    to_publish: list[tuple[datetime, str, Any]] = []
    invoice_no = rng.randint(10_000_000, 90_000_000)

    def add_item(code: str, vendor: str, text: str, fen: int, day: date) -> SpendingItem:
        nonlocal invoice_no
        category = cats[code]
        item = SpendingItem(
            community_id=community.id,
            category_id=category.id,
            spent_on=day,
            amount_fen=fen,
            vendor=vendor,
            description=text,
            status=RecordStatus.PUBLISHED,
            entered_by_id=staff_id,
            created_at=_instant(day, tz, 9),
        )
        session.add(item)
        invoice_no += rng.randint(1, 400)
        png = painter.invoice(
            number=str(invoice_no),
            buyer=community.name + "全体业主",
            seller=vendor,
            item=text,
            fen=fen,
            day=day,
        )
        stored = _store(session, png, f"invoice-{invoice_no}.png", _instant(day, tz, 9))
        item.evidence.append(SpendingEvidence(file=stored, label=f"发票 {invoice_no}.png"))
        published = min(_instant(day + timedelta(days=rng.randint(2, 6)), tz, 17), ctx.now)
        item.published_at = published
        to_publish.append((published, spending.KIND_SPENDING, item))
        return item

    for month in _month_starts(first, today):
        last_day = calendar.monthrange(month.year, month.month)[1]
        label = str(month.month)
        for code, vendor, text, share in MONTHLY:
            top = code.split(".")[0]
            fen = _scale(int(monthly_budget[top] * share), rng)
            if top == "energy" and month.month in (1, 2, 7, 8):
                fen = fen * 6 // 5  # heating and air-conditioning months
            day = month.replace(day=min(rng.randint(5, 25), last_day))
            if day > today:
                continue
            add_item(code, vendor, text.format(m=label), fen, day)
        for code, vendor, text, due_month, share in ANNUAL:
            if month.month == due_month:
                top = code.split(".")[0]
                add_item(
                    code,
                    vendor,
                    text,
                    _scale(int(monthly_budget[top] * 12 * share), rng),
                    month.replace(day=min(12, last_day)),
                )
        for _ in range(rng.randint(1, 3)):
            code, vendor, text = rng.choice(OCCASIONAL)
            top = code.split(".")[0]
            fen = _scale(int(monthly_budget[top] * rng.randint(15, 45) // 100), rng, 20)
            day = month.replace(day=rng.randint(1, last_day))
            if day <= today:
                add_item(code, vendor, text.format(b=rng.choice(buildings)), fen, day)
        if community.fee_regime == FeeRegime.LUMP_SUM and month.month == 12 and "surplus" in cats:
            add_item(
                "surplus",
                "物业服务企业",
                f"{month.year} 年度包干结余（企业经营利润）",
                int(yearly_fee * Decimal("0.05")),
                month.replace(day=31),
            )
    session.flush()

    # Budgets: last year, and this year revised once in mid-year.
    for year, version in ((today.year - 1, 1), (today.year, 1), (today.year, 2)):
        budget = Budget(
            community_id=community.id,
            year=year,
            version=version,
            status=RecordStatus.PUBLISHED,
            reason="" if version == 1 else "电梯老化，追加维修预算（业委会 2 号决议）",
            note="按业主大会审议通过的年度物业服务计划编制",
            created_by_id=staff_id,
            created_at=_instant(date(year - 1, 12, 20), tz),
        )
        if version == 2:
            budget.supersedes_id = session.scalar(
                select(Budget.id).where(
                    Budget.community_id == community.id, Budget.year == year, Budget.version == 1
                )
            )
        for code, share in SHARES.items():
            amount = int(yearly_fee * share)
            if version == 2 and code in ("elevator", "repairs"):
                amount = amount * 115 // 100
            budget.lines.append(
                BudgetLine(category_id=cats[code].id, amount_fen=amount // 100 * 100)
            )
        session.add(budget)
        session.flush()
        when = date(year - 1, 12, 28) if version == 1 else date(year, 6, 30)
        if when > today:
            when = today
        budget.published_at = min(_instant(when, tz, 16), ctx.now)
        to_publish.append((budget.published_at, budgets.KIND_BUDGET, budget))

    # Common revenue and the maintenance fund.
    def add_movement(
        account: str,
        direction: str,
        kind: str,
        day: date,
        fen: int,
        description: str,
        counterparty: str = "",
        approval_ref: str = "",
        evidence: bool = False,
    ) -> FundMovement:
        movement = FundMovement(
            community_id=community.id,
            account=account,
            direction=direction,
            kind=kind,
            occurred_on=day,
            amount_fen=fen,
            counterparty=counterparty,
            description=description,
            approval_ref=approval_ref,
            status=RecordStatus.PUBLISHED,
            entered_by_id=staff_id,
            created_at=_instant(day, tz, 9),
            published_at=min(_instant(day + timedelta(days=3), tz, 17), ctx.now),
        )
        session.add(movement)
        if evidence:
            nonlocal invoice_no
            invoice_no += 7
            png = painter.invoice(
                number=str(invoice_no),
                buyer=community.name + "全体业主",
                seller=counterparty or community.name,
                item=description,
                fen=fen,
                day=day,
            )
            stored = _store(session, png, f"receipt-{invoice_no}.png", _instant(day, tz, 9))
            movement.evidence.append(FundEvidence(file=stored, label=f"收据 {invoice_no}.png"))
        to_publish.append((movement.published_at, account, movement))
        return movement

    cr, mf = FundAccount.COMMON_REVENUE, FundAccount.MAINTENANCE_FUND
    add_movement(
        cr,
        "in",
        "opening",
        first,
        int(yearly_fee * Decimal("0.04")),
        f"{first.year - 1} 年末公共收益结余",
    )
    add_movement(
        mf,
        "in",
        "opening",
        first,
        int(area * 120 * 100),
        "专项维修资金期初余额（住宅按 120 元/㎡ 归集）",
        "市住宅专项维修资金管理中心",
    )
    spaces = max(10, len(units) // 3)
    for month in _month_starts(first, today):
        day = month.replace(day=10)
        if day > today:
            continue
        add_movement(
            cr,
            "in",
            "advertising",
            day,
            _scale(len(units) * 1500, rng, 5),
            "电梯轿厢及道闸广告位收入",
            "分众传媒",
            evidence=True,
        )
        add_movement(
            cr,
            "in",
            "parking_rent",
            day,
            spaces * 8000,
            f"地面公共停车位租金（{spaces} 个车位）",
            "停车管理处",
        )
        if month.month in (5, 10):
            add_movement(
                cr,
                "in",
                "venue_rental",
                day + timedelta(days=5),
                300_000,
                "中心广场场地租赁（商家促销活动）",
                "社区商户",
            )
        if month.month in (3, 6, 9, 12):
            add_movement(
                cr,
                "out",
                "operating_cost",
                day + timedelta(days=8),
                len(units) * 1500 * 3 * 6 // 100,
                "公共收益经营相关税费",
                "税务局",
            )
            interest = int(area * 120 * 100) * 35 // 10000 // 4
            add_movement(
                mf,
                "in",
                "interest",
                month.replace(day=21),
                interest,
                "专项维修资金季度利息",
                "开户银行",
            )
        if month.month == 12:
            add_movement(
                cr,
                "out",
                "to_maintenance_fund",
                month.replace(day=20),
                len(units) * 1500 * 6,
                "公共收益转入专项维修资金（业主大会决议）",
                approval_ref=f"业主大会决议〔{month.year}〕3 号",
            )
            add_movement(
                mf,
                "in",
                "from_common_revenue",
                month.replace(day=20),
                len(units) * 1500 * 6,
                "公共收益转入",
            )
    repair_day = date(today.year - 1, 8, 18)
    add_movement(
        mf,
        "out",
        "repair",
        repair_day,
        int(area * 9 * 100),
        f"{buildings[0]}外墙渗漏及屋面防水维修工程",
        "固建防水工程有限公司",
        approval_ref=f"业主表决通过（同意 {max(1, len(units) * 7 // 10)} 户），"
        f"区房管局备案 维修〔{repair_day.year}〕118 号",
        evidence=True,
    )
    # The draw the owners decided in the portal (the governance demo's closed vote) cites it.
    fund_vote = next(
        (
            v
            for v in governance.passed_votes(session, community_id=community.id)
            if v.matter == Matter.FUND_USE and v.closed_at is not None
        ),
        None,
    )
    if fund_vote is not None and fund_vote.closed_at is not None:
        draw_day = min(fund_vote.closed_at.astimezone(tz).date() + timedelta(days=6), today)
        drawn = add_movement(
            mf,
            "out",
            "repair",
            draw_day,
            18_600_000,
            f"1 号楼屋面防水维修（业主表决 #{fund_vote.id} 通过）",
            "固建防水工程有限公司",
            approval_ref=f"区房管局备案 维修〔{draw_day.year}〕203 号",
            evidence=True,
        )
        drawn.vote_id = fund_vote.id
    session.flush()

    # Publish in the order things went public, then add a correction and a retraction.
    to_publish.sort(key=lambda entry: (entry[0], entry[1], entry[2].id))
    payload_of = {
        spending.KIND_SPENDING: spending.spending_payload,
        budgets.KIND_BUDGET: budgets.budget_payload,
        cr.value: funds.movement_payload,
        mf.value: funds.movement_payload,
    }
    publication.append_many(
        session,
        community=community,
        records=[
            (kind, record.id, payload_of[kind](record), published_at)
            for published_at, kind, record in to_publish
        ],
    )
    items = [record for _at, kind, record in to_publish if kind == spending.KIND_SPENDING]
    totals["items"] += len(items)
    totals["entries"] += len(to_publish)
    if len(items) > 20:
        _corrections(ctx, community, items, staff_id, tz, totals)
    if community.fee_regime == FeeRegime.COMMISSION:
        _statement(ctx, community, yearly_fee, staff_id, tz, today, totals)
    _drafts(ctx, community, cats, staff_id, tz, today)


def _corrections(
    ctx: DemoContext,
    community: Community,
    items: list[SpendingItem],
    staff_id: int | None,
    tz: Any,
    totals: dict[str, int],
) -> None:
    session = ctx.session
    typo = items[len(items) // 3]
    duplicate = items[len(items) // 2]
    fixes = [
        (
            typo,
            typo.amount_fen - typo.amount_fen // 10 // 100 * 100,
            "录入金额有误，按发票金额更正",
        ),
        (duplicate, 0, "重复录入，撤销此笔（同一发票已于前一笔公开）"),
    ]
    for old, amount, reason in fixes:
        when = min((old.published_at or ctx.now) + timedelta(days=9), ctx.now)
        correction = SpendingItem(
            community_id=community.id,
            category_id=old.category_id,
            spent_on=old.spent_on,
            amount_fen=amount,
            vendor=old.vendor,
            description=old.description,
            status=RecordStatus.PUBLISHED,
            supersedes_id=old.id,
            correction_reason=reason,
            entered_by_id=staff_id,
            created_at=when,
            published_at=when,
        )
        if amount:
            correction.evidence = [
                SpendingEvidence(stored_file_id=e.stored_file_id, label=e.label)
                for e in old.evidence
            ]
        session.add(correction)
        session.flush()
        publication.append(
            session,
            community=community,
            kind=spending.KIND_SPENDING,
            record_id=correction.id,
            payload=spending.spending_payload(correction),
            now=when,
        )
        totals["entries"] += 1


def _statement(
    ctx: DemoContext,
    community: Community,
    yearly_fee: int,
    staff_id: int | None,
    tz: Any,
    today: date,
    totals: dict[str, int],
) -> None:
    session = ctx.session
    # A year's statement is published by 31 January of the next year: early in January the
    # latest published one is for the year before last.
    published_on = date(today.year, 1, 31)
    if _instant(published_on, tz) > ctx.now:
        published_on = date(today.year - 1, 1, 31)
    year = published_on.year - 1
    statement = AnnualStatement(
        community_id=community.id,
        year=year,
        version=1,
        status=RecordStatus.DRAFT,
        fee_regime=community.fee_regime,
        created_by_id=staff_id,
        created_at=_instant(published_on - timedelta(days=11), tz),
    )
    statements._fill(  # the same figures the staff page computes
        session,
        statement,
        community,
        fee_income_fen=yearly_fee * 91 // 100,
        other_income_fen=yearly_fee * 2 // 100,
        note="物业费按实收计；其他收入为公共收益中按业主大会决议用于补充物业服务资金的部分。"
        "本报告经业委会审核，并由会计师事务所出具专项审计报告。",
    )
    statement.status = RecordStatus.PUBLISHED
    statement.published_at = _instant(published_on, tz)
    session.add(statement)
    session.flush()
    publication.append(
        session,
        community=community,
        kind=statements.KIND_STATEMENT,
        record_id=statement.id,
        payload=statements.statement_payload(statement),
        now=statement.published_at,
    )
    totals["entries"] += 1


def _drafts(
    ctx: DemoContext,
    community: Community,
    cats: dict[str, SpendingCategory],
    staff_id: int | None,
    tz: Any,
    today: date,
) -> None:
    for code, vendor, text, fen in (
        ("repairs.electrical", "恒明电气工程有限公司", "地下车库照明改造（待验收）", 1_864_000),
        ("cleaning.supplies", "百洁日用品商行", "冬季防滑垫采购", 96_000),
    ):
        ctx.session.add(
            SpendingItem(
                community_id=community.id,
                category_id=cats[code].id,
                spent_on=today,
                amount_fen=fen,
                vendor=vendor,
                description=text,
                status=RecordStatus.DRAFT,
                entered_by_id=staff_id,
                created_at=ctx.now,
            )
        )
