from datetime import UTC, date, datetime

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
