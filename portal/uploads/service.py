"""Accept uploads safely: sniff the content, cap the size, re-encode images without metadata.

What is stored is never what was sent: images are decoded and re-encoded by Pillow (dropping
EXIF, GPS and anything appended), PDFs must start with %PDF- and contain no JavaScript or
launch actions. SVG, HTML and executables are refused whatever their names say.
"""

from __future__ import annotations

import hashlib
import io
import os
from datetime import datetime
from pathlib import Path

from flask import Response, current_app, send_file
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from portal.errors import DomainError
from portal.uploads.models import StoredFile

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuse decompression bombs well before Pillow's own limit
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/jpeg", "jpg"),
    "GIF": ("image/png", "png"),
    "BMP": ("image/png", "png"),
    "MPO": ("image/jpeg", "jpg"),
    "HEIF": ("image/jpeg", "jpg"),
}
PDF_FORBIDDEN = (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/RichMedia")


def read_upload(file: FileStorage, max_bytes: int = MAX_BYTES) -> bytes:
    """Read at most max_bytes (+1 to detect excess) from an uploaded file."""
    data = file.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DomainError(
            _l("文件过大：最大 %(mb)s MB", mb=max_bytes // (1024 * 1024)),
            field="file",
            code="too_large",
        )
    return data


def _image(data: bytes) -> tuple[bytes, str, str, int, int]:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            width, height = probe.size
            if fmt not in IMAGE_FORMATS:
                raise DomainError(_l("不支持的图片格式"), field="file", code="bad_type")
            if width * height > MAX_PIXELS:
                raise DomainError(_l("图片尺寸过大"), field="file", code="too_large")
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img)  # keep orientation, then drop the EXIF itself
            content_type, ext = IMAGE_FORMATS[fmt]
            out = io.BytesIO()
            if ext == "jpg":
                img.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
            else:
                if img.mode not in ("RGB", "RGBA", "L", "LA"):
                    img = img.convert("RGBA")
                img.save(out, "PNG", optimize=True)
            return out.getvalue(), content_type, ext, img.width, img.height
    except DomainError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DomainError(_l("文件内容不是有效的图片"), field="file", code="bad_type") from exc


def _pdf(data: bytes) -> bytes:
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-2048:]:
        raise DomainError(_l("文件内容不是有效的 PDF"), field="file", code="bad_type")
    if any(marker in data for marker in PDF_FORBIDDEN):
        raise DomainError(_l("PDF 含有脚本或嵌入文件，不能上传"), field="file", code="bad_type")
    return data


def store_upload(
    session: Session,
    *,
    data: bytes,
    filename: str,
    allowed: frozenset[str],
    uploaded_by_id: int | None,
    now: datetime,
    max_bytes: int = MAX_BYTES,
) -> StoredFile:
    """Check, clean and store one file; raise DomainError (nothing written) if refused."""
    if not data:
        raise DomainError(_l("文件为空"), field="file", code="empty")
    if len(data) > max_bytes:
        raise DomainError(
            _l("文件过大：最大 %(mb)s MB", mb=max_bytes // (1024 * 1024)),
            field="file",
            code="too_large",
        )
    width = height = None
    if data.startswith(b"%PDF-"):
        if "pdf" not in allowed:
            raise DomainError(_l("只能上传图片"), field="file", code="bad_type")
        clean, content_type, ext = _pdf(data), "application/pdf", "pdf"
    else:
        if "image" not in allowed:
            raise DomainError(_l("只能上传 PDF"), field="file", code="bad_type")
        clean, content_type, ext, width, height = _image(data)
    digest = hashlib.sha256(clean).hexdigest()
    path = storage_path(digest, ext)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp" + str(os.getpid()))
        tmp.write_bytes(clean)
        tmp.replace(path)
    stored = StoredFile(
        sha256=digest,
        content_type=content_type,
        extension=ext,
        size_bytes=len(clean),
        original_name=_safe_name(filename, ext),
        width=width,
        height=height,
        uploaded_by_id=uploaded_by_id,
        created_at=now,
    )
    session.add(stored)
    session.flush()
    return stored


def _safe_name(filename: str, ext: str) -> str:
    stem = Path(filename or "file").stem.replace("/", "_").replace("\\", "_")[:200] or "file"
    return f"{stem}.{ext}"


def storage_path(digest: str, ext: str) -> Path:
    root = Path(
        current_app.config.get("UPLOAD_FOLDER") or Path(current_app.instance_path) / "uploads"
    )
    return root / digest[:2] / f"{digest}.{ext}"


def send_stored(
    stored: StoredFile, download_name: str | None = None, as_attachment: bool = False
) -> Response:
    """Serve a stored file (call only after the caller's own access check)."""
    response = send_file(
        storage_path(stored.sha256, stored.extension),
        mimetype=stored.content_type,
        as_attachment=as_attachment,
        download_name=download_name or stored.original_name,
        max_age=3600,
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
