import hashlib
import json

from flask.testing import FlaskCliRunner
from sqlalchemy import update
from sqlalchemy.orm import Session

from portal.publication import service as publication
from portal.publication.models import PublicationEntry
from tests import factories
from tests.factories import NOW


def test_chain_links_and_hash_rule(session: Session) -> None:
    community = factories.make_community(session, code="CH1")
    for n in range(3):
        publication.append(
            session,
            community=community,
            kind="note",
            record_id=n,
            payload={"amount_fen": 100 * n, "说明": "保洁"},
            now=NOW,
        )
    chain = publication.entries(session, community)
    assert [e["seq"] for e in chain] == [1, 2, 3]
    assert chain[0]["prev_hash"] == "0" * 64
    for prev, entry in zip([None, *chain], chain, strict=False):
        if prev:
            assert entry["prev_hash"] == prev["hash"]
        body = {k: v for k, v in entry.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        expected = hashlib.sha256((entry["prev_hash"] + canonical).encode()).hexdigest()
        assert entry["hash"] == expected
    assert publication.verify(session, community).ok


def test_tampered_entry_is_named(session: Session, runner: FlaskCliRunner) -> None:
    community = factories.make_community(session, code="CH2")
    for n in range(3):
        publication.append(
            session,
            community=community,
            kind="note",
            record_id=n,
            payload={"amount_fen": n},
            now=NOW,
        )
    session.commit()
    assert runner.invoke(args=["transparency", "verify", "--community", "CH2"]).exit_code == 0
    session.execute(
        update(PublicationEntry)
        .where(PublicationEntry.seq == 2)
        .values(payload={"amount_fen": 999})
    )
    session.commit()
    result = publication.verify(session, community)
    assert not result.ok
    assert result.bad_seq == 2
    cli = runner.invoke(args=["transparency", "verify", "--community", "CH2"])
    assert cli.exit_code == 1
    assert "seq 2" in cli.output


def test_local_times_are_hashed_as_utc(session: Session) -> None:
    """An entry published with a Shanghai-zone instant must still verify after a round trip."""
    from zoneinfo import ZoneInfo

    community = factories.make_community(session, code="TZ1")
    local = NOW.astimezone(ZoneInfo("Asia/Shanghai")).replace(microsecond=123)
    entry = publication.append(
        session, community=community, kind="note", record_id=1, payload={"a": 1}, now=local
    )
    assert publication.entries(session, community)[0]["published_at"] == "2026-11-20T02:00:00Z"
    session.commit()
    session.expire_all()
    assert publication.verify(session, community).ok
    assert entry.published_at == NOW


def test_append_many_equals_appending_one_by_one(session: Session) -> None:
    one = factories.make_community(session, code="ONE")
    many = factories.make_community(session, code="MANY")
    records = [("note", n, {"n": n, "说明": "保洁"}, NOW) for n in range(4)]
    publication.append(session, community=many, kind="note", record_id=99, payload={}, now=NOW)
    publication.append(session, community=one, kind="note", record_id=99, payload={}, now=NOW)
    for kind, record_id, payload, now in records:
        publication.append(
            session, community=one, kind=kind, record_id=record_id, payload=payload, now=now
        )
    publication.append_many(session, community=many, records=records)
    strip = [
        {k: v for k, v in e.items() if k not in ("community", "hash", "prev_hash")}
        for e in publication.entries(session, many)
    ]
    assert strip == [
        {k: v for k, v in e.items() if k not in ("community", "hash", "prev_hash")}
        for e in publication.entries(session, one)
    ]
    session.commit()
    assert publication.verify(session, many).ok
    assert [e["seq"] for e in publication.entries(session, many)] == [1, 2, 3, 4, 5]
