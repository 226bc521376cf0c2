"""Letters (书面通知) as a printable PDF, one A4 page each, Chinese font embedded."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

from portal.pdf import register_fonts
from portal.timeutil import DEFAULT_TZ

INK = colors.HexColor("#1f2933")


@dataclass(frozen=True)
class Letter:
    message_id: int
    community_name: str
    recipient_name: str
    unit_code: str
    subject: str
    text: str
    dated: datetime  # aware; printed as the local date


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = register_fonts()
    base = ParagraphStyle(
        "letter", fontName=regular, fontSize=11, leading=18, textColor=INK, wordWrap="CJK"
    )
    return {
        "body": base,
        "title": ParagraphStyle(
            "title", parent=base, fontName=bold, fontSize=18, leading=26, alignment=1
        ),
        "meta": ParagraphStyle("meta", parent=base, fontSize=10, leading=15),
        "right": ParagraphStyle("right", parent=base, alignment=2),
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=12),
    }


def render_letters_pdf(letters: Sequence[Letter]) -> bytes:
    """One page per letter, in the given order (a building's batch)."""
    regular, _ = register_fonts()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=24 * mm,
        bottomMargin=20 * mm,
        title="书面通知",
        author="明账 Clearfee",
        initialFontName=regular,
    )
    s = _styles()
    story: list[Any] = []
    for index, letter in enumerate(letters):
        if index:
            story.append(PageBreak())
        story.append(Paragraph(escape(letter.subject or "通知"), s["title"]))
        story.append(Spacer(1, 6 * mm))
        story.append(
            Paragraph(
                escape(f"{letter.community_name} · {letter.unit_code} · {letter.recipient_name}"),
                s["meta"],
            )
        )
        story.append(Spacer(1, 4 * mm))
        for paragraph in letter.text.split("\n"):
            story.append(Paragraph(escape(paragraph) or "&nbsp;", s["body"]))
        story.append(Spacer(1, 12 * mm))
        story.append(Paragraph(escape(letter.community_name + " 物业服务中心"), s["right"]))
        story.append(
            Paragraph(letter.dated.astimezone(DEFAULT_TZ).strftime("%Y年%m月%d日"), s["right"])
        )
        story.append(Spacer(1, 10 * mm))
        story.append(
            Paragraph(
                escape(f"通知编号 N{letter.message_id:08d}"),
                s["small"],
            )
        )
    if not story:
        story.append(Paragraph("没有待打印的通知", s["body"]))
    document.build(story)
    return buffer.getvalue()
