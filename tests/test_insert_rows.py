"""db.insert_rows: ids come back in the order of the rows, on SQLite and on PostgreSQL
(where each column travels as one array), with JSON, UTC times, NULLs and column defaults;
db.one_of selects what IN would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from portal import db as portal_db
from portal.billing.models import JournalEntry
from portal.notify.models import Message
from tests import factories

NOW = factories.NOW


def _message_rows(session: Session, count: int) -> list[dict[str, object]]:
    community = factories.make_community(session)
    owner = factories.make_user(session, community=community)
    return [
        {
            "event_key": f"bill-issued:{n}",
            "recipient_id": owner.id,
            "channel": "inbox",
            "community_id": community.id,
            "unit_id": None,
            "building_id": None,
            "reason": "bill_issued",
            "category": "billing",
            "template_key": "bill_issued",
            "language": "zh",
            "subject": f"账单 {n}",
            # quotes, a backslash, braces, a comma and a newline: what text arrays must escape
            "text": f'尊敬的业主，"{n}" 号账单已出，{{应缴}} ¥1,234.56\\\n详见链接',
            "context": {"n": n, "名称": "基准小区", "items": [n, None]},
            "address": "",
            "related_type": "bill",
            "related_id": n if n % 2 else None,
            "amount_fen": 10**12 + n if n % 3 else None,  # past int4
            "held_fen": None,
            "not_before": NOW + timedelta(minutes=n),
            "status": "queued",
            "attempts": 0,
            "last_error": "",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for n in range(count)
    ]


@pytest.mark.parametrize("chunk", [2, 5000])
def test_ids_follow_the_rows_and_every_value_round_trips(
    session: Session, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(portal_db, "INSERT_CHUNK", chunk)
    rows = _message_rows(session, 7)
    ids = portal_db.insert_rows(session, Message.__table__, rows, ids=True)
    assert len(ids) == len(set(ids)) == 7
    stored = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(ids)))}
    for ident, row in zip(ids, rows, strict=True):
        message = stored[ident]
        for key, value in row.items():
            assert getattr(message, key) == value, key
        assert message.not_before.tzinfo == UTC
        # template_version was left out: its Python-side default is filled in
        assert message.template_version == 0


def test_without_ids_the_rows_are_written_and_nothing_is_returned(session: Session) -> None:
    community = factories.make_community(session)
    rows = [
        {
            "community_id": community.id,
            "kind": "bill",
            "memo": f"账单 {n}",
            "source_type": "bill",
            "source_id": n,
            "created_at": NOW,
        }
        for n in range(3)
    ]
    assert portal_db.insert_rows(session, JournalEntry.__table__, rows) == []
    memos = session.scalars(
        select(JournalEntry.memo).where(JournalEntry.community_id == community.id)
    ).all()
    assert sorted(memos) == ["账单 0", "账单 1", "账单 2"]


def test_identical_rows_are_each_written(session: Session) -> None:
    # every column the same in every row: values shared by a chunk go once, the rows stay three
    community = factories.make_community(session)
    row = {
        "community_id": community.id,
        "kind": "bill",
        "memo": "同一条",
        "source_type": "bill",
        "source_id": 1,
        "created_at": NOW,
    }
    ids = portal_db.insert_rows(session, JournalEntry.__table__, [row, row, row], ids=True)
    assert len(set(ids)) == 3
    assert (
        session.scalar(
            select(func.count(JournalEntry.id)).where(JournalEntry.community_id == community.id)
        )
        == 3
    )


def test_a_value_too_long_for_its_column_is_refused_not_cut(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    from sqlalchemy.exc import DataError

    for shared in (False, True):  # in an array, and as the chunk's one value
        rows = _message_rows(session, 3)
        for row in rows if shared else rows[1:2]:
            row["channel"] = "x" * 17  # String(16)
        with pytest.raises(DataError, match="too long"), session.begin_nested():
            portal_db.insert_rows(session, Message.__table__, rows, ids=True)
    assert session.scalar(select(func.count(Message.id))) == 0


def test_no_rows_writes_nothing(session: Session) -> None:
    assert portal_db.insert_rows(session, Message.__table__, [], ids=True) == []
    assert session.scalar(select(func.count(Message.id))) == 0


def test_a_bad_row_writes_nothing(session: Session) -> None:
    rows = _message_rows(session, 3)
    rows[2]["recipient_id"] = None  # NOT NULL
    with pytest.raises(IntegrityError), session.begin_nested():
        portal_db.insert_rows(session, Message.__table__, rows, ids=True)
    assert session.scalar(select(func.count(Message.id))) == 0


def test_a_callable_default_must_be_given(session: Session) -> None:
    from sqlalchemy import Column, Integer, MetaData, Table

    table = Table(
        "never_created",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("n", Integer, default=lambda: 1),
        Column("m", Integer),
    )
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite takes SQLAlchemy's own insert, which calls the default")
    with pytest.raises(ValueError, match="callable default"):
        portal_db.insert_rows(session, table, [{"m": 1}])


def test_naive_times_are_refused(session: Session) -> None:
    rows = _message_rows(session, 1)
    rows[0]["created_at"] = datetime(2026, 11, 20, 2, 0)  # noqa: DTZ001
    with pytest.raises(StatementError, match="naive"), session.begin_nested():
        portal_db.insert_rows(session, Message.__table__, rows, ids=True)


def test_one_of_matches_in_for_numbers_and_texts(session: Session) -> None:
    rows = _message_rows(session, 6)
    ids = portal_db.insert_rows(session, Message.__table__, rows, ids=True)

    def found(column: object, values: list[object]) -> list[int]:
        return sorted(
            session.scalars(select(Message.id).where(portal_db.one_of(session, column, values)))
        )

    assert found(Message.id, [ids[1], ids[4], -1]) == [ids[1], ids[4]]
    assert found(Message.event_key, ["bill-issued:2", "bill-issued:5", "无"]) == [
        ids[2],
        ids[5],
    ]
    assert found(Message.id, []) == []
