"""Money as integer fen: parsing, the one rounding rule, and formatting. No floats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENTS = Decimal("0.01")
MAX_YUAN = Decimal(10) ** 12


def yuan_to_fen(text: str) -> int:
    """Parse '1,234.5' into 123450 fen; reject NaN, negatives and sub-fen precision."""
    try:
        value = Decimal(str(text).strip().replace(",", "").replace("¥", ""))
    except InvalidOperation as exc:
        raise ValueError("not an amount") from exc
    # Amounts beyond a trillion yuan are typing errors, and would overflow quantize().
    if not value.is_finite() or value < 0 or value >= MAX_YUAN or value != value.quantize(CENTS):
        raise ValueError("amount must be ≥ 0 with at most two decimals")
    return int(value * 100)


def line_amount_fen(quantity: Decimal, rate_yuan: Decimal) -> int:
    """The one place a bill line is rounded: half-up to the fen."""
    return int((quantity * rate_yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def round_fen(value: Decimal) -> int:
    """A Decimal number of fen rounded half-up to a whole fen (e.g. a rate applied to fen)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fen_to_yuan_str(fen: int) -> str:
    """123450 → '1234.50' (no symbol, no grouping): for inputs and CSV."""
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(int(fen)), 100)
    return f"{sign}{yuan}.{rest:02d}"


def format_fen(fen: int) -> str:
    """123450 → '¥1,234.50'."""
    yuan, rest = divmod(abs(int(fen)), 100)
    return f"{'-' if fen < 0 else ''}¥{yuan:,}.{rest:02d}"
