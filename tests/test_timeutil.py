from datetime import UTC, date, datetime
from typing import Any

import pytest

from portal.timeutil import DEFAULT_TZ, local_today, now_utc, to_local


def test_now_is_aware_utc() -> None:
    assert now_utc().tzinfo is UTC


def test_local_today_crosses_midnight_in_shanghai() -> None:
    instant = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)  # 00:30 on the 23rd in Shanghai
    assert local_today(DEFAULT_TZ, now=instant) == date(2026, 11, 23)


def test_naive_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_local(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_the_app_clock_is_pinned_and_movable(app: Any, clock: Any) -> None:
    assert now_utc() == clock.now
    later = clock.advance(days=3)
    assert now_utc() == later
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    assert local_today() == date(2030, 1, 1)


def test_a_pinned_clock_may_be_an_iso_string(app: Any) -> None:
    app.config["CLOCK_NOW"] = "2026-11-20T10:00:00+08:00"
    assert now_utc() == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    app.config["CLOCK_NOW"] = "2026-11-20T10:00:00"
    with pytest.raises(ValueError, match="naive"):
        now_utc()
