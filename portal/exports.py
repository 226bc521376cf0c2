"""Spreadsheet downloads (CSV and XLSX) that open cleanly in Excel and WPS and cannot run
formulas smuggled in through user-entered text (CSV injection)."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from flask import Response, has_request_context, stream_with_context

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would treat as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class _Line:
    """A file-like sink that hands back what csv.writer wrote for one row."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def take(self) -> str:
        text, self.text = self.text, ""
        return text


def csv_rows(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The CSV as UTF-8 chunks, one per row, BOM first (Excel reads Chinese only with one)."""
    line = _Line()
    writer = csv.writer(line)
    writer.writerow(header)
    yield ("\ufeff" + line.take()).encode("utf-8")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        yield line.take().encode("utf-8")


def _streamed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    # Inside a request the generator keeps the request (and its database session) alive
    # until the last row is sent; outside one (a script, a test) it just runs.
    return stream_with_context(chunks) if has_request_context() else chunks


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A UTF-8 CSV download streamed row by row: `rows` may be a generator over a query of
    any size, and every row of it is sent (no cap)."""
    return Response(
        _streamed(csv_rows(header, rows)),
        content_type="text/csv; charset=utf-8",  # mimetype= would add a second charset
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def xlsx_response(
    filename: str,
    sheet: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    widths: Sequence[int] = (),
) -> Response:
    """A one-sheet Excel download built with openpyxl's write-only mode (rows go to a
    temporary file as they come, so memory stays flat however many there are), then sent in
    chunks: optional title row, bold frozen header, wrapped cells when widths are given."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    header_row = 2 if title else 1
    ws.freeze_panes = f"A{header_row + 1}"
    if title:
        ws.append([title])
    bold = Font(bold=True)
    cells = []
    for text in header:
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        cells.append(cell)
    ws.append(cells)
    wrap = Alignment(wrap_text=True, vertical="top") if widths else None
    for row in rows:
        if wrap is None:
            ws.append([safe_cell(value) for value in row])
            continue
        out = []
        for value in row:
            cell = WriteOnlyCell(ws, value=safe_cell(value))
            cell.alignment = wrap
            out.append(cell)
        ws.append(out)
    data = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (closed by chunks)
    book.save(data)
    data.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := data.read(64 * 1024):
                yield chunk
        finally:
            data.close()

    return Response(
        chunks(),
        mimetype=XLSX_MIME,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
