"""Chinese first, English second: every source string has an English translation."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations/en/LC_MESSAGES/messages.po"
METHODS = [("portal/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def _source_ids() -> set[str]:
    ids: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_string_has_an_english_translation() -> None:
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    translated = {m.id for m in catalog if m.id and m.string}
    missing = sorted(_source_ids() - translated)
    assert missing == [], "run `python scripts/i18n.py update` and translate: " + repr(missing[:10])


def test_compiled_catalogue_is_fresh() -> None:
    with PO.open("rb") as fh:
        po = {m.id: m.string for m in read_po(fh, locale="en") if m.id and m.string}
    mo = {m.id: m.string for m in read_mo(BytesIO(PO.with_suffix(".mo").read_bytes())) if m.id}
    assert mo == po, "run `python scripts/i18n.py update` to recompile messages.mo"
