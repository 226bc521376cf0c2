"""Keep the English catalogue in step with the source (Chinese) strings.

usage: python scripts/i18n.py update   extract, merge into translations/en, compile, list gaps
       python scripts/i18n.py fill FILE  apply a TSV of "chinese<TAB>english" lines, then compile

A plural message (ngettext) takes "chinese<TAB>english one<TAB>english other" (with only one
English column it is used for both forms); the Chinese is the singular msgid.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations/en/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")
POT = ROOT / "translations/messages.pot"
BIN = Path(sys.executable).parent


def _run(*args: str) -> None:
    subprocess.run(  # noqa: S603 - our own pybabel with fixed arguments
        [str(BIN / "pybabel"), *args],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def compile_catalogue() -> None:
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    with MO.open("wb") as fh:
        write_mo(fh, catalog)


def update() -> int:
    _run(
        "extract",
        "-F",
        "babel.cfg",
        "-k",
        "_l",
        "--no-location",
        "--sort-output",
        # Babel skips directories starting with "_" by default, which left the strings of
        # templates/_macros/ out of the catalogue; hidden directories stay skipped.
        "--ignore-dirs",
        ".*",
        "-o",
        str(POT),
        ".",
    )
    _run(
        "update",
        "-i",
        str(POT),
        "-d",
        "translations",
        "-l",
        "en",
        "--no-fuzzy-matching",
        "--ignore-obsolete",
    )
    compile_catalogue()
    with PO.open("rb") as fh:
        missing = [
            m.id if isinstance(m.id, str) else m.id[0]
            for m in read_po(fh, locale="en")
            if m.id and not _translated(m.string)
        ]
    for msgid in missing:
        print(f"untranslated: {msgid}")
    return 1 if missing else 0


def _translated(string: str | tuple[str, ...]) -> bool:
    """A translation is there: every plural form filled in."""
    return all(string) if isinstance(string, tuple) else bool(string)


def fill(tsv: Path) -> int:
    pairs = {}
    for line in tsv.read_text().splitlines():
        if "\t" in line:
            zh, en = line.split("\t", 1)
            pairs[zh] = en
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    for message in catalog:
        if isinstance(message.id, tuple) and message.id[0] in pairs:
            forms = pairs[message.id[0]].split("\t")
            message.string = (forms[0], forms[-1])
            message.flags.discard("fuzzy")  # a singular turned plural keeps its old flag
        elif message.id in pairs:
            message.string = pairs[message.id].split("\t")[0]
            message.flags.discard("fuzzy")
    with PO.open("wb") as fh:
        write_po(fh, catalog, no_location=True, sort_output=True, width=100)
    compile_catalogue()
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "update"
    # Several people (or agents) may update the catalogue at once: take turns.
    with (ROOT / "translations/.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sys.exit(fill(Path(sys.argv[2])) if command == "fill" else update())
