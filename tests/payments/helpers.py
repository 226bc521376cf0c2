"""Shared helpers for payment tests: sign sandbox callbacks like the platform would."""

from __future__ import annotations

import json
from typing import Any

from portal.payments.gateways.sandbox import sign

SECRET = "sandbox-test-secret"


def sandbox_callback(
    out_trade_no: str,
    amount_fen: int,
    txn_id: str = "SBX1",
    status: str = "SUCCESS",
    secret: str = SECRET,
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"out_trade_no": out_trade_no, "txn_id": txn_id, "amount_fen": amount_fen, "status": status}
    ).encode()
    return body, {"X-Sandbox-Signature": sign(secret, body), "Content-Type": "application/json"}


def post_callback(client: Any, out_trade_no: str, amount_fen: int, **kwargs: Any) -> Any:
    body, headers = sandbox_callback(out_trade_no, amount_fen, **kwargs)
    return client.post("/payments/notify/sandbox", data=body, headers=headers)
