import io

from flask import Flask
from openpyxl import load_workbook

from portal import exports


def test_csv_has_bom_and_neutralises_formulas(app: Flask) -> None:
    response = exports.csv_response(
        "x.csv", ["名称", "金额"], [['=HYPERLINK("x")', "-5"], ["保洁", 12]]
    )
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff名称,金额")
    assert "'=HYPERLINK" in text
    assert "'-5" in text
    assert 'filename="x.csv"' in response.headers["Content-Disposition"]


def test_xlsx_is_a_workbook_with_safe_cells(app: Flask) -> None:
    response = exports.xlsx_response("x.xlsx", "日记账", ["a"], [["@SUM(1)"], [3]])
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert sheet.title == "日记账"
    assert [c.value for c in sheet["A"]] == ["a", "'@SUM(1)", 3]


def test_csv_content_type_names_its_charset_once(app: Flask) -> None:
    response = exports.csv_response("x.csv", ["a"], [["b"]])
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Type"].count("charset") == 1
