"""The built-in test-mode gateway: a simulated checkout page and an HMAC-signed callback.

Callback body (DESIGN.md §3): JSON {"out_trade_no", "txn_id", "amount_fen", "status"}, header
X-Sandbox-Signature = hex(HMAC-SHA256(SANDBOX_SECRET, raw body)). Disabled by PAYMENTS_SANDBOX=0.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime

from portal.payments.gateways.base import (
    Ack,
    BadNotification,
    Checkout,
    CheckoutRequest,
    Notification,
    NotificationStatus,
)

STATUSES = {
    "SUCCESS": NotificationStatus.SUCCESS,
    "FAILED": NotificationStatus.FAILED,
    "CLOSED": NotificationStatus.FAILED,
    "PENDING": NotificationStatus.PENDING,
}


def sign(secret: str, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, body))."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SandboxGateway:
    channel = "sandbox"

    def __init__(self, secret: str, checkout_url: str = "/payments/sandbox/{out_trade_no}"):
        self.secret = secret
        self.checkout_url = checkout_url

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        return Checkout(pay_url=self.checkout_url.format(out_trade_no=request.out_trade_no))

    def notification_body(
        self, *, out_trade_no: str, txn_id: str, amount_fen: int, status: str = "SUCCESS"
    ) -> tuple[bytes, str]:
        """The body and signature the simulated platform sends (used by the checkout page)."""
        body = json.dumps(
            {
                "out_trade_no": out_trade_no,
                "txn_id": txn_id,
                "amount_fen": amount_fen,
                "status": status,
            }
        ).encode()
        return body, sign(self.secret, body)

    def parse_notification(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> Notification:
        signature = headers.get("X-Sandbox-Signature", "")
        if not signature or not hmac.compare_digest(signature, sign(self.secret, body)):
            raise BadNotification("bad signature")
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise BadNotification("body is not JSON") from exc
        if not isinstance(data, dict):
            raise BadNotification("body is not a JSON object")
        amount = data.get("amount_fen")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise BadNotification("amount_fen must be a positive integer")
        out_trade_no, txn_id = data.get("out_trade_no"), data.get("txn_id")
        if not isinstance(out_trade_no, str) or not isinstance(txn_id, str) or not txn_id:
            raise BadNotification("out_trade_no and txn_id are required strings")
        status = STATUSES.get(str(data.get("status")))
        if status is None:
            raise BadNotification("unknown status")
        return Notification(
            out_trade_no=out_trade_no,
            txn_id=txn_id[:64],
            amount_fen=amount,
            status=status,
            paid_at=now if status == "SUCCESS" else None,
            raw=data,
        )

    def ack(self, ok: bool, message: str = "") -> Ack:
        body = json.dumps(
            {"status": "ok"} if ok else {"error": {"code": "rejected", "message": message}}
        )
        return Ack(status=200 if ok else 400, body=body)
