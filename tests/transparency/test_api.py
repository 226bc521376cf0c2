import hashlib
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from portal.api.openapi import build_document
from portal.publication import service as publication
from portal.transparency import queries
from portal.transparency.models import SpendingItem
from tests import factories
from tests.transparency import helpers
from tests.transparency.test_views import FakeBilling

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "static" / "verify_publication_log.py"


def _token(client: FlaskClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json=factories.login_fields(username))
    return {"Authorization": f"Bearer {response.json['token']}"}


def _world(session: Session) -> dict[str, Any]:
    public = factories.make_community(
        session,
        code="OPEN",
        name="公开小区",
        hotline="021-1234 5678",
        fee_regime="commission",
        commission_rate=Decimal("0.1000"),
    )
    private = factories.make_community(session, code="SHUT", is_public=False)
    actor = helpers.finance(session, public)
    first = helpers.published(session, public, actor, amount_fen=100_000)
    helpers.published(session, public, actor, amount_fen=20_000, code="energy.power")
    helpers.draft(session, public, actor, amount_fen=5, description="草稿")
    helpers.published(session, private, helpers.finance(session, private), amount_fen=1)
    session.commit()
    return {"public": public, "private": private, "first": first, "actor": actor}


def test_community_list_and_profile(client: FlaskClient, session: Session) -> None:
    world = _world(session)
    listing = client.get("/api/v1/communities").json["communities"]
    assert [c["code"] for c in listing] == ["OPEN"]
    profile = client.get("/api/v1/communities/OPEN").json
    assert profile["name"] == "公开小区"
    assert profile["fee_regime"] == "commission"
    assert profile["commission_rate"] == "0.1000"
    assert profile["hotline"] == "021-1234 5678"
    assert profile["links"]["spending"].endswith("/api/v1/communities/OPEN/spending")
    for path in ("", "/spending", "/publication-log", "/stats"):
        response = client.get(f"/api/v1/communities/SHUT{path}")
        assert response.status_code == 404, path
        assert response.json["error"]["code"] == "not_found"
    member = factories.make_user(
        session, role="owner", unit=factories.make_unit(session, community=world["private"])
    )
    session.commit()
    headers = _token(client, member.username)
    codes = [
        c["code"] for c in client.get("/api/v1/communities", headers=headers).json["communities"]
    ]
    assert codes == ["OPEN", "SHUT"]
    assert client.get("/api/v1/communities/SHUT/spending", headers=headers).status_code == 200
    assert client.get("/api/v1/communities/NOPE").status_code == 404


def test_spending_document_shape(client: FlaskClient, session: Session) -> None:
    world = _world(session)
    body = client.get("/api/v1/communities/OPEN/spending?year=2026").json
    assert set(body) >= {"community", "year", "total_fen", "categories", "items"}
    assert (body["community"], body["year"], body["total_fen"]) == ("OPEN", 2026, 120_000)
    assert {c["code"]: c["total_fen"] for c in body["categories"]} == {
        "cleaning": 100_000,
        "energy": 20_000,
    }
    assert all(set(c) >= {"code", "name", "total_fen", "budget_fen"} for c in body["categories"])
    item = next(i for i in body["items"] if i["id"] == world["first"].id)
    assert set(item) >= {
        "id",
        "date",
        "category",
        "amount_fen",
        "vendor",
        "description",
        "seq",
        "hash",
        "superseded_by",
    }
    chain = publication.entries(session, world["public"])
    assert item["seq"] == 1
    assert item["hash"] == chain[0]["hash"]
    assert item["superseded_by"] is None
    assert "草稿" not in json.dumps(body, ensure_ascii=False)
    assert client.get("/api/v1/communities/OPEN/spending?year=1999").status_code == 400
    assert (
        client.get("/api/v1/communities/OPEN/spending?year=abc").json["error"]["code"]
        == "bad_request"
    )
    assert client.get("/api/v1/communities/OPEN/spending?year=2025").json["items"] == []


