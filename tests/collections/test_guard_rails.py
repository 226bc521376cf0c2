"""Civil Code art. 944: nothing in the system offers to restrict water, power, heating, gas,
lifts or access to press for payment — no route, no button or menu entry in any template, no
CLI command, no collections action."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from portal import ROOT
from portal.collections.labels import ACTION_LABELS
from portal.collections.models import ContactChannel, TaskKind

ENGLISH = re.compile(
    r"(cut|stop|suspend|disable|restrict|shut|block|lock|deny)[-_ ]?(off[-_ ]?)?"
    r"(water|power|electric\w*|heat\w*|gas|lift|elevator|access|door|entry)",
    re.IGNORECASE,
)
CHINESE = re.compile(
    r"停水|断水|停电|断电|停暖|断暖|停气|断气|停供|停梯|锁梯|停用电梯|关闭电梯|限制门禁|停用门禁"
    r"|禁止进入|限制出入|门禁卡停用"
)
ACTION_ELEMENTS = re.compile(
    r"<(button|option|a|summary|legend)\b[^>]*>(.*?)</\1>|value=\"([^\"]*)\"", re.S
)


def _offends(text: str) -> bool:
    return bool(ENGLISH.search(text) or CHINESE.search(text))


def test_no_route_offers_to_cut_supplies(app: Flask) -> None:
    offenders = [
        f"{rule.rule} ({rule.endpoint})"
        for rule in app.url_map.iter_rules()
        if _offends(rule.rule) or _offends(rule.endpoint)
    ]
    assert offenders == []


def test_no_cli_command_offers_to_cut_supplies(app: Flask) -> None:
    offenders = []
    for name, command in app.cli.commands.items():
        subcommands = getattr(command, "commands", {name: command})
        for sub_name, sub in subcommands.items():
            text = f"{name} {sub_name} {sub.help or ''} " + " ".join(
                f"{p.name} {getattr(p, 'help', '') or ''}" for p in sub.params
            )
            if _offends(text):
                offenders.append(f"{name} {sub_name}")
    assert offenders == []


def test_no_button_link_or_option_offers_to_cut_supplies() -> None:
    offenders = []
    for path in sorted(Path(ROOT / "templates").rglob("*.html")):
        for match in ACTION_ELEMENTS.finditer(path.read_text()):
            text = " ".join(g for g in match.groups()[1:] if g)
            # Maintenance notices (停水检修) are announcements, not actions against an owner.
            if _offends(text) and "检修" not in text:
                offenders.append(f"{path.relative_to(ROOT)}: {text.strip()[:60]}")
    assert offenders == []


def test_collections_has_no_such_step() -> None:
    vocabulary = [*TaskKind, *ContactChannel, *ACTION_LABELS, *map(str, ACTION_LABELS.values())]
    assert not [v for v in vocabulary if _offends(str(v))]
    for path in sorted((ROOT / "templates" / "collections").glob("*.html")):
        assert not _offends(path.read_text()), path


def test_the_rule_catches_what_it_should() -> None:
    assert _offends("/collections/cases/1/cut-water")
    assert _offends("suspend_access")
    assert _offends("欠费停梯")
    assert not _offends("/collections/cases/1/notice.pdf")
