"""Time the responsiveness statistics on a large tickets table (not a test; run by hand).

usage:
  python -m tests.tickets.bench_stats --url sqlite:////tmp/bench.db --tickets 1000000
  python -m tests.tickets.bench_stats --url postgresql://postgres@127.0.0.1/bench \
      --tickets 1000000 --communities 50

It REBUILDS the schema of the database it is given: point it at a scratch database only.
Rows are generated inside the database (generate_series / a recursive CTE), so a million
tickets take seconds, then the same service the page and the API call is timed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from sqlalchemy import text

from portal import create_app
from portal.communities import service as communities
from portal.extensions import db
from portal.tickets import setup, stats
from tests.conftest import TEST_SETTINGS

PG_FILL = """
INSERT INTO tickets (community_id, number, category_id, urgency, status, channel, location_type,
  area, description, preferred_slot, contact_phone, period, created_at, updated_at,
  first_response_due_at, resolution_due_at, acknowledged_at, resolved_at, first_response_s,
  resolution_s, first_response_met, resolution_met, reopen_count)
SELECT c.community_id, 'B' || g, c.category_id, 'normal',
  CASE WHEN g % 50 = 0 THEN 'in_progress' WHEN g % 97 = 0 THEN 'cancelled' ELSE 'closed' END,
  'web', 'in_home', '', 'bench', 'any', '',
  to_char((x.ts AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'), x.ts, x.ts,
  x.ts + interval '4 hours', x.ts + interval '48 hours', x.ts + x.fr * interval '1 second',
  CASE WHEN g % 50 = 0 THEN NULL ELSE x.ts + x.res * interval '1 second' END, x.fr,
  CASE WHEN g % 50 = 0 THEN NULL ELSE x.res END, x.fr <= 14400,
  CASE WHEN g % 50 = 0 THEN NULL ELSE x.res <= 172800 END, CASE WHEN g % 20 = 0 THEN 1 ELSE 0 END
FROM generate_series(1, :n) g
CROSS JOIN LATERAL (
  SELECT g AS gg, (now() AT TIME ZONE 'UTC') - random() * interval '400 days' AS ts,
         (random() * random() * 30000)::int AS fr, (random() * random() * 400000)::int AS res
) x
JOIN bench_cats c ON c.rn = g % :k
"""

SQLITE_FILL = """
INSERT INTO tickets (community_id, number, category_id, urgency, status, channel, location_type,
  area, description, preferred_slot, contact_phone, period, created_at, updated_at,
  first_response_due_at, resolution_due_at, acknowledged_at, resolved_at, first_response_s,
  resolution_s, first_response_met, resolution_met, reopen_count)
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n),
x AS (SELECT n, datetime('now', '-' || (abs(random()) % 34560000) || ' seconds') AS ts,
             abs(random()) % 30000 * (abs(random()) % 100) / 100 AS fr,
             abs(random()) % 400000 * (abs(random()) % 100) / 100 AS res FROM g)
SELECT c.community_id, 'B' || n, c.category_id, 'normal',
  CASE WHEN n % 50 = 0 THEN 'in_progress' WHEN n % 97 = 0 THEN 'cancelled' ELSE 'closed' END,
  'web', 'in_home', '', 'bench', 'any', '', strftime('%Y-%m', ts, '+8 hours'), ts, ts,
  datetime(ts, '+4 hours'), datetime(ts, '+48 hours'), datetime(ts, '+' || fr || ' seconds'),
  CASE WHEN n % 50 = 0 THEN NULL ELSE datetime(ts, '+' || res || ' seconds') END, fr,
  CASE WHEN n % 50 = 0 THEN NULL ELSE res END, fr <= 14400,
  CASE WHEN n % 50 = 0 THEN NULL ELSE res <= 172800 END, CASE WHEN n % 20 = 0 THEN 1 ELSE 0 END
FROM x JOIN bench_cats c ON c.rn = n % :k
"""

RATINGS = """
INSERT INTO ticket_ratings (ticket_id, score, comment, channel, created_at)
SELECT id, 1 + (id % 5), '', 'owner', created_at FROM tickets
WHERE resolved_at IS NOT NULL AND id % 5 <> 0
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--communities", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    url = args.url.replace("postgresql://", "postgresql+psycopg://", 1)
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        pg = db.engine.dialect.name == "postgresql"
        if pg:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            db.drop_all()
        db.create_all()
        now = datetime.now(UTC)
        made = [
            communities.create_community(db.session, code=f"B{i}", name=f"压测{i}", now=now)
            for i in range(args.communities)
        ]
        db.session.execute(
            text("CREATE TABLE bench_cats (rn INTEGER, community_id INTEGER, category_id INTEGER)")
        )
        rn = 0
        for community in made:
            for category in setup.list_categories(db.session, community):
                db.session.execute(
                    text("INSERT INTO bench_cats VALUES (:rn, :c, :k)"),
                    {"rn": rn, "c": community.id, "k": category.id},
                )
                rn += 1
        db.session.commit()
        started = time.perf_counter()
        db.session.execute(text(PG_FILL if pg else SQLITE_FILL), {"n": args.tickets, "k": rn})
        db.session.execute(text(RATINGS))
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        print(
            f"{db.engine.dialect.name}: {args.tickets} tickets in {args.communities} "
            f"communities, loaded in {time.perf_counter() - started:.1f}s"
        )
        target = made[0]
        per = db.session.scalar(
            text("SELECT count(*) FROM tickets WHERE community_id = :c"), {"c": target.id}
        )
        for months, detail in ((12, False), (12, True), (3, False)):
            timings = []
            for _ in range(args.repeat):
                db.session.expire_all()
                t0 = time.perf_counter()
                report = stats.responsiveness(
                    db.session, community=target, months=months, now=now, detail=detail
                )
                timings.append((time.perf_counter() - t0) * 1000)
            print(
                f"  community with {per} tickets, months={months} "
                f"{'page (with category x month)' if detail else 'API'}: "
                f"median {statistics.median(timings):.0f} ms, best {min(timings):.0f} ms "
                f"(overall {report.overall.tickets} tickets, median resolution "
                f"{report.overall.median_resolution_h} h)"
            )


if __name__ == "__main__":
    main()
