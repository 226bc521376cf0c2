"""Time billing's collection_stats (read from the monthly summary rows) against the same
figures re-added from the bills, as collection_stats did before the summaries, in one run.

    .venv/bin/python -m benchmarks.stats_summary --community BENCH1 --repeat 20
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from typing import Any


def from_bills(session: Any, community_id: int, since: date) -> tuple[list[Any], list[Any]]:
    """The pre-summary queries: 12 months of bills summed per month and per building."""
    from sqlalchemy import func, select

    from portal.billing.models import Bill
    from portal.communities.models import Unit

    billed = Bill.amount_fen - Bill.waived_fen
    collected = Bill.amount_fen - Bill.waived_fen - Bill.outstanding_fen
    months = session.execute(
        select(Bill.period, func.sum(billed), func.sum(collected))
        .where(Bill.community_id == community_id, Bill.period >= since)
        .group_by(Bill.period)
        .order_by(Bill.period)
    ).all()
    buildings = session.execute(
        select(Unit.building_id, func.sum(billed), func.sum(collected))
        .join(Unit, Unit.id == Bill.unit_id)
        .where(Bill.community_id == community_id, Bill.period >= since)
        .group_by(Unit.building_id)
    ).all()
    return months, buildings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--community", required=True)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from portal import create_app
    from portal.billing import queries
    from portal.billing.runs import add_months
    from portal.communities import service as communities
    from portal.extensions import db
    from portal.timeutil import local_today

    app = create_app()
    with app.app_context():
        community = communities.get_community(db.session, args.community)
        today = local_today()
        since = add_months(today.replace(day=1), -11)
        timings: dict[str, list[float]] = {"summary": [], "bills": []}
        for _ in range(args.repeat):
            started = time.perf_counter()
            stats = queries.collection_stats(db.session, community_id=community.id)
            timings["summary"].append(time.perf_counter() - started)
            started = time.perf_counter()
            months, _buildings = from_bills(db.session, community.id, since)
            timings["bills"].append(time.perf_counter() - started)
        same = [
            (m["month"], m["billed_fen"], m["collected_fen"])
            for m in stats["collection_rate_by_month"]
        ] == [(p.strftime("%Y-%m"), int(b), int(c)) for p, b, c in months]
        for name, values in timings.items():
            print(
                f"{name}: median {statistics.median(values) * 1000:.1f} ms, "
                f"max {max(values) * 1000:.1f} ms over {args.repeat}"
            )
        ratio = statistics.median(timings["bills"]) / statistics.median(timings["summary"])
        print(f"summary is {ratio:.1f}x faster; same monthly figures: {same}")


if __name__ == "__main__":
    main()
