"""`make bench`: pages under load, the SQL behind the dashboard figures, and the jobs.

usage: python -m benchmarks.run [--database-url URL] [--units 2000] [--months 24]
           [--communities 1] [--community CODE] [--seed-with bench|demo] [--duration 10]
           [--connections 8] [--no-jobs] [--output docs/benchmarks.md]

1. Seeds the database unless it already holds data (any seeded database will do): with
   `flask bench seed` when that command exists and `--seed-with bench`, else the demo seed.
2. Starts gunicorn (2 workers) on loopback with CLEARFEE_BENCH_ROUTES=1, logs in the demo
   owner, collector and manager (TOTP from the demo secret) and drives each key page with wrk
   at a fixed concurrency; each page's req/s and p50/p95/p99 are given as a ratio to /healthz
   and to /_bench/baseline (one indexed query + the base template) measured in the same run,
   signed in as the same person (the base template differs by role: menus, badges).
3. On PostgreSQL: EXPLAIN (ANALYZE, BUFFERS) of every statement behind the manager's
   dashboard figures and the public collection statistics.
4. Jobs under /usr/bin/time -v: wall time and peak memory.
The table goes to the output file (prepended under its title) with command, machine and date.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import html.parser
import http.cookiejar
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "demo-pass-2026"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
COMMUNITY = "DEMO1"
SHANGHAI = ZoneInfo("Asia/Shanghai")
LUA = """
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    "RESULT %.3f %d %d %d %d %d %d\\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.requests, errors, summary.errors.status))
end
"""


def database_url(args: argparse.Namespace, tmp: Path) -> str:
    url = args.database_url or os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def flask(env: dict[str, str], *argv: str, timed: bool = False) -> tuple[str, dict[str, str]]:
    """Run a flask command; with `timed`, under /usr/bin/time -v (its figures returned)."""
    cmd = [str(BIN / "flask"), "--app", "portal", *argv]
    if timed:
        cmd = ["/usr/bin/time", "-v", *cmd]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    figures: dict[str, str] = {}
    for line in done.stderr.splitlines():
        if ":" in line and line.startswith("\t"):
            key, _, value = line.strip().rpartition(": ")
            figures[key] = value
    if done.returncode != 0 and not timed:
        raise SystemExit(f"flask {' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    figures["exit"] = str(done.returncode)
    return done.stdout, figures


def py(env: dict[str, str], code: str) -> str:
    """Run Python in an app context (flask shell has no -c)."""
    prelude = "from portal import create_app\napp = create_app()\napp.app_context().push()\n"
    done = subprocess.run(
        [str(BIN / "python"), "-c", prelude + code.replace(";", "\n")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"python failed:\n{done.stderr[-2000:]}")
    return done.stdout


def community_codes(env: dict[str, str]) -> list[str]:
    out = py(
        env,
        "from portal.communities.models import Community;"
        "from portal.extensions import db;"
        "print('CODES', *[c for (c,) in db.session.query(Community.code)])",
    )
    return out.split("CODES", 1)[1].split()


def pick_community(env: dict[str, str]) -> str:
    return "BENCH1" if "BENCH1" in community_codes(env) else "DEMO1"


def seed(env: dict[str, str], args: argparse.Namespace) -> str:
    flask(env, "db", "upgrade")
    if community_codes(env):
        return "existing data (not re-seeded)"
    commands, _ = flask(env, "--help")
    started = time.perf_counter()
    if args.seed_with == "bench" and re.search(r"^\s+bench\s", commands, re.M):
        flask(
            env,
            "bench",
            "seed",
            "--units",
            str(args.units),
            "--months",
            str(args.months),
            "--communities",
            str(args.communities),
            *(
                ["--service-units", str(args.service_units)]
                if args.service_units is not None
                else []
            ),
        )
        how = "flask bench seed"
    else:
        units = min(args.units, 20000)
        flask(
            env,
            "demo",
            "seed",
            "--communities",
            "1",
            "--units",
            str(units),
            "--months",
            str(args.months),
        )
        how = "flask demo seed (no `flask bench seed` yet)"
    return f"{how}, {time.perf_counter() - started:.0f} s"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(env: dict[str, str], port: int) -> Iterator[str]:
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "120",  # a slow page is measured, not killed at gunicorn's default 30 s
            "portal:create_app()",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a worker still inside a slow request
            proc.kill()
            proc.wait()


class _CsrfField(html.parser.HTMLParser):
    token = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("name") == "csrf_token":
            self.token = found.get("value") or ""


def login(base: str, username: str) -> str:
    """Log in through the form (CSRF and TOTP as a person would); the Cookie header."""
    import pyotp

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    parser = _CsrfField()
    parser.feed(opener.open(f"{base}/login").read().decode())
    fields = {"csrf_token": parser.token, "username": username, "password": PASSWORD}
    if username in ("demo-manager", "demo-collector", "demo-finance"):
        fields["totp"] = pyotp.TOTP(TOTP_SECRET).now()
    opener.open(f"{base}/login", data=urllib.parse.urlencode(fields).encode()).read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    check = urllib.request.Request(f"{base}/", headers={"Cookie": cookie})
    if "/logout" not in urllib.request.urlopen(check).read().decode():
        raise SystemExit(f"could not log in as {username}")
    return cookie


def api_token(base: str, username: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/v1/auth/token",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    return str(json.loads(urllib.request.urlopen(request).read())["token"])


def wrk(
    url: str,
    headers: dict[str, str],
    args: argparse.Namespace,
    lua: Path,
    *,
    connections: int | None = None,
    duration: int | None = None,
) -> dict[str, Any]:
    status = urllib.request.urlopen(urllib.request.Request(url, headers=headers)).status
    if status != 200:
        raise SystemExit(f"{url}: HTTP {status}, not measuring an error page")
    conns = connections or args.connections
    cmd = ["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", f"{duration or args.duration}s"]
    cmd += ["--timeout", "10s"]  # a slow page is measured, not counted as an error
    cmd += ["-s", str(lua)]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\S+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if not match:
        raise SystemExit(f"wrk gave no result for {url}:\n{out}")
    rps, p50, p95, p99, total, errors, non2xx = match.groups()
    return {
        "rps": float(rps),
        "p50": int(p50) / 1000,
        "p95": int(p95) / 1000,
        "p99": int(p99) / 1000,
        "requests": int(total),
        "errors": int(errors) + int(non2xx),
    }


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("wrk is missing: trying apt-get install -y wrk", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=False)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian package `wrk`)")


def pages(base: str, env: dict[str, str]) -> list[tuple[str, str, str, dict[str, str]]]:
    """(name, path, who, headers) of each page; `who` names the baseline it is compared with."""
    owner = {"Cookie": login(base, "demo-owner")}
    manager = {"Cookie": login(base, "demo-manager")}
    time.sleep(max(0.0, 30.5 - time.time() % 30))  # the next TOTP code: one use per code
    collector = {"Cookie": login(base, "demo-collector")}
    bearer = {"Authorization": f"Bearer {api_token(base, 'demo-owner')}"}
    bills = json.loads(
        urllib.request.urlopen(
            urllib.request.Request(f"{base}/api/v1/me/bills", headers=bearer)
        ).read()
    )
    listed = bills.get("bills") or bills.get("items") or []
    bill_id = listed[0]["id"]
    c = COMMUNITY
    baseline = f"/_bench/baseline?code={c}"
    return [
        ("/healthz", "/healthz", "anonymous", {}),
        ("baseline: 1 indexed query + base template", baseline, "anonymous", {}),
        ("baseline as the owner", baseline, "owner", owner),
        ("baseline as the manager", baseline, "manager", manager),
        ("baseline as the collector", baseline, "collector", collector),
        ("owner /bills", "/bills", "owner", owner),
        ("owner bill detail", f"/bills/{bill_id}", "owner", owner),
        ("/api/v1/me/bills", "/api/v1/me/bills", "anonymous", bearer),
        (f"/c/{c} anonymous (cached)", f"/c/{c}", "anonymous", {}),
        (f"/c/{c} logged in (not cached)", f"/c/{c}", "owner", owner),
        (f"/c/{c}/responsiveness anonymous (cached)", f"/c/{c}/responsiveness", "anonymous", {}),
        (f"/c/{c}/responsiveness logged in", f"/c/{c}/responsiveness", "owner", owner),
        (f"/finance/{c}", f"/finance/{c}", "manager", manager),
        ("manager dashboard", f"/collections/manager?community={c}", "manager", manager),
        ("KPI dashboard", f"/reports/dashboard?community={c}", "manager", manager),
        ("collector case list", "/collections/cases", "collector", collector),
        ("staff ticket board", f"/staff/tickets?community={c}", "manager", manager),
        ("API spending", f"/api/v1/communities/{c}/spending", "anonymous", {}),
        ("API stats", f"/api/v1/communities/{c}/stats", "anonymous", {}),
    ]


EXPLAIN_SCRIPT = r"""
import json, sys
from sqlalchemy import event, text
from portal import create_app
from portal.extensions import db
from portal.collections import dashboard
from portal.communities.models import Community
from portal.transparency import queries
from portal.timeutil import local_today, now_utc
from datetime import timedelta
app = create_app()
out = []


