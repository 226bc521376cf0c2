"""PDF helpers shared by receipts and letters: the vendored CJK font, embedded by ReportLab.

ReportLab embeds (and subsets) TrueType fonts, so a PDF reads the same on a phone or a printer
without Chinese fonts. The font is Noto Sans SC cut down to GB2312 and the demo data's
characters (static/fonts/README.md); `missing_glyphs()` says what it cannot draw.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).resolve().parents[1] / "static" / "fonts"
REGULAR = "ClearfeeSans"
BOLD = "ClearfeeSans-Bold"


@cache
def register_fonts() -> tuple[str, str]:
    """Register the vendored fonts with ReportLab once; their names (regular, bold)."""
    pdfmetrics.registerFont(TTFont(REGULAR, str(FONT_DIR / "NotoSansSC-Regular-subset.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(FONT_DIR / "NotoSansSC-Bold-subset.ttf")))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD)
    return REGULAR, BOLD


def missing_glyphs(text: str) -> set[str]:
    """Characters of `text` the font cannot draw (they would print as boxes)."""
    register_fonts()
    font = pdfmetrics.getFont(REGULAR)
    known = font.face.charToGlyph  # type: ignore[attr-defined]
    return {ch for ch in text if ch.isprintable() and not ch.isspace() and ord(ch) not in known}
