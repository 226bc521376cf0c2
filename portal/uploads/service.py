"""Accept uploads safely: sniff the content, cap the size, re-encode images without metadata.

What is stored is never what was sent: images are decoded and re-encoded by Pillow (dropping
EXIF, GPS and anything appended) after their header shows at most MAX_PIXELS; PDFs are parsed
with pypdf and every object, including those inside compressed object streams, is walked for
scripts, automatic actions, launch actions, attachments, rich media and XFA forms (names are
compared after pypdf decodes #xx escapes, so /J#61vaScript is /JavaScript). SVG, HTML and
executables are refused whatever their names say.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from datetime import datetime
from pathlib import Path

from flask import Response, current_app, send_file
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from portal.errors import DomainError
from portal.uploads.models import StoredFile

MAX_BYTES = 10 * 1024 * 1024
# A phone photo is 12-24 MP; Pillow's own guard (89 MP warning, 179 MP error) lets a 4.9 KB
# 6300x6300 PNG cost 190 MB. The header is read (not the pixels) before this check.
MAX_PIXELS = 24_000_000
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/jpeg", "jpg"),
    "GIF": ("image/png", "png"),
    "BMP": ("image/png", "png"),
    "MPO": ("image/jpeg", "jpg"),
    "HEIF": ("image/jpeg", "jpg"),
}
# Dictionary keys that carry scripts, automatic actions, attachments, rich media or XFA forms.
PDF_FORBIDDEN_KEYS = frozenset(
    {
        "/JS",
        "/JavaScript",
        "/OpenAction",
        "/AA",
        "/Launch",
        "/EmbeddedFiles",
        "/EmbeddedFile",
        "/RichMedia",
        "/RichMediaContent",
        "/XFA",
    }
)
# Name values (an action's /S, an annotation's /Subtype, a /Type) with the same effect.
PDF_FORBIDDEN_NAMES = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/EmbeddedFile",
        "/FileAttachment",
        "/RichMedia",
        "/RichMediaExecute",
        "/SubmitForm",
        "/ImportData",
        "/GoToE",
    }
)
MAX_PDF_OBJECTS = 50_000
_OBJ_HEADER = re.compile(rb"(?<![0-9])([0-9]{1,10})\s+[0-9]{1,5}\s+obj\b")


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
        with warnings.catch_warnings():
            # Our cap is far below Pillow's warning threshold; its warning adds nothing.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))  # reads the header only, not the pixels
        with probe:
            fmt = probe.format or ""
            width, height = probe.size
            if fmt not in IMAGE_FORMATS:
                raise DomainError(_l("不支持的图片格式"), field="file", code="bad_type")
            if width * height > MAX_PIXELS:
                raise DomainError(
                    _l(
                        "图片像素过多（%(w)s×%(h)s），最多 %(limit)s 像素，请缩小后再上传",
                        w=width,
                        h=height,
                        limit=f"{MAX_PIXELS:,}",
                    ),
                    field="file",
                    code="too_large",
                )
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img)  # keep orientation, then drop the EXIF itself
            # Pillow writes info["comment"] (JPEG COM) and info["exif"] back when saving:
            # keep only the colour profile, so no comment, EXIF or GPS reaches storage.
            img.info = {k: v for k, v in img.info.items() if k == "icc_profile"}
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
    except Image.DecompressionBombError as exc:  # Pillow's own guard, far above MAX_PIXELS
        raise DomainError(
            _l("图片像素过多，最多 %(limit)s 像素，请缩小后再上传", limit=f"{MAX_PIXELS:,}"),
            field="file",
            code="too_large",
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DomainError(_l("文件内容不是有效的图片"), field="file", code="bad_type") from exc


def _pdf_refused(message: object) -> DomainError:
    return DomainError(message, field="file", code="bad_type")


def _pdf(data: bytes) -> bytes:
    """Parse the PDF and refuse it if any object holds a forbidden key or name."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise _pdf_refused(_l("PDF 已加密或设了密码，请上传未加密的文件"))
            if len(reader.pages) < 1:
                raise _pdf_refused(_l("文件内容不是有效的 PDF"))
            _pdf_check_objects(reader, data)
    except DomainError:
        raise
    except (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        RecursionError,
        OSError,
        MemoryError,
        IndexError,
        AssertionError,
        UnicodeError,
        ZeroDivisionError,
    ) as exc:
        raise _pdf_refused(_l("文件内容不是有效的 PDF（无法解析）")) from exc
    return data


def _pdf_check_objects(reader: PdfReader, data: bytes) -> None:
    listed: set[int] = set(reader.xref_objStm)
    for by_id in reader.xref.values():
        listed.update(by_id)
    listed.update(getattr(reader, "xref_free_entry", {}).get(0, {}))
    # An object the cross-reference table does not list is skipped by a strict reader but
    # found by a viewer that rebuilds the table, so it cannot be checked: refuse the file.
    for match in _OBJ_HEADER.finditer(data):
        if int(match.group(1)) not in listed:
            raise _pdf_refused(_l("PDF 结构异常（有未登记的对象），请重新导出后上传"))
    if len(listed) > MAX_PDF_OBJECTS:
        raise _pdf_refused(_l("PDF 过于复杂，请重新导出后上传"))
    roots: list[object] = [reader.trailer]
    for generation, by_id in reader.xref.items():
        roots.extend(reader.get_object(IndirectObject(n, generation, reader)) for n in by_id)
    roots.extend(reader.get_object(IndirectObject(n, 0, reader)) for n in reader.xref_objStm)
    # Walk direct containers only (every indirect object is a root already), so no cycles.
    stack = [obj for obj in roots if obj is not None]
    while stack:
        obj = stack.pop()
        if isinstance(obj, DictionaryObject):
            for key, value in obj.items():
                if key in PDF_FORBIDDEN_KEYS:
                    raise _pdf_refused(_pdf_message(key))
                if not isinstance(value, IndirectObject):
                    stack.append(value)
        elif isinstance(obj, ArrayObject):
            stack.extend(v for v in obj if not isinstance(v, IndirectObject))
        elif isinstance(obj, NameObject) and obj in PDF_FORBIDDEN_NAMES:
            raise _pdf_refused(_pdf_message(obj))


def _pdf_message(name: str) -> object:
    if name in ("/JS", "/JavaScript"):
        return _l("PDF 含有脚本（JavaScript），不能上传")
    if name in ("/EmbeddedFiles", "/EmbeddedFile", "/FileAttachment"):
        return _l("PDF 含有嵌入的附件，不能上传")
    return _l("PDF 含有自动动作、启动程序、多媒体或表单脚本（%(name)s），不能上传", name=name[1:])


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
    stored: StoredFile,
    download_name: str | None = None,
    as_attachment: bool = False,
    *,
    public: bool = False,
) -> Response:
    """Serve a stored file (call only after the caller's own access check).

    Private files (ticket photos, dispute evidence, drafts, members-only documents) are
    `Cache-Control: private, no-store`; only `public=True` (published evidence anyone may
    see) may be cached. PDFs are always downloads, never rendered inline by the browser.
    """
    is_pdf = stored.content_type == "application/pdf"
    response = send_file(
        storage_path(stored.sha256, stored.extension),
        mimetype=stored.content_type,
        as_attachment=as_attachment or is_pdf,
        download_name=download_name or stored.original_name,
        max_age=3600 if public else None,
        conditional=public,
        etag=public,
        last_modified=stored.created_at if public else None,
    )
    if public:
        response.cache_control.public = True
    else:
        response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
