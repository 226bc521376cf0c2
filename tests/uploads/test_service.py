import io

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.errors import DomainError
from portal.uploads import service
from portal.uploads.models import StoredFile
from tests.factories import NOW
from tests.uploads import corpus

BOTH = frozenset({"image", "pdf"})


def _jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (40, 30), "red")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {2: (31, 14, 0)}  # GPS
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_image_is_reencoded_without_metadata(session: Session) -> None:
    data = _jpeg_with_exif()
    assert b"SpyCam" in data
    stored = service.store_upload(
        session, data=data, filename="发票.jpg", allowed=BOTH, uploaded_by_id=None, now=NOW
    )
    clean = service.storage_path(stored.sha256, stored.extension).read_bytes()
    assert b"SpyCam" not in clean
    with Image.open(io.BytesIO(clean)) as img:
        assert not img.getexif()
        assert img.size == (40, 30)
    assert stored.content_type == "image/jpeg"
    assert stored.original_name == "发票.jpg"


def test_png_stays_png(session: Session) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (5, 5)).save(out, "PNG")
    stored = service.store_upload(
        session, data=out.getvalue(), filename="a.png", allowed=BOTH, uploaded_by_id=None, now=NOW
    )
    assert stored.content_type == "image/png"


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"MZ\x90\x00" + b"\x00" * 200, "invoice.jpg", "bad_type"),  # an .exe renamed .jpg
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "x.svg",
            "bad_type",
        ),
        (b"<html><script>alert(1)</script></html>", "x.jpg", "bad_type"),
        (b"%PDF-1.4\n1 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj\n%%EOF", "x.pdf", "bad_type"),
        (b"%PDF-1.4 truncated", "x.pdf", "bad_type"),
        (b"", "empty.jpg", "empty"),
    ],
)
def test_disguised_or_dangerous_files_refused(
    session: Session, data: bytes, name: str, code: str
) -> None:
    with pytest.raises(DomainError) as info:
        service.store_upload(
            session, data=data, filename=name, allowed=BOTH, uploaded_by_id=None, now=NOW
        )
    assert info.value.code == code
    assert session.scalar(select(func.count(StoredFile.id))) == 0


def test_oversized_refused(session: Session) -> None:
    data = b"\xff\xd8" + b"\x00" * (30 * 1024 * 1024)
    with pytest.raises(DomainError, match="文件过大"):
        service.store_upload(
            session, data=data, filename="big.jpg", allowed=BOTH, uploaded_by_id=None, now=NOW
        )
    assert session.scalar(select(func.count(StoredFile.id))) == 0


def test_pdf_accepted_only_where_allowed(session: Session) -> None:
    pdf = corpus.page_pdf()
    stored = service.store_upload(
        session, data=pdf, filename="合同.pdf", allowed=BOTH, uploaded_by_id=None, now=NOW
    )
    assert stored.content_type == "application/pdf"
    with pytest.raises(DomainError, match="只能上传图片"):
        service.store_upload(
            session,
            data=pdf,
            filename="x.pdf",
            allowed=frozenset({"image"}),
            uploaded_by_id=None,
            now=NOW,
        )


def test_pdfs_are_served_as_attachments_and_private_files_not_cached(
    app: Flask, session: Session
) -> None:
    stored = service.store_upload(
        session,
        data=corpus.page_pdf(),
        filename="合同.pdf",
        allowed=BOTH,
        uploaded_by_id=None,
        now=NOW,
    )
    with app.test_request_context():
        private = service.send_stored(stored)
        public = service.send_stored(stored, public=True)
    for response in (private, public):
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        response.close()
    assert private.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in private.headers
    assert "public" in public.headers["Cache-Control"]
    assert "max-age=3600" in public.headers["Cache-Control"]
