"""The receipt PDF: amounts in capitals, embedded font, text that extracts back."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from faker import Faker
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from portal.payments.receipt_pdf import (
    FOOTER,
    FOOTER_NO_QR,
    ReceiptData,
    ReceiptLine,
    fen_to_chinese_upper,
    missing_glyphs,
    render_receipt_pdf,
)

DIGITS = "零壹贰叁肆伍陆柒捌玖"
PLACES = {"拾": 10, "佰": 100, "仟": 1000}


# -- 大写金额 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "upper"),
    [
        (0, "零元整"),
        (1, "壹分"),
        (10, "壹角整"),
        (11, "壹角壹分"),
        (100, "壹元整"),
        (105, "壹元零伍分"),
        (1000, "壹拾元整"),
        (123456, "壹仟贰佰叁拾肆元伍角陆分"),
        # The examples of 《正确填写票据和结算凭证的基本规定》:
        (140950, "壹仟肆佰零玖元伍角整"),  # ¥1,409.50
        (600714, "陆仟零柒元壹角肆分"),  # ¥6,007.14
        (168032, "壹仟陆佰捌拾元叁角贰分"),  # ¥1,680.32
        (10700053, "壹拾万柒仟元伍角叁分"),  # ¥107,000.53
        (1640902, "壹万陆仟肆佰零玖元零贰分"),  # ¥16,409.02
        (32504, "叁佰贰拾伍元零肆分"),  # ¥325.04
        (10001000, "壹拾万零壹拾元整"),
        (100500, "壹仟零伍元整"),
        (1000500, "壹万零伍元整"),
        (10000000100, "壹亿零壹元整"),
        (200000001, "贰佰万元零壹分"),
        (505050505, "伍佰零伍万零伍佰零伍元零伍分"),
        (100000000000, "壹拾亿元整"),
        (10**14, "壹万亿元整"),
    ],
)
def test_fen_to_chinese_upper(fen: int, upper: str) -> None:
    assert fen_to_chinese_upper(fen) == upper


@pytest.mark.parametrize(("value", "error"), [(-1, ValueError), (10**18, ValueError)])
def test_fen_to_chinese_upper_refuses_out_of_range(value: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        fen_to_chinese_upper(value)


@pytest.mark.parametrize("value", [True, 1.5, "100"])
def test_fen_to_chinese_upper_refuses_non_integers(value: Any) -> None:
    with pytest.raises(TypeError, match="int"):
        fen_to_chinese_upper(value)


def _small(text: str) -> int:
    total = digit = 0
    for ch in text.replace("零", ""):
        if ch in PLACES:
            total += digit * PLACES[ch]
            digit = 0
        else:
            digit = DIGITS.index(ch)
    return total + digit


def _parse_upper(text: str) -> int:
    """An independent reader of capitals, to round-trip against."""
    if text == "零元整":
        return 0
    text = text.removesuffix("整")
    yuan_text, _, fraction = text.rpartition("元")
    yuan = 0
    for unit, factor in (("万亿", 10**12), ("亿", 10**8), ("万", 10**4)):
        if unit in yuan_text:
            head, yuan_text = yuan_text.split(unit, 1)
            yuan += _small(head) * factor
    yuan += _small(yuan_text)
    match = re.fullmatch(r"零?(?:(.)角)?(?:(.)分)?", fraction)
    assert match is not None, fraction
    jiao, cents = (DIGITS.index(g) if g else 0 for g in match.groups())
    return yuan * 100 + jiao * 10 + cents


@given(st.integers(min_value=0, max_value=10**16 - 1))
def test_fen_to_chinese_upper_round_trips_and_keeps_the_rules(fen: int) -> None:
    upper = fen_to_chinese_upper(fen)
    assert _parse_upper(upper) == fen
    assert "零零" not in upper
    assert upper == "零元整" or not upper.startswith("零")
    assert upper.endswith("整") == (fen % 10 == 0)
    assert ("元" in upper) == (fen >= 100 or fen == 0)
    assert "零元" not in upper[1:]  # 元 is never preceded by a lone 零 (…拾元, not …拾零元)


# -- the PDF ------------------------------------------------------------------------------------

SAMPLE = ReceiptData(
    community_name="明账花园",
    community_hotline="0571-8888 6666",
    receipt_no="DEMO1-2026-000123",
    issued_at=datetime(2026, 11, 23, 12, 5, tzinfo=UTC),  # 20:05 in Beijing
    payer_name="王*",
    unit_code="A-3-1202",
    channel_label="微信支付",
    txn_ref="4200002026112312345678901234",
    lines=[
        ReceiptLine("物业服务费", "2026-11", 98765),
        ("公摊水电", "2026-11", 12345),
        ("停车管理费", "2026-11", 12346),
    ],
    total_fen=123456,
    note="含2026年11月物业服务费、公摊水电及停车管理费。",
    verify_url="https://clearfee.example.cn/receipts/DEMO1-2026-000123",
)


def read(pdf: bytes) -> PdfReader:
    assert pdf.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(pdf))


def text_of(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def fonts_of(reader: PdfReader) -> list[Any]:
    return [
        ref.get_object() for page in reader.pages for ref in page["/Resources"]["/Font"].values()
    ]


def test_receipt_parses_and_embeds_its_font() -> None:
    reader = read(render_receipt_pdf(SAMPLE))
    assert len(reader.pages) == 1
    fonts = fonts_of(reader)
    names = {str(font["/BaseFont"]).split("+", 1)[1] for font in fonts}
    assert names == {"NotoSansSC-Regular", "NotoSansSC-Bold"}
    for font in fonts:  # every font is an embedded TrueType subset, none left to the viewer
        assert font["/Subtype"] == "/TrueType"
        assert "/FontFile2" in font["/FontDescriptor"]
        assert "/ToUnicode" in font  # so the text can be searched and copied
    assert reader.metadata is not None
    assert reader.metadata.title == "物业费收据 DEMO1-2026-000123"


def test_receipt_text_extracts_back() -> None:
    text = text_of(read(render_receipt_pdf(SAMPLE)))
    for expected in (
        "物业费收据",
        "明账花园",
        "DEMO1-2026-000123",
        "2026年11月23日 20:05",
        "王*",
        "A-3-1202",
        "物业服务费",
        "公摊水电",
        "停车管理费",
        "2026-11",
        "¥987.65",
        "¥123.45",
        "¥123.46",
        "¥1,234.56",
        "壹仟贰佰叁拾肆元伍角陆分",
        "微信支付",
        "4200002026112312345678901234",
        "含2026年11月物业服务费、公摊水电及停车管理费。",
        FOOTER,
        "0571-8888 6666",
    ):
        assert expected in text, expected


def test_same_receipt_same_bytes() -> None:
    assert render_receipt_pdf(SAMPLE) == render_receipt_pdf(SAMPLE)


def test_receipt_without_qr_or_note_still_renders() -> None:
    data = replace(SAMPLE, verify_url=None, note="")
    text = text_of(read(render_receipt_pdf(data)))
    assert FOOTER_NO_QR in text
    assert "扫码" not in text  # no QR code, no promise to scan one
    assert "备注" not in text


def test_offline_payment_without_a_reference_shows_a_dash() -> None:
    data = replace(SAMPLE, txn_ref="", channel_label="现金")
    text = text_of(read(render_receipt_pdf(data)))
    assert "交易流水号\n—" in text
    assert "现金" in text


def test_markup_in_data_is_printed_not_interpreted() -> None:
    data = replace(SAMPLE, community_name="<b>明账</b> & 花园")
    assert "<b>明账</b> & 花园" in text_of(read(render_receipt_pdf(data)))


def test_long_receipt_flows_onto_more_pages_each_naming_the_receipt() -> None:
    lines = [(f"物业服务费（{m}月）", f"2026-{m:02d}", 35120) for m in range(1, 13)] * 3
    data = replace(SAMPLE, lines=lines, total_fen=35120 * 36)
    reader = read(render_receipt_pdf(data))
    assert len(reader.pages) > 1
    for page in reader.pages:
        assert "No. DEMO1-2026-000123" in page.extract_text()
    assert fen_to_chinese_upper(35120 * 36) in text_of(reader)


def test_receipt_data_is_checked() -> None:
    with pytest.raises(ValueError, match="aware"):
        replace(SAMPLE, issued_at=datetime(2026, 11, 23, 12, 5))  # noqa: DTZ001
    with pytest.raises(ValueError, match="sum"):
        replace(SAMPLE, total_fen=123455)


def test_font_covers_the_receipt_and_the_demo_names() -> None:
    assert (
        missing_glyphs(FOOTER + "物业费收据壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整¥，。：（）")
        == set()
    )
    faker = Faker("zh_CN")
    provider = faker.provider("faker.providers.person")
    assert provider is not None
    names = "".join([*provider.last_names, *provider.first_names])  # type: ignore[attr-defined]
    assert missing_glyphs(names) == set()
    assert missing_glyphs("𠀀😀") == {"𠀀", "😀"}  # Ext-B and emoji are not in the subset
