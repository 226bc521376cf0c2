"""The payment receipt (物业费收据) as a PDF, with its Chinese font embedded.

The font handling (Noto Sans SC subset, embedded) is shared with letters in portal/pdf.py;
`missing_glyphs()` says what it cannot draw.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table

from portal.money import format_fen
from portal.pdf import missing_glyphs as missing_glyphs  # re-exported: receipts check names
from portal.pdf import register_fonts
from portal.timeutil import DEFAULT_TZ

TITLE = "物业费收据"
FOOTER = "本收据由明账系统生成，可扫码或凭收据号、金额与核验码核验"
FOOTER_NO_QR = "本收据由明账系统生成"

INK = colors.HexColor("#1f2933")
RULE = colors.HexColor("#8a5a44")  # the brown-red of printed receipt books
SERIAL_RED = colors.HexColor("#c0392b")  # receipt numbers are printed in red
SHADE = colors.HexColor("#f6efe9")

DIGITS = "零壹贰叁肆伍陆柒捌玖"
PLACES = ("仟", "佰", "拾", "")
GROUPS = ("", "万", "亿", "万亿")


@dataclass(frozen=True)
class ReceiptLine:
    description: str  # 收费项目, e.g. "物业服务费"
    period: str  # 所属期间, e.g. "2026-11"
    amount_fen: int


@dataclass(frozen=True)
class ReceiptData:
    community_name: str
    community_hotline: str
    receipt_no: str  # e.g. "DEMO1-2026-000123"
    issued_at: datetime  # aware; shown in Asia/Shanghai
    payer_name: str  # already masked, e.g. "王*"
    unit_code: str
    channel_label: str  # e.g. "微信支付"
    txn_ref: str
    lines: Sequence[ReceiptLine | tuple[str, str, int]]
    total_fen: int
    note: str = ""
    verify_url: str | None = None  # drawn as a QR code when given
    check_code: str = ""  # the keyed hash the verification page checks, printed beside it

    def __post_init__(self) -> None:
        if self.issued_at.tzinfo is None:
            raise ValueError("issued_at must be timezone-aware")
        if sum(_line(line).amount_fen for line in self.lines) != self.total_fen:
            raise ValueError("total_fen is not the sum of the lines")


def _line(line: ReceiptLine | tuple[str, str, int]) -> ReceiptLine:
    return line if isinstance(line, ReceiptLine) else ReceiptLine(*line)


# -- amounts in Chinese capitals ----------------------------------------------------------------


def _group_upper(number: int) -> str:
    """0 < number < 10000 in capitals; inner zeros collapse to one 零, trailing ones vanish."""
    out: list[str] = []
    zero = False
    for digit, place in zip(
        (number // 1000, number // 100 % 10, number // 10 % 10, number % 10), PLACES, strict=True
    ):
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(DIGITS[digit] + place)
    return "".join(out)


def _yuan_upper(yuan: int) -> str:
    groups: list[int] = []
    while yuan:
        yuan, group = divmod(yuan, 10000)
        groups.append(group)
    if len(groups) > len(GROUPS):
        raise ValueError("amount too large")
    out: list[str] = []
    gap = False  # a whole group of zeros was skipped since the last one written
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            gap = bool(out)
            continue
        if out and (gap or group < 1000):
            out.append("零")  # e.g. 壹万零伍佰, 壹亿零壹
        out.append(_group_upper(group) + GROUPS[index])
        gap = False
    return "".join(out)


def fen_to_chinese_upper(fen: int) -> str:
    """123456 → 壹仟贰佰叁拾肆元伍角陆分, by the rules for writing amounts on bills.

    (中国人民银行《正确填写票据和结算凭证的基本规定》): 零 for inner zeros, one 零 for a run;
    元 then 零 when 角 is zero but 分 is not; 整 after 元 or 角 when nothing follows; the leading
    拾 keeps its 壹 (壹拾元整).
    """
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError("fen must be an int")
    if fen < 0:
        raise ValueError("a receipt amount cannot be negative")
    yuan, rest = divmod(fen, 100)
    jiao, cents = divmod(rest, 10)
    if yuan == 0 and rest == 0:
        return "零元整"
    out = ""
    if yuan:
        out = _yuan_upper(yuan) + "元"
        if jiao == 0 and cents:
            out += "零"
    if jiao:
        out += DIGITS[jiao] + "角"
    if cents:
        out += DIGITS[cents] + "分"
    else:
        out += "整"
    return out


# -- layout -------------------------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = register_fonts()
    base = ParagraphStyle(
        "receipt", fontName=regular, fontSize=9, leading=13, textColor=INK, wordWrap="CJK"
    )
    return {
        "body": base,
        "label": ParagraphStyle("label", parent=base, textColor=RULE),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", parent=base, fontName=bold, textColor=RULE),
        "head_right": ParagraphStyle(
            "head_right", parent=base, fontName=bold, textColor=RULE, alignment=TA_RIGHT
        ),
        "strong": ParagraphStyle("strong", parent=base, fontName=bold, fontSize=10, leading=14),
        "strong_right": ParagraphStyle(
            "strong_right", parent=base, fontName=bold, fontSize=10, leading=14, alignment=TA_RIGHT
        ),
        "title": ParagraphStyle(
            "title",
            parent=base,
            fontName=bold,
            fontSize=20,
            leading=26,
            alignment=TA_CENTER,
            textColor=RULE,
        ),
        "serial": ParagraphStyle(
            "serial", parent=base, fontName=bold, alignment=TA_RIGHT, textColor=SERIAL_RED
        ),
        "meta": ParagraphStyle("meta", parent=base, alignment=TA_LEFT, fontSize=8.5),
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=11),
    }


def _esc(text: object) -> str:
    """Paragraph text is markup: print what we were given, not what it might say."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Title(Flowable):
    """The title, letter-spaced (as one text run, so it extracts as 物业费收据), over a
    double rule."""

    def __init__(self, text: str, width: float, font: str) -> None:
        super().__init__()
        self.text, self.width, self.font = text, width, font
        self.height = 12 * mm

    def draw(self) -> None:
        canvas = self.canv
        canvas.setFillColor(RULE)
        canvas.setFont(self.font, 20)
        canvas.drawCentredString(self.width / 2, 4 * mm, self.text, charSpace=8)
        canvas.setStrokeColor(RULE)
        left, right = self.width * 0.3, self.width * 0.7
        canvas.setLineWidth(0.8)
        canvas.line(left, 2.2 * mm, right, 2.2 * mm)
        canvas.setLineWidth(0.4)
        canvas.line(left, 1.4 * mm, right, 1.4 * mm)


