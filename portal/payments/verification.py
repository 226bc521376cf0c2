"""Public receipt check: a keyed hash of (receipt number, amount) printed as a QR code.

Anyone holding a receipt can scan it (or type the number, amount and check code) and see
that the portal issued that receipt for that amount. The page shows no personal data: the
number, amount, date, community and channel only. The key is derived from SECRET_KEY, so a
forger who knows the scheme still cannot make a valid code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.communities.models import Community
from portal.payments.models import Receipt, Refund, RefundStatus

CODE_LENGTH = 16
_CODE = re.compile(r"^[0-9a-f]{16}$")
_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,40}$")


def check_code(secret_key: str | bytes, *, number: str, amount_fen: int) -> str:
    """The receipt's check code: HMAC-SHA256 under a key derived from SECRET_KEY, 16 hex."""
    secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
    key = hmac.new(secret, b"clearfee receipt verification", hashlib.sha256).digest()
    message = f"{number}|{int(amount_fen)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:CODE_LENGTH]


@dataclass(frozen=True)
class Verdict:
    valid: bool
    number: str = ""
    amount_fen: int = 0
    issued_at: object = None
    community_name: str = ""
    channel: str = ""
    refunded_fen: int = 0


def verify(
    session: Session, *, secret_key: str | bytes, number: str, amount: str, code: str
) -> Verdict:
    """Valid only when the code matches the number and amount and the receipt exists with
    that amount; any malformed input is simply not valid (never an error)."""
    number = (number or "").strip()
    code = (code or "").strip().lower()
    amount = (amount or "").strip()
    if not _NUMBER.match(number) or not _CODE.match(code) or not amount.isdigit():
        return Verdict(valid=False)
    if len(amount) > 15:
        return Verdict(valid=False)
    amount_fen = int(amount)
    expected = check_code(secret_key, number=number, amount_fen=amount_fen)
    if not hmac.compare_digest(expected, code):
        return Verdict(valid=False)
    receipt = session.scalar(select(Receipt).where(Receipt.number == number))
    if receipt is None or receipt.payment.amount_fen != amount_fen:
        return Verdict(valid=False)
    refunded = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
            Refund.payment_id == receipt.payment_id, Refund.status == RefundStatus.DONE
        )
    )
    community = session.get(Community, receipt.community_id)
    return Verdict(
        valid=True,
        number=receipt.number,
        amount_fen=amount_fen,
        issued_at=receipt.issued_at,
        community_name=community.name if community else "",
        channel=receipt.payment.channel,
        refunded_fen=int(refunded or 0),
    )
