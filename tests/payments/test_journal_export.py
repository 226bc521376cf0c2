"""The payments journal: the screen paginates and the exports hold every row of the range
(more rows than any page or batch), streamed."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from portal.payments import queries
from portal.payments.models import Payment, Receipt
from tests import factories
from tests.factories import NOW

ROWS = 1_200


def _many_payments(session: Session, community: Any, unit: Any, n: int = ROWS) -> None:
    """n cash payments over the 20 days before NOW, with receipts (bulk insert: fast)."""
    session.execute(
        insert(Payment),
        [
            {
                "community_id": community.id,
                "payer_id": None,
                "unit_id": unit.id,
                "intent_id": None,
                "channel": "cash",
                "txn_id": f"BULK-{i:05d}",
                "amount_fen": 100 + i,
                "refund_due_fen": 0,
                "received_at": NOW - timedelta(minutes=20 * i),
                "note": "",
            }
            for i in range(n)
        ],
    )
    ids = session.execute(
        select(Payment.id, Payment.received_at).where(Payment.community_id == community.id)
    ).all()
    session.execute(
        insert(Receipt),
        [
            {
                "community_id": community.id,
                "year": 2026,
                "seq": k + 1,
                "number": f"{community.code}-2026-{k + 1:06d}",
                "payment_id": pid,
                "issued_at": at,
            }
            for k, (pid, at) in enumerate(ids)
        ],
    )
    session.commit()


def _setup(session: Session, client: FlaskClient) -> Any:
    unit, _ = factories.make_billed_unit(session)
    finance = factories.make_user(session, role="finance", community=unit.community)
    _many_payments(session, unit.community, unit)
    response = client.post("/login", data=factories.login_fields(finance.username))
    assert response.status_code == 302
    return unit


RANGE = "start=2026-11-01&end=2026-11-30"


def test_csv_and_xlsx_exports_hold_every_row_of_the_range(
    client: FlaskClient, session: Session
) -> None:
    unit = _setup(session, client)
    code = unit.community.code
    response = client.get(f"/finance/{code}/payments?{RANGE}&format=csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "收款时间"
    body = rows[1:]
    assert len(body) == ROWS
    assert {r[2] for r in body} == {f"BULK-{i:05d}" for i in range(ROWS)}
    assert {r[3] for r in body} == {unit.code}
    assert all(r[6] for r in body)  # every row has its receipt number

    xlsx = client.get(f"/finance/{code}/payments?{RANGE}&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "收款时间"
    assert len(values) == ROWS + 1
    assert {v[2] for v in values[1:]} == {f"BULK-{i:05d}" for i in range(ROWS)}


def test_the_export_respects_the_range_and_channel(client: FlaskClient, session: Session) -> None:
    unit = _setup(session, client)
    code = unit.community.code
    day = client.get(f"/finance/{code}/payments?start=2026-11-20&end=2026-11-20&format=csv")
    rows = list(csv.reader(io.StringIO(day.get_data(as_text=True).lstrip("\ufeff"))))[1:]
    expected = queries.journal_page(
        session,
        community_id=unit.community.id,
        start=NOW.date(),
        end=NOW.date(),
        per_page=10_000,
    ).total
    assert len(rows) == expected > 0
    none = client.get(f"/finance/{code}/payments?{RANGE}&channel=pos&format=csv")
    assert len(list(csv.reader(io.StringIO(none.get_data(as_text=True))))) == 1  # header only


def test_iter_journal_reads_in_batches_smaller_than_the_range(session: Session) -> None:
    unit, _ = factories.make_billed_unit(session)
    _many_payments(session, unit.community, unit, n=130)
    start, end = NOW.date() - timedelta(days=30), NOW.date()
    rows = list(
        queries.iter_journal(session, community_id=unit.community.id, start=start, end=end, batch=7)
    )
    assert len(rows) == 130
    received = [p.received_at for p, _code, _number in rows]
    assert received == sorted(received, reverse=True)
    listed = queries.journal(session, community_id=unit.community.id, start=start, end=end)
    assert len(listed) == 130  # the list form has no cap either


def test_the_screen_journal_paginates_instead_of_truncating(
    client: FlaskClient, session: Session
) -> None:
    unit = _setup(session, client)
    code = unit.community.code
    first = client.get(f"/finance/{code}/payments?{RANGE}").get_data(as_text=True)
    pages = -(-ROWS // 50)
    assert f"第 1 / {pages} 页" in first
    assert f"共 {ROWS} 笔" in first
    assert "BULK-00000" in first
    last = client.get(f"/finance/{code}/payments?{RANGE}&page={pages}").get_data(as_text=True)
    assert f"BULK-{ROWS - 1:05d}" in last
    assert "BULK-00000" not in last
    # the daily totals count every payment, not a capped sample
    assert f'<td class="num">{ROWS}</td>' in first