def _qr(url: str, size: float, font: str) -> Drawing:
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.initialFontName = font  # the renderer sets it (Helvetica by default) even for no text
    drawing.add(widget)
    return drawing


def _flowables(data: ReceiptData, width: float) -> list[Flowable]:
    s = _styles()
    issued = data.issued_at.astimezone(DEFAULT_TZ)
    lines = [_line(line) for line in data.lines]
    # Cells are all Paragraphs, but a Table still sets its own cell font (Helvetica unless
    # told), which would put an unembedded font into the PDF.
    plain: list[tuple[Any, ...]] = [("FONTNAME", (0, 0), (-1, -1), s["body"].fontName)]
    grid: list[tuple[Any, ...]] = [
        *plain,
        ("BOX", (0, 0), (-1, -1), 1.2, RULE),
        ("INNERGRID", (0, 0), (-1, -1), 0.5, RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
    ]

    title = _Title(TITLE, width, s["title"].fontName)
    meta = Table(
        [
            [
                Paragraph(_esc(f"开具时间：{issued:%Y年%m月%d日 %H:%M}"), s["meta"]),
                Paragraph(_esc(f"No. {data.receipt_no}"), s["serial"]),
            ]
        ],
        colWidths=[width * 0.5, width * 0.5],
        style=[
            *plain,
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ],
    )

    label_w, value_w = width * 0.17, width * 0.33
    rows = [
        [
            Paragraph("小区", s["label"]),
            Paragraph(_esc(data.community_name), s["body"]),
            Paragraph("房号", s["label"]),
            Paragraph(_esc(data.unit_code), s["body"]),
        ],
        [
            Paragraph("交款人", s["label"]),
            Paragraph(_esc(data.payer_name), s["body"]),
            Paragraph("收据号", s["label"]),
            Paragraph(_esc(data.receipt_no), s["body"]),
        ],
    ]
    header = Table(
        rows,
        colWidths=[label_w, value_w, label_w, value_w],
        style=[
            *grid,
            ("BACKGROUND", (0, 0), (0, -1), SHADE),
            ("BACKGROUND", (2, 0), (2, -1), SHADE),
        ],
    )

    item_rows: list[list[Flowable | str]] = [
        [
            Paragraph("收费项目", s["head"]),
            Paragraph("所属期间", s["head"]),
            Paragraph("金额（元）", s["head_right"]),
        ]
    ]
    item_rows += [
        [
            Paragraph(_esc(line.description), s["body"]),
            Paragraph(_esc(line.period), s["body"]),
            Paragraph(_esc(format_fen(line.amount_fen)), s["right"]),
        ]
        for line in lines
    ]
    items = Table(
        item_rows,
        colWidths=[width * 0.46, width * 0.24, width * 0.30],
        repeatRows=1,
        style=[*grid, ("BACKGROUND", (0, 0), (-1, 0), SHADE)],
    )

    total = Table(
        [
            [
                Paragraph("合计（大写）", s["label"]),
                Paragraph(_esc(fen_to_chinese_upper(data.total_fen)), s["strong"]),
                Paragraph("（小写）", s["label"]),
                Paragraph(_esc(format_fen(data.total_fen)), s["strong_right"]),
            ]
        ],
        colWidths=[width * 0.20, width * 0.44, width * 0.13, width * 0.23],
        style=[*grid, ("BACKGROUND", (0, 0), (0, 0), SHADE), ("BACKGROUND", (2, 0), (2, 0), SHADE)],
    )

    detail_rows = [
        [Paragraph("支付方式", s["label"]), Paragraph(_esc(data.channel_label), s["body"])],
        [Paragraph("交易流水号", s["label"]), Paragraph(_esc(data.txn_ref or "—"), s["body"])],
    ]
    if data.note:
        detail_rows.append([Paragraph("备注", s["label"]), Paragraph(_esc(data.note), s["body"])])
    details = Table(
        detail_rows,
        colWidths=[width * 0.20, width * 0.80],
        style=[*grid, ("BACKGROUND", (0, 0), (0, -1), SHADE)],
    )

    footer_text = [
        Paragraph(FOOTER if data.verify_url else FOOTER_NO_QR, s["small"]),
        Paragraph(_esc(f"物业服务热线：{data.community_hotline}"), s["small"]),
    ]
    if data.check_code:
        footer_text.insert(1, Paragraph(_esc(f"核验码：{data.check_code}"), s["small"]))
    if data.verify_url:
        qr_size = 22 * mm
        footer = Table(
            [[_qr(data.verify_url, qr_size, s["body"].fontName), footer_text]],
            colWidths=[qr_size + 4 * mm, width - qr_size - 4 * mm],
            style=[
                *plain,
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ],
        )
    else:
        footer = Table(
            [[footer_text]],
            colWidths=[width],
            style=[*plain, ("LEFTPADDING", (0, 0), (-1, -1), 0)],
        )
    return [
        title,
        Spacer(1, 3 * mm),
        meta,
        Spacer(1, 1.5 * mm),
        header,
        items,
        total,
        details,
        Spacer(1, 4 * mm),
        footer,
    ]


def render_receipt_pdf(data: ReceiptData) -> bytes:
    """The receipt as PDF bytes (A5 portrait), fonts embedded."""
    regular, _ = register_fonts()
    buffer = io.BytesIO()
    margin = 9 * mm
    frame_padding = 6  # SimpleDocTemplate's frame pads each side by 6 pt
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A5,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 4 * mm,
        title=f"{TITLE} {data.receipt_no}",
        author="明账 Clearfee",
        subject=data.community_name,
        creator="Clearfee",
        invariant=True,  # same input, same bytes (no creation date or random id)
        initialFontName=regular,  # else every page names Helvetica, a font it never uses
    )

    def page_footer(canvas: Any, document: Any) -> None:
        # A receipt that runs onto a second page says on every page whose it is.
        canvas.saveState()
        canvas.setFont(regular, 7)
        canvas.setFillColor(RULE)
        canvas.drawRightString(
            A5[0] - margin - frame_padding,
            margin,
            f"{TITLE} No. {data.receipt_no}　第 {document.page} 页",
        )
        canvas.restoreState()

    doc.build(
        _flowables(data, doc.width - 2 * frame_padding),
        onFirstPage=page_footer,
        onLaterPages=page_footer,
    )
    return buffer.getvalue()
