"""Payment intents (online checkouts), payments received, receipts, refunds, auto-debit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime


class Channel(StrEnum):
    SANDBOX = "sandbox"
    WECHAT = "wechat"
    ALIPAY = "alipay"
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    POS = "pos"
    AUTO_DEBIT = "auto_debit"


ONLINE_CHANNELS = (Channel.SANDBOX, Channel.WECHAT, Channel.ALIPAY)
OFFLINE_CHANNELS = (Channel.BANK_TRANSFER, Channel.CASH, Channel.POS, Channel.AUTO_DEBIT)


class IntentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RefundStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    DONE = "done"
    REJECTED = "rejected"


class MandateStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class PaymentIntent(Base):
    __tablename__ = "payment_intents"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    out_trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    channel: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # channel fee shown to payer
    status: Mapped[str] = mapped_column(String(16), default=IntentStatus.PENDING)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    pay_url: Mapped[str | None] = mapped_column(String(2000))
    qr_code: Mapped[str | None] = mapped_column(String(500))
    # WeChat JSAPI: the signed parameters the pay page hands to WeixinJSBridge.
    jsapi_params: Mapped[dict[str, str] | None] = mapped_column(JSON)
    txn_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    bills: Mapped[list[PaymentIntentBill]] = relationship(order_by="PaymentIntentBill.bill_id")


class PaymentIntentBill(Base):
    __tablename__ = "payment_intent_bills"

    intent_id: Mapped[int] = mapped_column(ForeignKey("payment_intents.id"), primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), primary_key=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # outstanding when the intent was made


class Payment(Base):
    """Money received. (channel, txn_id) is unique: a transaction is credited once."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("channel", "txn_id"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("refund_due_fen >= 0", name="refund_due_nonnegative"),
        Index("ix_payments_community_received", "community_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("payment_intents.id"))
    channel: Mapped[str] = mapped_column(String(16))
    txn_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # Money that found nothing to pay (e.g. two channels paid the same bill): kept as the
    # owner's prepayment and flagged to finance until refunded or used.
    refund_due_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(255), default="")

    receipt: Mapped[Receipt | None] = relationship(back_populates="payment", uselist=False)


class ReceiptCounter(Base):
    """Per-community, per-year receipt numbering (an UPDATE … +1 hands out numbers)."""

    __tablename__ = "receipt_counters"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Receipt(Base):
    __tablename__ = "receipts"
    __table_args__ = (UniqueConstraint("community_id", "year", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())

    payment: Mapped[Payment] = relationship(back_populates="receipt")


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    payment: Mapped[Payment] = relationship()


class AutoDebitMandate(Base):
    """An owner's 代扣 authorisation for one unit, with a maximum per bill they chose."""

    __tablename__ = "auto_debit_mandates"
    __table_args__ = (
        UniqueConstraint("unit_id", "user_id"),
        CheckConstraint("max_amount_fen > 0", name="max_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    bank_account_masked: Mapped[str] = mapped_column(String(40))
    max_amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=MandateStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
