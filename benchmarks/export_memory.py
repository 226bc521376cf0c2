"""Stream a community's payments export (CSV or XLSX) to /dev/null and report its size.

Run it under `/usr/bin/time -v` for the peak memory: the export must stay flat however many
rows it has. Example (after `flask bench seed --units 20000 --months 60`):

    /usr/bin/time -v .venv/bin/python -m benchmarks.export_memory --community BENCH1 \\
        --start 2026-01-01 --end 2026-12-31 --format xlsx
"""

from __future__ import annotations

import argparse
import time
from datetime import date


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--community", required=True)
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    args = parser.parse_args()

    from portal import create_app
    from portal.communities import service as communities
    from portal.extensions import db
    from portal.payments import views

    app = create_app()
    with app.test_request_context("/"):
        community = communities.get_community(db.session, args.community)
        if community is None:
            raise SystemExit(f"community {args.community} does not exist")
        started = time.monotonic()
        response = views._export(community, args.format, args.start, args.end, None)
        size = 0
        for chunk in response.response:
            size += len(chunk)
        elapsed = time.monotonic() - started
    print(f"{args.format}: {size:,} bytes in {elapsed:.1f}s")


if __name__ == "__main__":
    main()
