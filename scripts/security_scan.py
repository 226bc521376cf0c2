#!/usr/bin/env python3
"""`make security-scan`: sqlmap over every form and API parameter, as an owner and as staff.

Starts the portal on loopback (a fresh SQLite demo, CLEARFEE_ENV=demo), logs in as
demo-owner and as demo-manager (with the demo TOTP code), and runs Debian's sqlmap:

- web: `--crawl --forms` from the home page with each session's cookie (log-out and the
  language switch excluded): every GET parameter of a crawled link and every form field;
- API: one run per operation of /api/v1/openapi.json with each actor's bearer token, every
  query parameter, path id and JSON body field marked for injection.

Exits 1 when sqlmap reports an injection point, 2 when the set-up fails. Loopback only.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pyotp

ROOT = Path(__file__).resolve().parents[1]
FLASK = str(ROOT / ".venv" / "bin" / "flask")
PASSWORD = "demo-pass-2026"  # noqa: S105 - the published demo password (DESIGN.md §3)
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 - the demo secret
ACTORS = ("demo-owner", "demo-manager")
FOUND = re.compile(r"sqlmap identified the following injection point|is vulnerable", re.I)
IGNORE = "--ignore-code=400,401,403,404,409,422,429"
SQLMAP_COMMON = [
    "--batch",
    "--level=1",
    "--risk=1",
    "--technique=BEUS",  # time-based blind would multiply the run time; see docs/security.md
    "--disable-coloring",
    "--skip-waf",
    "--timeout=15",
    "--retries=1",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_portal(work: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CLEARFEE_ENV": "demo",
        "DATABASE_URL": f"sqlite:///{work / 'scan.db'}",
        "SECRET_KEY": "security-scan",
        "UPLOAD_FOLDER": str(work / "uploads"),
        "FLASK_APP": "portal",
        "LOGIN_RATE_LIMIT": "100000 per minute",
        "PAYMENT_RATE_LIMIT": "100000 per minute",
    }
    for args in (["db", "upgrade"], ["demo", "seed", "--communities", "1", "--units", "20"]):
        subprocess.run([FLASK, *args], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
    log = (work / "portal.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own server on loopback
        [FLASK, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(300):  # up to a minute on a loaded machine
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the portal did not start; see " + str(work / "portal.log"))


def web_cookie(base: str, username: str) -> str:
    """Log in through the form (CSRF token, TOTP for staff); the session cookie header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', page
    )
    if token is None:
        raise SystemExit("no CSRF token on the log-in page")
    fields = {"csrf_token": token.group(1), "username": username, "password": PASSWORD}
    if username != "demo-owner":
        fields["totp"] = pyotp.TOTP(TOTP_SECRET).now()
    opener.open(base + "/login", data=urllib.parse.urlencode(fields).encode())
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    home = opener.open(base + "/").read().decode()
    if "logout" not in home:
        raise SystemExit(f"log-in as {username} failed")
    return cookie


def api_token(base: str, username: str) -> str:
    body = {"username": username, "password": PASSWORD}
    if username != "demo-owner":
        time.sleep(31 - time.time() % 30)  # a fresh TOTP step: the web log-in used this one
        body["totp"] = pyotp.TOTP(TOTP_SECRET).now()
    request = urllib.request.Request(  # noqa: S310 - loopback
        base + "/api/v1/auth/token",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310
        return str(json.load(response)["token"])


def example(schema: dict, components: dict) -> object:
    if "$ref" in schema:
        return example(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if kind == "object":
        return {k: example(v, components) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(schema.get("items", {}), components)]
    if kind == "integer":
        return 1
    if kind == "boolean":
        return True
    return "2026-01-01" if schema.get("format") == "date" else "1"


def api_targets(base: str) -> list[tuple[str, str, str | None]]:
    """(method, url with `*` markers, JSON body or None) for every operation."""
    with urllib.request.urlopen(base + "/api/v1/openapi.json") as response:  # noqa: S310
        doc = json.load(response)
    components = doc.get("components", {}).get("schemas", {})
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post"):
                continue
            url = base + "/api/v1" + re.sub(r"\{[^}]+\}", "1*", path)
            query = {
                p["name"]: str(example(p.get("schema", {}), components))
                for p in op.get("parameters", [])
                if p.get("in") == "query"
            }
            if query:
                url += "?" + urllib.parse.urlencode(query)
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            data = json.dumps(example(body["schema"], components)) if body else None
            out.append((method.upper(), url, data))
    return out


TESTED = re.compile(r"testing '|heuristic \(basic\) test shows|do not appear to be injectable")


def sqlmap(args: list[str], log: Path) -> bool:
    """Run sqlmap; True when it reports an injection point. A run that tested nothing (bad
    options, a lost session) stops the scan instead of passing silently."""
    done = subprocess.run(  # noqa: S603 - Debian's sqlmap, argument list, no shell
        [shutil.which("sqlmap") or "sqlmap", *SQLMAP_COMMON, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    with log.open("a") as fh:
        fh.write(f"\n===== sqlmap {' '.join(args)}\n{done.stdout}\n{done.stderr}\n")
    if FOUND.search(done.stdout):
        return True
    if not TESTED.search(done.stdout):
        raise SystemExit(f"sqlmap tested nothing ({' '.join(args[:2])}); see {log}")
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crawl", type=int, default=2, help="web crawl depth")
    parser.add_argument("--skip-web", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    options = parser.parse_args()
    if shutil.which("sqlmap") is None:
        print("sqlmap not found: apt-get install sqlmap", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="clearfee-scan-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    portal = start_portal(work, port)
    log = work / "sqlmap.log"
    findings: list[str] = []
    runs = 0
    try:
        for username in ACTORS if not options.skip_web else ():
            cookie = web_cookie(base, username)
            runs += 1
            if sqlmap(
                [
                    "-u",
                    base + "/",
                    f"--cookie={cookie}",
                    f"--crawl={options.crawl}",
                    "--forms",
                    # Ending sessions or tokens would log the scan itself out.
                    "--crawl-exclude=logout|/lang/|/static/|/sessions/|/tokens/",
                    # The crawled forms carry the session's CSRF token, valid for an hour;
                    # with --csrf-token sqlmap would skip every GET target whose page has no
                    # form. The token itself is not a parameter to test.
                    "--skip=csrf_token",
                    f"--output-dir={work / 'out'}",
                ],
                log,
            ):
                findings.append(f"web as {username}")
        for username in ACTORS if not options.skip_api else ():
            token = api_token(base, username)
            for method, url, data in api_targets(base):
                bearer = f"--header=Authorization: Bearer {token}"
                # The sample values are often refused (404 unknown id, 422): test anyway.
                args = ["-u", url, f"--method={method}", bearer, "--threads=4", IGNORE]
                if data is not None:
                    args += [f"--data={data}", "--header=Content-Type: application/json"]
                runs += 1
                if sqlmap([*args, f"--output-dir={work / 'out'}"], log):
                    findings.append(f"{method} {url} as {username}")
    finally:
        portal.terminate()
        portal.wait(timeout=30)
    print(f"sqlmap runs: {runs}; log: {log}")
    if findings:
        print("INJECTION FOUND:\n  " + "\n  ".join(findings))
        return 1
    print("no injection point found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
