"""Benchmarks: `make bench`. Each figure is also given as a ratio to a baseline measured in
the same run (a bare /healthz request), so numbers from a shared machine stay comparable.

usage: python -m benchmarks.run [--units 600] [--months 24] [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from portal import create_app
from portal.accounts import service as accounts
from portal.billing import ledger
from portal.billing import queries as billing_queries
from portal.extensions import db
from portal.timeutil import local_today, now_utc


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and p95 wall time of fn in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=600, help="units in the community")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="clearfee-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "PASSWORD_HASH_TIME_COST": 1,
            "PASSWORD_HASH_MEMORY_COST": 1024,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "UPLOAD_FOLDER": str(tmp / "uploads"),
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        from portal.demo import service as demo

        started = time.perf_counter()
        demo.seed(
            db.session,
            communities_count=1,
            units_per_community=args.units,
            months=args.months,
            now=now_utc(),
        )
        db.session.commit()
        seed_s = time.perf_counter() - started
        from portal.billing.models import Bill
        from portal.communities.models import Community

        community_id = db.session.scalar(select(Community.id).where(Community.code == "DEMO1"))
        bills = db.session.scalar(select(db.func.count(Bill.id)))
        owner = accounts.get_user(db.session, "demo-owner")
        owner.password_hash = accounts.hash_password("bench-pass-2026")
        db.session.commit()

    client = app.test_client()
    client.post("/login", data={"username": "demo-owner", "password": "bench-pass-2026"})
    token = client.post(
        "/api/v1/auth/token", json={"username": "demo-owner", "password": "bench-pass-2026"}
    ).json["token"]
    auth = {"Authorization": f"Bearer {token}"}
    rows: list[tuple[str, float, float]] = []

    def measure(name: str, fn: Callable[[], object], repeat: int = args.repeat) -> None:
        result = fn()
        status = getattr(result, "status_code", 200)
        if status != 200:
            raise SystemExit(f"{name}: HTTP {status}, not measuring an error page")
        median, p95 = timed(fn, repeat)
        rows.append((name, median, p95))

    measure("GET /healthz (baseline)", lambda: client.get("/healthz"))
    measure("GET /bills (owner page)", lambda: client.get("/bills"))
    measure("GET /api/v1/me/bills", lambda: client.get("/api/v1/me/bills", headers=auth))
    with app.app_context():
        measure(
            "collection_stats (12 months, SQL)",
            lambda: billing_queries.collection_stats(
                db.session, community_id=community_id, today=local_today()
            ),
            repeat=max(5, args.repeat // 10),
        )
        measure("flask ledger check (whole ledger)", lambda: ledger.check(db.session), repeat=3)
    baseline = rows[0][1]
    print(
        f"# Clearfee benchmarks — {bills} bills, {args.units} units, {args.months} months, "
        f"{url.split(':')[0]}; demo seed took {seed_s:.1f}s"
    )
    print("| what | median ms | p95 ms | × baseline |")
    print("|---|---:|---:|---:|")
    for name, median, p95 in rows:
        print(f"| {name} | {median:.2f} | {p95:.2f} | {median / baseline:.1f} |")


if __name__ == "__main__":
    main()
