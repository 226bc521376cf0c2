"""`flask privacy retention` deletes finished old messages, photos of long-closed tickets and
unreferenced files; evidence other rows cite stays; audit rows are never deleted."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskCliRunner
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry
from portal.notify.models import ContactAttempt, Message, MessageStatus
from portal.privacy import retention
from portal.tickets.models import TicketPhoto
from portal.uploads import service as uploads
from portal.uploads.models import StoredFile
from tests.factories import NOW
from tests.tickets.util import make_ticket, make_world


def _message(session: Session, world: Any, *, status: str, age_days: int) -> Message:
    at = NOW - timedelta(days=age_days)
    message = Message(
        event_key=f"test:{status}:{age_days}:{session.scalar(select(func.count(Message.id)))}",
        recipient_id=world.owner.id,
        channel="inbox",
        community_id=world.community.id,
        reason="service",
        category="service",
        template_key="test",
        text="您的账单已出",
        not_before=at,
        status=status,
        created_at=at,
        updated_at=at,
    )
    session.add(message)
    session.flush()
    return message


def _photo(session: Session, seed: int) -> StoredFile:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (seed, 0, 0)).save(out, "PNG")
    return uploads.store_upload(
        session,
        data=out.getvalue(),
        filename="p.png",
        allowed=frozenset({"image"}),
        uploaded_by_id=None,
        now=NOW - timedelta(days=2000),
    )


def test_retention_deletes_what_is_due_and_keeps_evidence(
    app: Flask, session: Session, runner: FlaskCliRunner
) -> None:
    world = make_world(session)
    old_sent = _message(session, world, status=MessageStatus.SENT, age_days=400)
    old_failed = _message(session, world, status=MessageStatus.FAILED, age_days=400)
    old_queued = _message(session, world, status=MessageStatus.QUEUED, age_days=400)
    recent = _message(session, world, status=MessageStatus.SENT, age_days=30)
    cited = _message(session, world, status=MessageStatus.SENT, age_days=400)
    session.add(
        ContactAttempt(
            unit_id=world.unit.id,
            channel="inbox",
            category="service",
            at=cited.created_at,
            source_type="test",
            message_id=cited.id,
        )
    )
    old_ticket = make_ticket(session, world)
    new_ticket = make_ticket(session, world)
    old_ticket.closed_at = NOW - timedelta(days=1200)
    new_ticket.closed_at = NOW - timedelta(days=10)
    old_file, new_file, loose = _photo(session, 1), _photo(session, 2), _photo(session, 3)
    for ticket, stored in ((old_ticket, old_file), (new_ticket, new_file)):
        session.add(
            TicketPhoto(ticket_id=ticket.id, stored_file_id=stored.id, created_at=stored.created_at)
        )
    session.commit()
    old_path = uploads.storage_path(old_file.sha256, old_file.extension)
    loose_path = uploads.storage_path(loose.sha256, loose.extension)
    new_path = uploads.storage_path(new_file.sha256, new_file.extension)
    assert old_path.exists()
    audit_rows = session.scalar(select(func.count(AuditEntry.id)))
    ids = {m: m.id for m in (old_sent, old_failed, old_queued, recent, cited)}
    new_file_id = new_file.id

    result = runner.invoke(args=["privacy", "retention", "--date", "2026-11-20"])
    assert result.exit_code == 0, result.output
    assert "2 messages, 1 ticket photos and 2 unreferenced files deleted" in result.output
    session.expire_all()
    remaining = set(session.scalars(select(Message.id)))
    assert remaining == {ids[old_queued], ids[recent], ids[cited]}  # unfinished, young, cited
    photos = set(session.scalars(select(TicketPhoto.stored_file_id)))
    assert photos == {new_file_id}
    assert not old_path.exists()
    assert not loose_path.exists()
    assert new_path.exists()
    # audit rows only grow: the run itself is recorded
    assert session.scalar(select(func.count(AuditEntry.id))) == audit_rows + 1
    last = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    assert last.action == "privacy.retention_applied"
    assert last.details["messages"] == 2

    again = runner.invoke(args=["privacy", "retention", "--date", "2026-11-20"])
    assert "0 messages, 0 ticket photos and 0 unreferenced files deleted" in again.output
    assert session.scalar(select(func.count(AuditEntry.id))) == audit_rows + 1


def test_shared_bytes_stay_while_another_row_uses_them(app: Flask, session: Session) -> None:
    first = _photo(session, 9)
    second = _photo(session, 9)  # same content: same file on disk, two rows
    world = make_world(session)
    ticket = make_ticket(session, world)
    session.add(TicketPhoto(ticket_id=ticket.id, stored_file_id=second.id, created_at=NOW))
    session.flush()
    result = retention.apply(session, now=NOW, message_days=365, upload_days=1096)
    session.commit()
    retention.remove_files(result.unlink)
    assert result.files == 1
    assert session.get(StoredFile, first.id) is None
    assert uploads.storage_path(second.sha256, second.extension).exists()
