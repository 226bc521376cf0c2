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


def _translated(string: str | tuple[str, ...]) -> bool:
    return all(string) if isinstance(string, tuple) else bool(string)


def _plain(value: str | list[str] | tuple[str, ...]) -> str | tuple[str, ...]:
    return value if isinstance(value, str) else tuple(value)  # plurals: po lists, mo tuples


def _key(msgid: str | tuple[str, ...]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]  # a plural: its singular


def test_every_string_has_an_english_translation() -> None:
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    translated = {_key(m.id) for m in catalog if m.id and _translated(m.string)}
    missing = sorted(_source_ids() - translated)
    assert missing == [], "run `python scripts/i18n.py update` and translate: " + repr(missing[:10])


def test_compiled_catalogue_is_fresh() -> None:
    with PO.open("rb") as fh:
        po = {
            _plain(m.id): _plain(m.string)
            for m in read_po(fh, locale="en")
            if m.id and _translated(m.string)
        }
    mo = {
        _plain(m.id): _plain(m.string)
        for m in read_mo(BytesIO(PO.with_suffix(".mo").read_bytes()))
        if m.id
    }
    assert mo == po, "run `python scripts/i18n.py update` to recompile messages.mo"


def test_english_counts_agree_with_their_number(app) -> None:
    """ "1 bills overdue" was wrong: count strings are plural messages (ngettext)."""
    from flask import render_template_string
    from flask_babel import refresh

    source = (
        '{{ ngettext("%(n)s 张账单已逾期", "%(n)s 张账单已逾期", n, n=n) }}'
        '{{ ngettext("，最长 %(d)s 天", "，最长 %(d)s 天", d, d=d) }}'
    )
    with app.test_request_context("/?lang=en"):
        refresh()  # the test's app context is shared: forget the cached locale
        assert render_template_string(source, n=1, d=1) == "1 bill overdue, the oldest by 1 day"
        assert render_template_string(source, n=3, d=40) == (
            "3 bills overdue, the oldest by 40 days"
        )
    with app.test_request_context("/?lang=zh"):
        refresh()
        assert render_template_string(source, n=1, d=1) == "1 张账单已逾期，最长 1 天"