def test_publication_log_follows_the_contract(client: FlaskClient, session: Session) -> None:
    _world(session)
    body = client.get("/api/v1/communities/OPEN/publication-log").json
    entries = body["entries"]
    assert [e["seq"] for e in entries] == [1, 2]
    assert entries[0]["prev_hash"] == "0" * 64
    for previous, entry in zip([None, *entries], entries, strict=False):
        assert set(entry) >= {
            "seq",
            "kind",
            "record_id",
            "published_at",
            "payload",
            "prev_hash",
            "hash",
        }
        if previous:
            assert entry["prev_hash"] == previous["hash"]
        canonical = json.dumps(
            {k: v for k, v in entry.items() if k != "hash"},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        assert (
            hashlib.sha256((entry["prev_hash"] + canonical).encode()).hexdigest() == entry["hash"]
        )


def test_stats_are_k_anonymous(
    client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _world(session)
    # The test swaps the code behind the figures mid-test, which no data version can see.
    client.application.config["PAGE_CACHE"] = False
    monkeypatch.setattr(queries, "billing_service", lambda: None)
    empty = client.get("/api/v1/communities/OPEN/stats").json
    assert empty["collection_rate_by_month"] == []
    assert empty["by_building"] == []
    monkeypatch.setattr(queries, "billing_service", lambda: FakeBilling())
    body = client.get("/api/v1/communities/OPEN/stats").json
    assert body["community"] == "OPEN"
    assert body["collection_rate_by_month"][0] == {
        "month": "2026-09",
        "billed_fen": 1_000_000,
        "collected_fen": 912_300,
        "rate": 0.9123,
        "in_progress": False,  # a month with a bill not yet due says so
    }
    assert body["by_building"] == [
        {"building": "A区1号楼", "units": 36, "rate": 0.93},
        {"building": "B区9号楼", "units": 3, "rate": None},
    ]
    # Dispute figures ride along, withheld below five resolved disputes.
    assert body["disputes"]["too_few"] is True


def test_openapi_documents_the_transparency_routes() -> None:
    paths = build_document()["paths"]
    for path in (
        "/communities",
        "/communities/{code}",
        "/communities/{code}/spending",
        "/communities/{code}/publication-log",
        "/communities/{code}/stats",
        "/notices",
    ):
        assert "get" in paths[path], path


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, "-I", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_downloaded_log_verifies_with_the_standalone_script(
    client: FlaskClient, session: Session, tmp_path: Path
) -> None:
    world = _world(session)
    log = tmp_path / "publication-log-OPEN.json"
    log.write_bytes(client.get("/c/OPEN/publication-log.json").data)
    spending_file = tmp_path / "spending.json"
    spending_file.write_bytes(client.get("/api/v1/communities/OPEN/spending?year=2026").data)
    result = _run_script(str(log), "--spending", str(spending_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "完整 OK" in result.stdout
    assert "2 笔均与记录链一致" in result.stdout
    # Someone edits the database: the server's verify catches it, and a log downloaded before
    # no longer matches what the site now serves for the item.
    session.execute(
        update(SpendingItem).where(SpendingItem.id == world["first"].id).values(amount_fen=1)
    )
    session.commit()
    assert not publication.verify(session, world["public"]).ok
    spending_file.write_bytes(client.get("/api/v1/communities/OPEN/spending?year=2026").data)
    mismatch = _run_script(str(log), "--spending", str(spending_file))
    assert mismatch.returncode == 1
    assert f"支出 {world['first'].id}" in mismatch.stdout
    # Someone edits a downloaded file: the script names the entry.
    document = json.loads(log.read_text())
    document["entries"][0]["payload"]["amount_fen"] = 99
    log.write_text(json.dumps(document, ensure_ascii=False))
    broken = _run_script(str(log))
    assert broken.returncode == 1
    assert "seq 1" in broken.stdout
    document["entries"].pop(0)
    log.write_text(json.dumps(document, ensure_ascii=False))
    gap = _run_script(str(log))
    assert gap.returncode == 1
    assert "seq 2" in gap.stdout
    assert _run_script(str(tmp_path / "missing.json")).returncode == 2
