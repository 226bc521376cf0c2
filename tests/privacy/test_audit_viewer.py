"""Staff exports of personal data are audited (who, when, what, from where), and managers
and admins read the trail in a filtered, paginated viewer with a streamed CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.accounts.models import User
from portal.audit import service as audit
from portal.audit.models import AuditEntry
from portal.communities.models import Community
from portal.extensions import db
from portal.governance.models import Vote, VoteStatus
from portal.privacy import audit_log
from portal.timeutil import DEFAULT_TZ, now_utc
from tests import factories
from tests.conftest import seeded_demo_app

IP = "203.0.113.9"


@pytest.fixture(scope="module")
def demo_app(_session_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with seeded_demo_app(
        _session_database,
        tmp_path_factory.mktemp("audit"),
        *("--communities", "1", "--units", "30", "--months", "13"),
    ) as app:
        yield app


@pytest.fixture
def ctx(demo_app: Flask) -> Iterator[Flask]:
    with demo_app.app_context():
        yield demo_app
        db.session.remove()


def _client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = IP
    response = client.post("/login", data=factories.login_fields(username, "demo-pass-2026"))
    assert response.status_code == 302, username
    return client


def _user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def _last() -> AuditEntry:
    db.session.expire_all()
    entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    assert entry is not None
    return entry


def _closed_vote_id() -> int:
    vote_id = db.session.scalar(select(Vote.id).where(Vote.status == VoteStatus.CLOSED))
    assert vote_id is not None
    return vote_id


EXPORTS: list[tuple[str, str, str, str]] = [
    # (who, url, action, format)
    (
        "demo-finance",
        "/finance/DEMO1/payments?start=2026-10-01&end=2026-11-30&format=csv",
        "payments.journal_export",
        "csv",
    ),
    (
        "demo-finance",
        "/finance/DEMO1/payments?start=2026-10-01&end=2026-11-30&format=xlsx",
        "payments.journal_export",
        "xlsx",
    ),
    (
        "demo-manager",
        "/staff/disputes/mediation/DEMO1/export/csv",
        "disputes.mediation_export",
        "csv",
    ),
    (
        "demo-manager",
        "/staff/disputes/mediation/DEMO1/export/xlsx",
        "disputes.mediation_export",
        "xlsx",
    ),
    ("demo-collector", "/collections/lists/DEMO1/arrears.csv", "collections.export_arrears", "csv"),
    ("demo-manager", "/collections/lists/DEMO1/arrears.xlsx", "collections.export_arrears", "xlsx"),
    (
        "demo-manager",
        "/governance/DEMO1/votes/{vote}/ballots.csv",
        "governance.ballots_export",
        "csv",
    ),
]


@pytest.mark.parametrize(
    ("who", "url", "action", "fmt"), EXPORTS, ids=[e[2] + "-" + e[3] for e in EXPORTS]
)
def test_each_personal_data_export_is_recorded(
    ctx: Flask, who: str, url: str, action: str, fmt: str
) -> None:
    client = _client(ctx, who)
    before = _last().seq
    response = client.get(url.format(vote=_closed_vote_id()))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    response.close()
    entry = _last()
    assert entry.seq == before + 1
    assert entry.action == action
    assert entry.actor_id == _user(who).id  # who
    assert entry.at == now_utc().replace(microsecond=0)  # when
    assert entry.details["format"] == fmt  # what
    assert entry.details["ip"] == IP  # from where
    community = db.session.scalar(select(Community).where(Community.code == "DEMO1"))
    assert entry.community_id == community.id
    assert audit.verify(db.session).ok


def _other_community_entry() -> AuditEntry:
    other = db.session.scalar(select(Community).where(Community.code == "AUDX"))
    if other is None:
        other = factories.make_community(db.session, code="AUDX")
    entry = audit.record(
        db.session,
        actor_id=_user("demo-admin").id,
        action="test.elsewhere",
        target_type="community",
        target_id=other.id,
        community_id=other.id,
        now=now_utc(),
        details={"ip": "198.51.100.7"},
    )
    db.session.commit()
    return entry


def test_manager_sees_own_communities_admin_sees_all(ctx: Flask) -> None:
    elsewhere = _other_community_entry()
    manager = _client(ctx, "demo-manager")
    page = manager.get("/staff/audit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "审计日志" in html
    assert "test.elsewhere" not in html
    # another community's id in the filter is a 404, not an empty list
    assert manager.get(f"/staff/audit?community={elsewhere.community_id}").status_code == 404
    admin = _client(ctx, "demo-admin")
    html = admin.get("/staff/audit?action=test.").get_data(as_text=True)
    assert "test.elsewhere" in html
    assert "198.51.100.7" in html
    owner = ctx.test_client()
    owner.post("/login", data=factories.login_fields("demo-owner", "demo-pass-2026"))
    assert owner.get("/staff/audit").status_code in (403, 404)
    assert owner.get("/staff/audit.csv").status_code in (403, 404)


def _seqs(html: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", html)]


def test_filters_and_pagination(ctx: Flask) -> None:
    manager = _client(ctx, "demo-manager")
    manager.get("/collections/lists/DEMO1/arrears.csv").close()
    arrears = manager.get("/staff/audit?action=collections.export_arrears").get_data(as_text=True)
    assert "collections.export_arrears" in arrears
    assert "payments.journal_export" not in arrears
    by_actor = manager.get("/staff/audit?actor=demo-manager").get_data(as_text=True)
    assert "demo-manager" in by_actor
    assert "demo-finance</td>" not in by_actor
    assert _seqs(manager.get("/staff/audit?actor=nobody-at-all").get_data(as_text=True)) == []
    today = now_utc().date()
    assert _seqs(manager.get(f"/staff/audit?start={today}&end={today}").get_data(as_text=True))
    assert not _seqs(
        manager.get("/staff/audit?start=2001-01-01&end=2001-01-02").get_data(as_text=True)
    )
    bad = manager.get("/staff/audit?start=9999-12-31")
    assert bad.status_code == 200
    assert "日期须在" in bad.get_data(as_text=True)
    first = _seqs(manager.get("/staff/audit").get_data(as_text=True))
    second = _seqs(manager.get("/staff/audit?page=2").get_data(as_text=True))
    assert len(first) == 50
    assert first == sorted(first, reverse=True)
    assert second
    assert max(second) < min(first)


def test_csv_export_is_streamed_complete_and_itself_audited(ctx: Flask) -> None:
    admin = _client(ctx, "demo-admin")
    total = db.session.scalar(select(db.func.count(AuditEntry.id)))
    # exports.csv_response streams (tests/test_exports.py); the test client reads it to the end
    response = admin.get("/staff/audit.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    body = response.get_data(as_text=True).lstrip("\ufeff")
    rows: list[Any] = list(csv.reader(io.StringIO(body)))
    assert rows[0][:4] == ["序号", "时间", "操作人", "操作"]
    assert len(rows) - 1 == total + 1  # every entry, including the export's own record
    entry = _last()
    assert entry.action == "audit.export"
    assert entry.details["ip"] == IP
    assert rows[1][0] == str(entry.seq)
    batched = list(
        audit_log.iter_csv_rows(
            db.session, scope=None, flt=audit_log.AuditFilter(), tz=DEFAULT_TZ, batch=7
        )
    )
    assert [row[0] for row in batched] == [int(row[0]) for row in rows[1:]]
    filtered = admin.get("/staff/audit.csv?action=collections.")
    lines = list(csv.reader(io.StringIO(filtered.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[1:]
    assert all(line[3].startswith("collections.") for line in lines[1:])
