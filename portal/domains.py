"""The domains of the portal, in dependency order, and discovery of what each one provides.

A domain package may have `models.py`, `views.py` (with `bp` and optionally `NAV`), `cli.py`
(with `group`, or `groups` for several), `api.py` (routes on the API blueprint) and `demo.py`
(with `seed(ctx)`). The factory registers whatever exists, so adding a domain never edits
shared files. Discovery is all `optional_module` and `modules` are for: the factory
(portal/__init__.py), the model registry (portal/models.py), the API blueprint
(portal/api/__init__.py) and the demo seed (portal/demo/service.py). Code inside a domain
imports what it calls.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

# A domain imports only the domains listed before it (plain imports, checked by
# tests/test_house_rules.py). A fact a lower domain needs lives in that lower domain; the
# factory's discovery (optional_module / modules) is the only code that looks upward.
DOMAINS = (
    "audit",  # the append-only log every domain writes to; it knows no domain
    "accounts",  # users, roles, tokens (may audit logins)
    "communities",  # communities, buildings, units, ownership; `users create` scopes a user
    "uploads",  # stored files (evidence, photos)
    "notify",  # outbox and channels: every domain below queues its messages here
    # The hash-chained publication log, out of transparency because notices and billing
    # publish into it (notices, fee standards) and transparency's pages read billing.
    "publication",
    "notices",  # notice board; fee-change notices come before the fee standards they announce
    # Fee standards, bills, late fees, holds and the ledger. The ledger is billing's books:
    # its postings are per bill line and it alone moves bill-line balances, while every
    # billing run posts to it, so the two form one domain instead of a cycle.
    "billing",
    "payments",  # intents, gateways, receipts, refunds; settles billing's lines
    # Owners' votes (art. 278), revenue proposals and on-time rewards (ledger credits). Below
    # transparency, so a fund draw can cite a passed vote and spending a chosen proposal.
    "governance",
    # Spending, budgets, funds, statements and the community's transparency page, which shows
    # collection rates and fee standards (billing) and the latest notices.
    "transparency",
    "tickets",  # repair requests, SLA, ratings, follow-ups, Open311 keys
    "open311",  # GeoReport v2 on top of tickets
    "disputes",  # objections to bill lines (billing holds), spending, standards, service
    # Complaints, surveys and each unit's satisfaction profile, which reads service disputes;
    # collections reads the profile.
    "feedback",
    "collections",  # arrears cases: reads billing, payments, feedback, tickets, disputes
    "reports",  # KPIs across domains and the public stats API
    "site",  # the landing page: a user's units and balances
    "privacy",  # PIPL rights: data export over every table, erasure, retention
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
    """portal.<domain>.<name> when the file exists, else None (for discovery only)."""
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
