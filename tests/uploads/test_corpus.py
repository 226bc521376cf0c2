"""The hostile corpus (tests/uploads/corpus.py): every file refused is refused with the right
code and leaves nothing behind; every legitimate one is stored, cleaned."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from PIL import ImageFile
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.errors import DomainError
from portal.uploads import service
from portal.uploads.models import StoredFile
from tests.factories import NOW
from tests.uploads import corpus

CASES = corpus.cases()


def test_the_corpus_is_big_enough_and_has_both_bypasses() -> None:
    ids = {case.id for case in CASES}
    assert len(CASES) >= 50
    assert sum(case.expect != "ok" for case in CASES) >= 40
    assert {"pdf-name-escaped-js", "pdf-js-in-objstm", "png-bomb-6300"} <= ids
    escaped = next(c for c in CASES if c.id == "pdf-name-escaped-js").data
    assert b"/JavaScript" not in escaped  # a byte search misses it
    assert b"/JS" not in escaped
    hidden = next(c for c in CASES if c.id == "pdf-js-in-objstm").data
    assert b"JavaScript" not in hidden
    assert b"/JS" not in hidden
    assert b"OpenAction" not in hidden


def _stored_files(app: Flask) -> list[Path]:
    root = Path(app.config["UPLOAD_FOLDER"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_corpus(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch, case: corpus.Case
) -> None:
    if case.expect == "too_large" and case.data.startswith((b"\x89PNG", b"GIF8")):
        # a pixel bomb is refused from its header: decoding it at all is the failure
        def no_decode(self: ImageFile.ImageFile) -> None:
            raise AssertionError("the pixels of an over-size image were decoded")

        monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    store = {
        "data": case.data,
        "filename": case.name,
        "allowed": case.allowed,
        "uploaded_by_id": None,
        "now": NOW,
    }
    if case.expect == "ok":
        stored = service.store_upload(session, **store)
        clean = service.storage_path(stored.sha256, stored.extension).read_bytes()
        if case.absent:
            assert case.absent in case.data
            assert case.absent not in clean
        assert stored.original_name.endswith("." + stored.extension)
        return
    with pytest.raises(DomainError) as info:
        service.store_upload(session, **store)
    assert info.value.code == case.expect, str(info.value)
    assert info.value.field == "file"
    assert str(info.value)  # a message the user can read
    assert session.scalar(select(func.count(StoredFile.id))) == 0
    assert _stored_files(app) == []