def plan_of(name, statement, params):
    cur = db.session.connection().connection.dbapi_connection.cursor()
    cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params)
    plan = cur.fetchone()[0][0]
    top = plan["Plan"]
    out.append({
        "figure": name,
        "sql": " ".join(statement.split())[:160],
        "ms": plan["Execution Time"],
        "node": top["Node Type"],
        "rows": top.get("Actual Rows"),
        "shared_hit": top.get("Shared Hit Blocks", 0),
        "shared_read": top.get("Shared Read Blocks", 0),
    })


with app.app_context():
    community = db.session.query(Community).filter_by(code=sys.argv[1]).one()
    day = local_today()
    s, cid = db.session, community.id
    since = now_utc() - timedelta(days=30)
    figures = {
        "tier funnel": lambda: dashboard.tier_funnel(s, community_id=cid),
        "recovery by tier": lambda: dashboard.recovery(s, community_id=cid, group="tier"),
        "aging table": lambda: dashboard.aging_table(s, community_id=cid, day=day),
        "workload (30 days)": lambda: dashboard.workload(s, community_id=cid, since=since),
        "to-do counts": lambda: dashboard.todo_counts(s, community_ids={cid}, day=day),
        "collection stats (public)": lambda: queries.collection_stats(s, community_id=cid),
    }
    for name, run in figures.items():
        seen = []
        def grab(conn, cursor, statement, params, context, many):
            seen.append((statement, params))
        event.listen(db.engine, "before_cursor_execute", grab)
        run()
        event.remove(db.engine, "before_cursor_execute", grab)
        for statement, params in seen:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            plan_of(name, statement, params)
        db.session.rollback()
    # The fastest SQL a person would write for the same figure, and for collection stats
    # also the re-adding of the bills that the summary rows replaced.
    since = (day.replace(day=1) - timedelta(days=335)).replace(day=1)
    hand = [
        ("tier funnel", "SELECT tier, count(*), sum(overdue_fen), sum(held_fen) "
         "FROM collection_cases WHERE community_id = %(c)s AND status <> 'closed' "
         "GROUP BY tier"),
        ("aging table", "SELECT oldest_due_date, overdue_fen, held_fen FROM collection_cases "
         "WHERE community_id = %(c)s AND status <> 'closed'"),
        ("collection stats (public)", "SELECT period, sum(billed_fen), sum(collected_fen) "
         "FROM collection_summaries WHERE community_id = %(c)s AND period >= %(since)s "
         "GROUP BY period"),
        ("collection stats, re-added from the bills", "SELECT period, "
         "sum(amount_fen - waived_fen), sum(amount_fen - waived_fen - outstanding_fen) "
         "FROM bills WHERE community_id = %(c)s AND period >= %(since)s GROUP BY period"),
    ]
    for name, statement in hand:
        plan_of(name + " — hand-written", statement, {"c": cid, "since": since})
    db.session.rollback()
