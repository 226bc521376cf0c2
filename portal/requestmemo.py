"""A read that a page and its base template both make, done once per request.

The owner's units and unread-message count are read by the page, the menu badges and the
bottom tab bar: three or four identical SELECTs per page. `memo` keeps the first answer in
`flask.g` for the rest of the request (outside a request it just computes). Only for reads
made while rendering, after the request's own writes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import g, has_request_context

T = TypeVar("T")


def memo(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` the first time `key` is asked for in this request, the same value after."""
    if not has_request_context():
        return compute()
    store: dict[Hashable, object] = g.setdefault("_request_memo", {})
    if key not in store:
        store[key] = compute()
    return store[key]  # type: ignore[return-value]
