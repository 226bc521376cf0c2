"""Test-only fault injection: die by SIGKILL at a named point of a code path.

`CLEARFEE_CRASH_AT=<point>` makes `crash_point(<point>)` flush the session (so the database
has seen the statements of the open transaction) and then kill its own process, as a power
cut or the OOM killer would. It works only when the process runs with CLEARFEE_ENV=test in
its environment; in any other mode the call does nothing, and `config.check` refuses to
start an app whose environment sets CLEARFEE_CRASH_AT outside test mode, so a stray variable
is loud instead of silent. Used by tests/payments/test_crash.py.
"""

from __future__ import annotations

import os
import signal
from typing import Any

ENV_VAR = "CLEARFEE_CRASH_AT"
POINTS = ("intent_claimed", "payment_row", "postings")


def armed() -> str | None:
    """The point to die at, or None (always None outside CLEARFEE_ENV=test)."""
    point = os.environ.get(ENV_VAR)
    if not point or os.environ.get("CLEARFEE_ENV") != "test":
        return None
    return point


def crash_point(name: str, session: Any = None) -> None:
    if armed() != name:
        return
    if session is not None:
        session.flush()
    os.kill(os.getpid(), signal.SIGKILL)
