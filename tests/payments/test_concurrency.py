"""200 parallel identical callbacks under gunicorn credit exactly once (SQLite WAL and PG)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.billing import ledger
from portal.billing.models import Bill, JournalEntry, Posting
from portal.payments import intents
from portal.payments.gateways.sandbox import SandboxGateway
from portal.payments.models import Payment, PaymentIntent, Receipt
from tests import factories
from tests.factories import NOW
from tests.payments.helpers import SECRET, sandbox_callback

ROOT = Path(__file__).resolve().parents[2]
CALLERS = 200
pytestmark = pytest.mark.live


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gunicorn(database_url: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SANDBOX_SECRET": SECRET,
        "SECRET_KEY": "concurrency-test",
        "CLEARFEE_ENV": "test",
        "PAYMENTS_SANDBOX": "1",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_COST": "1024",
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
    }
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own server, fixed arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "4",
            "-k",
            "gthread",
            "--threads",
            "8",
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "portal:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)  # noqa: S310 - loopback
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        proc.wait()
        log.close()
        pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text())
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)  # a loaded machine may take a while to stop 32 threads
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _fire(base: str, bodies: list[tuple[bytes, dict[str, str]]]) -> list[int]:
    def one(item: tuple[bytes, dict[str, str]]) -> int:
        body, headers = item
        request = urllib.request.Request(  # noqa: S310 - loopback http only
            base + "/payments/notify/sandbox", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        return list(pool.map(one, bodies))


def _intent(session: Session, owner, bills, key: str) -> PaymentIntent:
    return intents.create_intent(
        session,
        user=owner,
        bill_ids=[b.id for b in bills],
        channel="sandbox",
        idempotency_key=key,
        gateway=SandboxGateway(SECRET),
        now=NOW,
        notify_url="http://x",
        return_url="http://x",
    )


def test_200_parallel_identical_callbacks_credit_once(gunicorn: str, session: Session) -> None:
    unit, bills = factories.make_billed_unit(session, periods=("2026-09", "2026-10"))
    owner = factories.make_user(session, role="owner", unit=unit)
    intent = _intent(session, owner, bills, "once")
    session.commit()
    callback = sandbox_callback(intent.out_trade_no, intent.amount_fen, txn_id="WX-1")
    statuses = _fire(gunicorn, [callback] * CALLERS)
    assert sorted(set(statuses)) == [200], statuses
    session.expire_all()
    assert session.scalar(select(func.count(Payment.id))) == 1
    assert session.scalar(select(func.count(Receipt.id))) == 1
    payment = session.scalar(select(Payment))
    entries = session.scalars(
        select(JournalEntry).where(
            JournalEntry.source_type == "payment", JournalEntry.source_id == payment.id
        )
    ).all()
    assert len(entries) == 1
    assert (
        session.scalar(select(func.count(Posting.id)).where(Posting.entry_id == entries[0].id)) == 3
    )  # cash + 2 lines
    assert session.scalar(select(func.sum(Bill.outstanding_fen))) == 0
    assert ledger.check(session).ok


def test_two_intents_racing_on_one_bill_never_over_credit(gunicorn: str, session: Session) -> None:
    unit, bills = factories.make_billed_unit(session, periods=("2026-09",))
    owner = factories.make_user(session, role="owner", unit=unit)
    first = _intent(session, owner, bills, "a")
    second = _intent(session, owner, bills, "b")
    session.commit()
    a = sandbox_callback(first.out_trade_no, first.amount_fen, txn_id="WX-A")
    b = sandbox_callback(second.out_trade_no, second.amount_fen, txn_id="AL-B")
    statuses = _fire(gunicorn, [a, b] * (CALLERS // 2))
    assert sorted(set(statuses)) == [200]
    session.expire_all()
    assert session.scalar(select(func.count(Payment.id))) == 2
    assert bills[0].outstanding_fen == 0
    assert bills[0].paid_fen == bills[0].amount_fen  # never more than the bill
    assert ledger.prepayment_balance(session, unit_id=unit.id) == bills[0].amount_fen
    flagged = session.scalar(select(func.sum(Payment.refund_due_fen)))
    assert flagged == bills[0].amount_fen
    assert ledger.check(session).ok
