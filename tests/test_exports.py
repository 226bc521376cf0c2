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


def test_csv_streams_rows_as_they_come(app: Flask) -> None:
    """Rows are pulled from the generator as the response is sent, not collected first."""
    pulled: list[int] = []

    def rows():  # type: ignore[no-untyped-def]
        for n in range(3):
            pulled.append(n)
            yield [n]

    with app.test_request_context("/"):
        response = exports.csv_response("x.csv", ["n"], rows())
        assert response.is_streamed
        assert pulled == []
        chunks = iter(response.response)
        assert next(chunks).decode("utf-8") == "\ufeffn\r\n"
        assert next(chunks) == b"0\r\n"
        assert pulled == [0]
        assert b"".join(chunks) == b"1\r\n2\r\n"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_xlsx_keeps_title_header_and_every_row(app: Flask) -> None:
    rows = ([n, f"行{n}"] for n in range(2_500))
    response = exports.xlsx_response("x.xlsx", "s", ["n", "t"], rows, title="标题", widths=(5, 9))
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "标题"
    assert values[1] == ("n", "t")
    assert len(values) == 2 + 2_500
    assert sheet.freeze_panes == "A3"


def test_csv_content_type_names_its_charset_once(app: Flask) -> None:
    response = exports.csv_response("x.csv", ["a"], [["b"]])
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Type"].count("charset") == 1
