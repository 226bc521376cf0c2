"""docs/asvs.md is generated from the OWASP files and names tests that exist."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator():  # scripts/ is not a package
    spec = importlib.util.spec_from_file_location("asvs_table", ROOT / "scripts" / "asvs_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_is_up_to_date() -> None:
    table = _generator().render()
    assert (ROOT / "docs" / "asvs.md").read_text(encoding="utf-8") == table, (
        "run: python scripts/asvs_table.py"
    )


def test_every_requirement_of_levels_1_and_2_is_listed_once() -> None:
    ids = re.findall(
        r"^\| (V\d+\.\d+\.\d+) \| L([12]) \|", (ROOT / "docs" / "asvs.md").read_text(), re.M
    )
    assert len(ids) == len({i for i, _ in ids}) == 253


def test_every_cited_test_exists() -> None:
    text = (ROOT / "docs" / "asvs.md").read_text(encoding="utf-8")
    for path, name in re.findall(r"(tests/[\w/]+(?:\.py)?/?)(?:::(\w+))?", text):
        target = ROOT / path.replace("*", "")
        if "*" in path:
            continue
        assert target.exists(), path
        if name:
            assert f"def {name}(" in target.read_text(encoding="utf-8"), f"{path}::{name}"
