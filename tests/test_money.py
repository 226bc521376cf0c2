from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.money import fen_to_yuan_str, format_fen, line_amount_fen, yuan_to_fen


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("0", 0),
        ("1", 100),
        ("1.5", 150),
        ("1,234.56", 123456),
        (" 12.30 ", 1230),
        ("¥8", 800),
    ],
)
def test_yuan_to_fen_parses(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["", "abc", "-1", "1.234", "NaN", "Infinity", "1e400", "--"])
def test_yuan_to_fen_rejects(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - message is user-facing Chinese
        yuan_to_fen(text)


def test_line_amount_rounds_half_up_once() -> None:
    assert line_amount_fen(Decimal("89.50"), Decimal("2.35")) == 21033  # 210.325 → 210.33
    assert line_amount_fen(Decimal("1"), Decimal("0.005")) == 1
    assert line_amount_fen(Decimal("3"), Decimal("0.0033")) == 1


def test_format() -> None:
    assert format_fen(123456) == "¥1,234.56"
    assert format_fen(-5) == "-¥0.05"
    assert fen_to_yuan_str(100005) == "1000.05"


@given(st.integers(min_value=0, max_value=10**12))
def test_round_trip(fen: int) -> None:
    assert yuan_to_fen(fen_to_yuan_str(fen)) == fen