print("EXPLAIN" + json.dumps(out))
"""


def explain(env: dict[str, str]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(BIN / "python"), "-c", EXPLAIN_SCRIPT, COMMUNITY],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    marker = done.stdout.rfind("EXPLAIN")
    if done.returncode != 0 or marker < 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return []
    return list(json.loads(done.stdout[marker + len("EXPLAIN") :]))


EXPORT_SCRIPT = r"""
import sys
from portal import create_app
from portal.extensions import db
from portal.accounts.models import User
import pyotp
app = create_app({"WTF_CSRF_ENABLED": False})
client = app.test_client()
import time
for _ in range(3):  # a code is good once: the previous export may have just used this one
    totp = pyotp.TOTP("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").now()
    signed_in = client.post(
        "/login", data={"username": "demo-finance", "password": "demo-pass-2026", "totp": totp}
    )
    if signed_in.status_code == 302:
        break
    time.sleep(31 - time.time() % 30)
start, end = sys.argv[2], sys.argv[3]
response = client.get(
    f"/finance/{sys.argv[1]}/payments?format={sys.argv[4]}&start={start}&end={end}",
    buffered=False,
)
size = sum(len(chunk) for chunk in response.response)
print("bytes", size, "status", response.status_code)
assert response.status_code == 200, response.status_code
"""


def jobs(env: dict[str, str]) -> list[tuple[str, dict[str, str], str]]:
    today = dt.datetime.now(SHANGHAI).date()
    next_month = (today.replace(day=1) + dt.timedelta(days=32)).strftime("%Y-%m")
    year_ago = (today - dt.timedelta(days=365)).isoformat()
    tomorrow = today + dt.timedelta(days=1)
    # The outbox at fixed local instants after the run: tonight's quiet hours (the backlog is
    # deferred) and tomorrow morning (it is delivered), whatever the time the bench runs at.
    night = dt.datetime.combine(tomorrow, dt.time(22, 30), tzinfo=SHANGHAI).isoformat()
    morning = dt.datetime.combine(
        tomorrow + dt.timedelta(days=1), dt.time(10, 0), tzinfo=SHANGHAI
    ).isoformat()
    runs = [
        ("billing generate (one month)", ["billing", "generate", "--community", COMMUNITY,
                                          "--period", next_month]),
        ("collections run, first (opens the cases)", ["collections", "run", "--quiet",
                                                      "--date", today.isoformat()]),
        ("collections run, the next day", ["collections", "run", "--quiet",
                                           "--date", tomorrow.isoformat()]),
        ("notify send, 22:30 (quiet hours)", ["notify", "send", "--now", night]),
        ("notify send, 10:00 the day after", ["notify", "send", "--now", morning]),
        ("ledger check --community", ["ledger", "check", "--community", COMMUNITY]),
        ("transparency verify", ["transparency", "verify"]),
    ]  # fmt: skip
    results = []
    for name, argv in runs:
        out, figures = flask(env, *argv, timed=True)
        results.append((name, figures, out.strip().splitlines()[-1][:80] if out.strip() else ""))
    cmd = ["/usr/bin/time", "-v", str(BIN / "python"), "-c", EXPORT_SCRIPT, COMMUNITY]
    for fmt in ("csv", "xlsx"):
        done = subprocess.run(
            [*cmd, year_ago, today.isoformat(), fmt],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        figures = {}
        for line in done.stderr.splitlines():
            if line.startswith("\t") and ":" in line:
                key, _, value = line.strip().rpartition(": ")
                figures[key] = value
        figures["exit"] = str(done.returncode)
        name = f"payments export, a year ({fmt.upper()})"
        results.append((name, figures, done.stdout.strip()[-60:]))
    return results


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GB RAM"
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}"


def counts(env: dict[str, str]) -> str:
    out = py(
        env,
        "from sqlalchemy import func, select;"
        "from portal.extensions import db;"
        "from portal.billing.models import Bill;"
        "from portal.communities.models import Unit;"
        "from portal.tickets.models import Ticket;"
        "print('COUNTS', db.session.scalar(select(func.count(Unit.id))),"
        " db.session.scalar(select(func.count(Bill.id))),"
        " db.session.scalar(select(func.count(Ticket.id))))",
    )
    units, bills, tickets = out.split("COUNTS")[1].split()
    return f"{int(units):,} units, {int(bills):,} bills, {int(tickets):,} tickets"


def report(
    args: argparse.Namespace,
    url: str,
    seeded: str,
    data: str,
    rows: list[tuple[str, dict[str, Any]]],
    plans: list[dict[str, Any]],
    job_rows: list[tuple[str, dict[str, str], str]],
) -> str:
    backend = url.split(":")[0].split("+")[0]
    lines = [
        f"## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — {backend}, {data}",
        "",
        f"Command: `{' '.join(['python -m benchmarks.run', *sys.argv[1:]])}`  ",
        f"Machine: {machine()}  ",
        f"Data: {seeded}; pages and jobs on {COMMUNITY}. "
        + (
            f"Load: wrk, 2 threads, {args.connections} connections, "
            f"{args.duration} s per page (then 3 s at 1 connection), gunicorn 2 workers on "
            "loopback."
            if rows
            else "Jobs only (`--jobs-only`)."
        ),
    ]
    if rows:
        lines += page_table(rows)
    lines += plan_table(plans) + job_table(job_rows)
    return "\n".join(lines) + "\n"


def page_table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    health = rows[0][1]
    baseline = rows[1][1]
    lines = [
        "",
        "| page | req/s | p50 ms | p95 ms | p99 ms | × /healthz req/s | × baseline req/s "
        "| × baseline, same sign-in | p50 / p95 ms, 1 connection |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    baselines = {r.get("who"): r for name, r in rows if name.startswith("baseline")}
    for name, r in rows:
        flag = f" ({r['errors']} errors)" if r["errors"] else ""
        same = baselines.get(r.get("who"), baseline)
        lines.append(
            f"| {name}{flag} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | "
            f"{r['p99']:.1f} | {r['rps'] / health['rps']:.0%} | "
            f"{r['rps'] / baseline['rps']:.0%} | {r['rps'] / same['rps']:.0%} | "
            f"{r.get('p50_1', 0):.1f} / {r.get('p95_1', 0):.1f} |"
        )
    return lines


def plan_table(plans: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    if plans:
        lines += [
            "",
            "SQL behind the dashboard figures (`EXPLAIN (ANALYZE, BUFFERS)`, execution time):",
            "",
            "| figure | statement | ms | top node | rows | buffers hit/read |",
            "|---|---|---:|---|---:|---:|",
        ]
        for p in plans:
            sql = p["sql"].replace("|", "\\|")
            lines.append(
                f"| {p['figure']} | `{sql}` | {p['ms']:.2f} | {p['node']} | {p['rows']} | "
                f"{p['shared_hit']}/{p['shared_read']} |"
            )
    return lines


def job_table(job_rows: list[tuple[str, dict[str, str], str]]) -> list[str]:
    lines: list[str] = []
    if job_rows:
        lines += ["", "| job | wall | peak RSS MB | exit | output |", "|---|---:|---:|---:|---|"]
        for name, figures, out in job_rows:
            wall = figures.get("Elapsed (wall clock) time (h:mm:ss or m:ss)", "?")
            rss = int(figures.get("Maximum resident set size (kbytes)", "0")) / 1024
            tail = out.replace("|", "/")
            lines.append(f"| {name} | {wall} | {rss:.0f} | {figures.get('exit')} | {tail} |")
    return lines


def write(output: Path, section: str) -> None:
    title = "# Benchmarks\n"
    old = output.read_text() if output.exists() else title
    body = old[len(title) :] if old.startswith(title) else old
    intro_end = body.find("\n## ")
    intro, rest = (body[:intro_end], body[intro_end:]) if intro_end >= 0 else (body, "")
    output.write_text(title + intro.rstrip() + "\n\n" + section + rest)


def measure_pages(
    env: dict[str, str], args: argparse.Namespace, tmp: Path
) -> list[tuple[str, dict[str, Any]]]:
    """Each key page under wrk at fixed concurrency, then alone (one connection)."""
    lua = tmp / "report.lua"
    lua.write_text(LUA)
    rows: list[tuple[str, dict[str, Any]]] = []
    with gunicorn(env, free_port()) as base:
        for name, path, who, headers in pages(base, env):
            result = {**wrk(base + path, headers, args, lua), "who": who}
            # The same page unloaded (one connection): a single visitor's latency.
            alone = wrk(base + path, headers, args, lua, connections=1, duration=3)
            result["p50_1"], result["p95_1"] = alone["p50"], alone["p95"]
            print(f"{name}: {result}", file=sys.stderr)
            rows.append((name, result))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--communities", type=int, default=1, help="bench seed: share units out")
    parser.add_argument(
        "--community", default=None, help="the community measured (default BENCH1, else DEMO1)"
    )
    parser.add_argument("--seed-with", choices=("bench", "demo"), default="bench")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per page")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--no-jobs", action="store_true")
    parser.add_argument("--jobs-only", action="store_true", help="no pages, no SQL plans")
    parser.add_argument(
        "--service-units", type=int, default=None, help="bench seed: service history's size"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    ensure_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="clearfee-bench-"))
    url = database_url(args, tmp)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CLEARFEE_ENV": "demo",
        "CLEARFEE_BENCH_ROUTES": "1",
        "UPLOAD_FOLDER": str(tmp / "uploads"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret"),
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "FLASK_APP": "portal",
    }
    seeded = seed(env, args)
    global COMMUNITY
    COMMUNITY = args.community or pick_community(env)
    data = counts(env)
    print(f"data: {data} ({seeded})", file=sys.stderr)
    rows = [] if args.jobs_only else measure_pages(env, args, tmp)
    plans = explain(env) if url.startswith("postgresql") and not args.jobs_only else []
    job_rows = [] if args.no_jobs else jobs(env)
    section = report(args, url, seeded, data, rows, plans, job_rows)
    print(section)
    write(args.output, section)


if __name__ == "__main__":
    main()
