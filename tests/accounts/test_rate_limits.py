"""Rate limits hold across workers (shared storage) and behind a proxy (trusted hops only)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests import factories

REDIS = "redis://127.0.0.1:6379"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def _user(app: Flask, role: str = "owner") -> str:
    with app.app_context():
        from portal.extensions import db

        user = factories.make_user(db.session, role=role)
        db.session.commit()
        return user.username


def _fail(app: Flask, username: str, **environ: Any) -> int:
    client = app.test_client()
    response = client.post(
        "/login", data={"username": username, "password": "wrong"}, environ_base=environ
    )
    return response.status_code


def _gunicorn(database_url: str, tmp_path: Path, storage: str) -> tuple[Any, str, Any]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "rate-limit-test",
        "CLEARFEE_ENV": "test",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_COST": "1024",
        "LOGIN_RATE_LIMIT": "5 per minute",
        "RATELIMIT_STORAGE_URI": storage,
        "RATELIMIT_KEY_PREFIX": "clearfee-test-" + secrets.token_hex(6),
    }
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own server, fixed arguments
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
         "portal:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)  # noqa: S310 - loopback
            return proc, base, log
        except OSError:
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    log.close()
    pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text())


def _token_attempt(base: str) -> int:
    body = json.dumps({"username": "ghost", "password": "wrong"}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback http only
        base + "/api/v1/auth/token",
        data=body,
        headers={"Content-Type": "application/json", "Connection": "close"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.live  # starts gunicorn: kept out of the faketime runs (its heartbeat uses file times)
@pytest.mark.skipif(not _redis_up(), reason="redis is not running on 127.0.0.1:6379")
def test_two_gunicorn_workers_sharing_redis_share_the_count(
    database_url: str, tmp_path: Path
) -> None:
    """gunicorn -w 2 with Redis: 5 failures in all, whichever worker answers, then 429."""
    proc, base, log = _gunicorn(database_url, tmp_path, REDIS)
    try:
        # One after another: the limit is checked before the attempt and counted after it, so
        # simultaneous attempts may overshoot by the number in flight (a documented limit).
        codes = [_token_attempt(base) for _ in range(16)]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
    assert sorted(codes) == [401] * 5 + [429] * 11, codes


def test_without_trusted_proxies_x_forwarded_for_is_ignored(make_app: Any) -> None:
    """An attacker rotating X-Forwarded-For does not get a fresh per-address budget."""
    app = make_app(LOGIN_RATE_LIMIT="2 per minute", TRUSTED_PROXIES=0)
    names = [_user(app) for _ in range(3)]  # other accounts: only the address limit applies
    codes = [
        _fail(app, name, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}") for i, name in enumerate(names)
    ]
    assert codes == [200, 200, 429]


def test_behind_one_trusted_proxy_each_client_has_its_own_budget(make_app: Any) -> None:
    """Behind the proxy every request comes from the proxy's address; with the hop trusted
    one attacker no longer locks everyone out, and the attacker is still limited."""
    app = make_app(LOGIN_RATE_LIMIT="2 per minute", TRUSTED_PROXIES=1)
    names = [_user(app) for _ in range(4)]
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    attacker = [
        _fail(app, names[i], HTTP_X_FORWARDED_FOR="203.0.113.66", **proxy) for i in range(3)
    ]
    assert attacker == [200, 200, 429]
    assert _fail(app, names[3], HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy) == 200
    # A forged extra hop does not help: only the last (proxy-added) address is believed.
    forged = "1.2.3.4, 203.0.113.66"
    assert _fail(app, names[3], HTTP_X_FORWARDED_FOR=forged, **proxy) == 429


def test_payment_intents_are_limited_per_account(make_app: Any) -> None:
    app = make_app(PAYMENT_RATE_LIMIT="3 per minute")
    username = _user(app)
    client = app.test_client()
    with app.app_context():
        token = client.post("/api/v1/auth/token", json=factories.login_fields(username)).json
    headers = {"Authorization": f"Bearer {token['token']}"}
    codes = [
        client.post("/api/v1/payments", json={"bill_ids": [], "channel": "x"}, headers=headers)
        for _ in range(4)
    ]
    assert [c.status_code for c in codes] == [422, 422, 422, 429]


def test_guessing_the_current_password_is_limited(make_app: Any) -> None:
    app = make_app(LOGIN_RATE_LIMIT="2 per minute")
    username = _user(app)
    client = app.test_client()
    with app.app_context():
        assert client.post("/login", data=factories.login_fields(username)).status_code == 302
    guess = {"current_password": "guess-1234567", "new_password": "x" * 12, "confirm": "x" * 12}
    codes = [client.post("/account/password", data=guess).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


@pytest.fixture
def counters_table(database_url: str) -> Any:
    """The counter table is a cache outside the models: dropped again after the test, so the
    shared PostgreSQL test database keeps matching the migrations."""
    yield database_url
    from sqlalchemy import create_engine

    from portal.ratelimit_db import counters

    engine = create_engine(database_url)
    counters.drop(engine, checkfirst=True)
    engine.dispose()


@pytest.mark.live  # starts gunicorn: kept out of the faketime runs (its heartbeat uses file times)
def test_two_gunicorn_workers_sharing_the_database_share_the_count(
    database_url: str, tmp_path: Path, counters_table: str
) -> None:
    """No Redis: RATELIMIT_STORAGE_URI=database:// counts in the portal's own database."""
    proc, base, log = _gunicorn(database_url, tmp_path, "database://")
    try:
        codes = [_token_attempt(base) for _ in range(16)]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
    assert sorted(codes) == [401] * 5 + [429] * 11, codes


def _hammer(url: str, key: str, times: int) -> None:
    from portal.ratelimit_db import DatabaseStorage

    storage = DatabaseStorage("database://", url=url)
    for _ in range(times):
        storage.incr(key, 60)


def test_database_storage_counts_atomically_across_processes(
    database_url: str, counters_table: str
) -> None:
    import multiprocessing

    from portal.ratelimit_db import DatabaseStorage

    storage = DatabaseStorage("database://", url=database_url)
    key = "test-" + secrets.token_hex(4)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hammer, args=(database_url, key, 150)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert storage.get(key) == 300  # no lost update between the two processes
    assert storage.get_expiry(key) > time.time()
    storage.clear(key)
    assert storage.get(key) == 0
    storage.engine.dispose()


def test_database_storage_window_expires(database_url: str, counters_table: str) -> None:
    from portal.ratelimit_db import DatabaseStorage

    storage = DatabaseStorage("database://", url=database_url)
    key = "test-" + secrets.token_hex(4)
    assert storage.incr(key, 0.2) == 1
    assert storage.incr(key, 0.2) == 2
    time.sleep(0.3)
    assert storage.get(key) == 0  # the window is over
    assert storage.incr(key, 60) == 1  # and a new one starts at 1
    assert storage.check()
    storage.reset()
    assert storage.get(key) == 0
    storage.engine.dispose()
