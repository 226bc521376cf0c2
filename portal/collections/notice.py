"""The written notice (催缴通知书) as a printable PDF: one A4 page per case, one by one or a
building's batch. Courteous, with the periods and amounts, the deadline, the contract clause
and legal basis from the community's list, the hotline and how to raise a dispute. Nothing in
it threatens what the law does not allow (Civil Code art. 944)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from portal.collections import aging, lists
from portal.collections.models import CollectionCase
from portal.money import format_fen
from portal.notify import service as notify
from portal.pdf import register_fonts

DEADLINE_DAYS = 15
INK = colors.HexColor("#1f2933")


@dataclass
class NoticeData:
    case_id: int
    community: str
    hotline: str
    unit: str
    owner: str
    rows: list[tuple[str, str, int, int]] = field(default_factory=list)  # period, due, fen, late
    held_fen: int = 0
    total_fen: int = 0
    late_fen: int = 0
    deadline: date | None = None
    dated: date | None = None
    clause: str = ""
    bases: list[str] = field(default_factory=list)


def notice_data(session: Session, *, case: CollectionCase, day: date) -> NoticeData:
    """What the notice says, computed as of `day` (held amounts are left out and named)."""
    unit = case.unit
    community = case.community
    owners = notify.owners_of_units(session, [unit.id]).get(unit.id, [])
    age = aging.unit_aging(session, day=day, unit_ids=[unit.id]).get(unit.id)
    data = NoticeData(
        case_id=case.id,
        community=community.name,
        hotline=community.hotline,
        unit=unit.code,
        owner="、".join(o.display_name for o in owners) or "业主",
        deadline=day + timedelta(days=DEADLINE_DAYS),
        dated=day,
        clause=lists.contract_clause(session, community_id=community.id),
    )
    if age is not None:
        for bill in age.bills:
            if bill.collectable_fen <= 0:
                continue
            label = bill.period.strftime("%Y年%m月")
            if bill.period_months == 3:
                label = f"{bill.period.year}年第{(bill.period.month - 1) // 3 + 1}季度"
            data.rows.append(
                (label, bill.due_date.isoformat(), bill.collectable_fen, bill.late_fee_fen)
            )
        data.held_fen = age.held_fen
        data.total_fen = age.overdue_fen
        data.late_fen = sum(b.late_fee_fen for b in age.bills)
    data.bases = [
        b.reference
        for b in lists.legal_basis(session, community_id=community.id, tier="L2")
        if b.kind != "contract"
    ]
    return data


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = register_fonts()
    base = ParagraphStyle(
        "notice", fontName=regular, fontSize=11, leading=18, textColor=INK, wordWrap="CJK"
    )
    return {
        "body": base,
        "title": ParagraphStyle(
            "title", parent=base, fontName=bold, fontSize=18, leading=26, alignment=1
        ),
        "right": ParagraphStyle("right", parent=base, alignment=2),
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=14),
    }


def _page(data: NoticeData, s: dict[str, ParagraphStyle]) -> list[Any]:
    regular, bold = register_fonts()
    story: list[Any] = [
        Paragraph("物业服务费催缴通知书", s["title"]),
        Spacer(1, 6 * mm),
        Paragraph(escape(f"尊敬的 {data.owner} 业主（{data.community} {data.unit}）："), s["body"]),
        Spacer(1, 2 * mm),
        Paragraph(
            escape(
                "感谢您一直以来对我们工作的理解和支持。经核对，截至 "
                f"{data.dated.isoformat() if data.dated else ''}，您名下房屋以下各期物业服务费"
                "尚未缴纳："
            ),
            s["body"],
        ),
        Spacer(1, 3 * mm),
    ]
    table_rows: list[list[str]] = [["期间", "到期日", "应缴金额", "其中违约金"]]
    for period, due, fen, late in data.rows:
        table_rows.append([period, due, format_fen(fen), format_fen(late) if late else "—"])
    table_rows.append(
        [
            "合计",
            "",
            format_fen(data.total_fen),
            format_fen(data.late_fen) if data.late_fen else "—",
        ]
    )
    table = Table(table_rows, colWidths=[40 * mm, 35 * mm, 40 * mm, 35 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), regular),
                ("FONTNAME", (0, 0), (-1, 0), bold),
                ("FONTNAME", (0, -1), (-1, -1), bold),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#9aa5b1")),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
            ]
        )
    )
    story.append(table)
    story.append(Spacer(1, 3 * mm))
    if data.held_fen:
        story.append(
            Paragraph(
                escape(
                    f"另有 {format_fen(data.held_fen)} 正在异议处理中，本通知不包括该部分，"
                    "待异议处理完毕后再行结算。"
                ),
                s["body"],
            )
        )
    basis = "、".join([data.clause, *data.bases])
    story += [
        Paragraph(
            escape(
                f"依据{basis}，业主应当按照约定交纳物业服务费。恳请您于 "
                f"{data.deadline.isoformat() if data.deadline else ''} 前缴纳上述费用。"
                "缴费方式：登录明账在线缴费，或到物业服务中心办理。"
            ),
            s["body"],
        ),
        Spacer(1, 2 * mm),
        Paragraph(
            escape(
                "如您对上述费用有异议，或对我们的服务有意见，请在上述期限内通过明账“我的异议”"
                "提出，或致电、到物业服务中心书面反映，我们将在 3 个工作日内答复并认真核实；"
                "异议处理期间，有争议的金额不予催缴。如您暂时有经济困难，可与我们商定分期缴纳。"
            ),
            s["body"],
        ),
        Spacer(1, 2 * mm),
        Paragraph(escape(f"联系电话：{data.hotline or '物业服务中心'}"), s["body"]),
        Spacer(1, 12 * mm),
        Paragraph(escape(f"{data.community} 物业服务中心"), s["right"]),
        Paragraph(data.dated.strftime("%Y年%m月%d日") if data.dated else "", s["right"]),
        Spacer(1, 10 * mm),
        Paragraph(
            escape(
                f"通知编号 C{data.case_id:08d}。送达方式：张贴（拍照留存）或挂号信（留存单号）。"
            ),
            s["small"],
        ),
    ]
    return story


def render_notices_pdf(items: Sequence[NoticeData]) -> bytes:
    """One page per notice, in the given order (a building's batch)."""
    regular, _ = register_fonts()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=24 * mm,
        bottomMargin=20 * mm,
        title="物业服务费催缴通知书",
        author="明账 Clearfee",
        initialFontName=regular,
    )
    s = _styles()
    story: list[Any] = []
    for index, data in enumerate(items):
        if index:
            story.append(PageBreak())
        story += _page(data, s)
    if not story:
        story.append(Paragraph("没有需要打印的催缴通知", s["body"]))
    document.build(story)
    return buffer.getvalue()
