"""Rules the whole code base keeps: no floats near money, no create_all, no CDN assets."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sources(folder: str, pattern: str = "*.py") -> list[Path]:
    return sorted((ROOT / folder).rglob(pattern))


def test_no_float_in_portal() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _sources("portal")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bFloat\b|float\(", line) and "noqa: float-ok" not in line
    ]
    assert offenders == []


def test_no_create_all_outside_tests() -> None:
    assert [p for p in _sources("portal") if "create_all(" in p.read_text()] == []


def test_no_network_assets() -> None:
    pattern = re.compile(r"(https?:)?//(cdn\.|unpkg\.com|cdn\.jsdelivr|fonts\.googleapis)")
    offenders = [p for p in _sources("templates", "*.html") if pattern.search(p.read_text())]
    offenders += [p for p in _sources("static/css", "*.css") if pattern.search(p.read_text())]
    assert offenders == []


def test_no_way_to_cut_utilities() -> None:
    """Civil Code art. 944: no action anywhere may cut water, power, heating or gas."""
    words = re.compile(r"cut_(water|power|electricity|gas|heating)|停水催缴|断电催缴")
    offenders = [
        p
        for p in _sources("portal") + _sources("templates", "*.html")
        if words.search(p.read_text())
    ]
    assert offenders == []
