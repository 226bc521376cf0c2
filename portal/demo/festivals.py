"""Dates of the lunar festivals the demo's seasonal notices are about."""

from __future__ import annotations

from datetime import date

from lunardate import LunarDate


def spring_festival(year: int) -> date:
    """春节: the first day of the first lunar month of `year`."""
    return LunarDate(year, 1, 1).to_solar_date()


def mid_autumn(year: int) -> date:
    """中秋节: the fifteenth day of the eighth lunar month of `year`."""
    return LunarDate(year, 8, 15).to_solar_date()
