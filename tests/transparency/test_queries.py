from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.orm import Session

from portal.transparency import queries


def _billing(stats: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(collection_stats=lambda session, *, community_id: stats)


def test_absent_billing_gives_empty_sections(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "billing_service", lambda: None)
    assert queries.collection_stats(session, community_id=1) == {
        "collection_rate_by_month": [],
        "by_building": [],
    }
    assert queries.fee_standards_in_force(session, community_id=1, on=None) == []  # type: ignore[arg-type]
    assert queries.owner_fee_for_year(session, unit_id=1, year=2026) is None
    assert queries.collected_in_year(session, community_id=1, year=2026) is None
    # A billing module without the function is treated the same way.
    monkeypatch.setattr(queries, "billing_service", lambda: SimpleNamespace())
    assert queries.collection_stats(session, community_id=1)["by_building"] == []


def test_small_buildings_are_suppressed_even_if_billing_forgets(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        queries,
        "billing_service",
        lambda: _billing(
            {
                "collection_rate_by_month": [
                    {"month": "2025-12", "billed_fen": 100, "collected_fen": 90, "rate": 0.9},
                    {"month": "2026-01", "billed_fen": 200, "collected_fen": 150, "rate": 0.75},
                ],
                "by_building": [
                    {"building": "1号楼", "units": 5, "rate": 0.8},
                    {"building": "2号楼", "units": 4, "rate": 0.25},
                ],
            }
        ),
    )
    stats = queries.collection_stats(session, community_id=1)
    assert [b["rate"] for b in stats["by_building"]] == [0.8, None]
    assert queries.collected_in_year(session, community_id=1, year=2026) == 150


@pytest.mark.parametrize(
    ("value", "fraction", "percent"),
    [
        (0.9123, 0.9123, Decimal("91.2")),
        (Decimal("0.88"), 0.88, Decimal("88.0")),
        ("91.5", 0.915, Decimal("91.5")),
        (None, None, None),
        ("nan", None, None),
        (True, None, None),
    ],
)
def test_rates(value: Any, fraction: Any, percent: Any) -> None:
    assert queries.rate_number(value) == fraction
    assert queries.as_percent(value) == percent
