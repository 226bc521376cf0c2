"""The domains of the portal, in dependency order, and discovery of what each one provides.

A domain package may have `models.py`, `views.py` (with `bp` and optionally `NAV`), `cli.py`
(with `group`), `api.py` (routes on the API blueprint) and `demo.py` (with `seed(ctx)`).
The factory registers whatever exists, so adding a domain never edits shared files.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

DOMAINS = (
    "site",
    "accounts",
    "communities",
    "audit",
    "uploads",
    "notify",
    "transparency",
    "notices",
    "billing",
    "ledger",
    "payments",
    "tickets",
    "open311",
    "feedback",
    "disputes",
    "collections",
    "reports",
)


@dataclass(frozen=True)
class NavItem:
    """A menu entry: shown to users holding any of `roles` ("*" = any logged-in user)."""

    endpoint: str
    label: Any
    roles: tuple[str, ...] = ("*",)
    order: int = 50
    badge: Callable[[], int] | None = None  # a count shown beside the label (e.g. unread)


def optional_module(domain: str, name: str) -> ModuleType | None:
    """portal.<domain>.<name> when the file exists, else None."""
    dotted = f"portal.{domain}.{name}"
    try:
        spec = importlib.util.find_spec(dotted)
    except ModuleNotFoundError:
        return None
    return importlib.import_module(dotted) if spec is not None else None


def modules(name: str) -> list[ModuleType]:
    """Every domain's module called `name`, in domain order."""
    found = (optional_module(domain, name) for domain in DOMAINS)
    return [m for m in found if m is not None]
