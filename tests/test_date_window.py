"""The shared date window: far-future and far-past dates are refused in forms and JSON."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask

from portal.errors import DomainError
from portal.timeutil import check_date, date_window, in_date_window

ROOT = Path(__file__).resolve().parents[1]


def test_window_is_relative_to_the_pinned_day() -> None:
    assert date_window(date(2026, 11, 20)) == (date(2000, 1, 1), date(2036, 12, 31))
    assert date_window(date(2029, 12, 31)) == (date(2000, 1, 1), date(2039, 12, 31))
    today = date(2026, 11, 20)
    assert in_date_window(date(2026, 11, 21), today)
    assert in_date_window(datetime(2036, 12, 31, 23, 0, tzinfo=UTC), today)
    assert not in_date_window(date(9999, 12, 31), today)
    assert not in_date_window(date(1999, 12, 31), today)
    assert not in_date_window(date(1, 1, 1), today)


def test_check_date_raises_a_field_error(app: Flask) -> None:
    with app.test_request_context():
        assert check_date(date(2026, 12, 1), field="x") == date(2026, 12, 1)
        with pytest.raises(DomainError) as info:
            check_date(date(9999, 12, 31), field="preferred_on")
    assert info.value.field == "preferred_on"
    assert info.value.code == "out_of_range"


def test_every_date_field_in_forms_has_the_window() -> None:
    """A new DateField or DateTimeLocalField without DateWindow() fails here."""
    missing = []
    for path in sorted((ROOT / "portal").rglob("forms.py")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"= (DateField|DateTimeLocalField)\(", text):
            depth, end = 1, match.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            if "DateWindow()" not in text[match.start() : end]:
                missing.append(
                    f"{path.relative_to(ROOT)}:{text[: match.start()].count(chr(10)) + 1}"
                )
    assert missing == []
