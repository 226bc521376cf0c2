"""Online payment: which bills an owner may pay (less what is on hold), the payment
intent sent to a gateway, and the gateway's notification, handled exactly once."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.billing import dues
from portal.billing import queries as billing_queries
from portal.billing.models import Bill
from portal.communities.models import Community
from portal.errors import Conflict, DomainError, NotFound
from portal.faults import crash_point
from portal.payments.crediting import credit
from portal.payments.gateways.base import (
    CheckoutRequest,
    Gateway,
    Notification,
    NotificationStatus,
    Scene,
)
from portal.payments.models import (
    IntentStatus,
    Payment,
    PaymentIntent,
    PaymentIntentBill,
)

INTENT_TTL = timedelta(minutes=30)


class GatewayUnavailable(DomainError):
    code = "gateway_unavailable"
    status = 503


class AmountMismatch(DomainError):
    code = "amount_mismatch"
    status = 400


# ---------------------------------------------------------------- intents


def new_trade_no(now: datetime) -> str:
    """A unique, unguessable out_trade_no (≤ 32 chars, [A-Z0-9])."""
    return f"CF{now:%Y%m%d%H%M}{secrets.token_hex(6).upper()}"


def payable_bills(session: Session, *, user: User, bill_ids: Sequence[int]) -> list[Bill]:
    """The user's own open bills among bill_ids; any other id is refused as not found."""
    if not bill_ids:
        raise DomainError(_l("请选择要缴纳的账单"), field="bill_ids")
    unique_ids = sorted(set(bill_ids))
    found = list(
        session.scalars(
            select(Bill)
            .options(selectinload(Bill.lines), selectinload(Bill.unit))
            .where(
                Bill.id.in_(unique_ids),
                Bill.unit_id.in_(billing_queries.owned_unit_ids(session, user) or [-1]),
            )
            .order_by(Bill.id)
        )
    )
    if len(found) != len(unique_ids):  # another owner's bill looks like no bill at all
        raise NotFound(_l("账单不存在"), field="bill_ids")
    if len({b.community_id for b in found}) > 1:
        raise DomainError(_l("一次只能缴纳同一小区的账单"), field="bill_ids")
    if any(b.outstanding_fen <= 0 for b in found):
        raise DomainError(_l("所选账单中有已结清的账单"), field="bill_ids", code="already_paid")
    due = payable_fen(session, bills=found)
    if any(due[b.id] <= 0 for b in found):
        raise DomainError(
            _l("所选账单的未缴金额正在异议处理中，暂不需缴纳"), field="bill_ids", code="on_hold"
        )
    return found


def payable_fen(session: Session, *, bills: Sequence[Bill]) -> dict[int, int]:
    """What each bill asks for now: its outstanding less any amount held by an open dispute
    (billing.dues, the computation every page shows)."""
    figures = dues.bill_dues(session, bills=bills, now=None)
    return {bill_id: d.payable_fen for bill_id, d in figures.items()}


def create_intent(
    session: Session,
    *,
    user: User,
    bill_ids: Sequence[int],
    channel: str,
    idempotency_key: str,
    gateway: Gateway,
    now: datetime,
    notify_url: str,
    return_url: str,
    scene: Scene = Scene.DESKTOP,
    client_ip: str = "",
    openid: str | None = None,
) -> PaymentIntent:
    """A checkout for the outstanding amount of the chosen bills; same key → same intent.

    The checkout suits the payer's device (`scene`); `return_url` gets `out_trade_no` added,
    so the browser coming back from the platform finds its intent."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > 64:
        raise DomainError(_l("缺少幂等键（1 到 64 个字符）"), field="idempotency_key")
    existing = session.scalar(
        select(PaymentIntent).where(
            PaymentIntent.user_id == user.id, PaymentIntent.idempotency_key == key
        )
    )
    if existing is not None:
        if (
            sorted({b.bill_id for b in existing.bills}) != sorted(set(bill_ids))
            or existing.channel != channel
        ):
            raise Conflict(_l("该幂等键已用于另一笔支付"), field="idempotency_key")
        return existing
    if channel == "wechat" and scene is Scene.WECHAT and not openid:
        # JSAPI needs the openid, and WeChat refuses H5 pay inside its own browser.
        raise DomainError(wechat_needs_openid(), field="channel", code="openid_required")
    bills = payable_bills(session, user=user, bill_ids=bill_ids)
    due = payable_fen(session, bills=bills)
    amount = sum(due.values())
    community = session.get(Community, bills[0].community_id)
    intent = PaymentIntent(
        out_trade_no=new_trade_no(now),
        user_id=user.id,
        community_id=bills[0].community_id,
        channel=channel,
        amount_fen=amount,
        fee_fen=0,
        status=IntentStatus.PENDING,
        idempotency_key=key,
        created_at=now,
        expires_at=now + INTENT_TTL,
    )
    try:
        with session.begin_nested():
            session.add(intent)
            session.flush()
    except IntegrityError:  # the same key raced us: answer with the winner's intent
        winner = session.scalar(
            select(PaymentIntent).where(
                PaymentIntent.user_id == user.id, PaymentIntent.idempotency_key == key
            )
        )
        if winner is None:
            raise
        return winner
    for bill in bills:
        session.add(
            PaymentIntentBill(intent_id=intent.id, bill_id=bill.id, amount_fen=due[bill.id])
        )
    periods = "、".join(sorted({b.period_label for b in bills}))
    description = f"{community.name if community else ''} 物业费 {periods}"[:120]
    try:
        checkout = gateway.create_checkout(
            CheckoutRequest(
                out_trade_no=intent.out_trade_no,
                amount_fen=amount,
                description=description,
                notify_url=notify_url,
                return_url=_with_trade_no(return_url, intent.out_trade_no),
                expires_at=intent.expires_at,
                scene=scene,
                client_ip=client_ip,
                openid=openid,
            )
        )
    except (RuntimeError, OSError, ValueError) as exc:  # the platform refused or is down
        raise GatewayUnavailable(_l("支付渠道暂时不可用，请稍后再试或选择其他方式")) from exc
    intent.pay_url, intent.qr_code = checkout.pay_url, checkout.qr_code
    intent.jsapi_params = dict(checkout.jsapi) if checkout.jsapi else None
    session.flush()
    return intent


def wechat_needs_openid() -> str:
    """Why WeChat Pay cannot be used inside WeChat's browser without the payer's openid."""
    return str(
        _l(
            "在微信里使用微信支付，需要先绑定您的微信（“通知设置”中的微信绑定）；"
            "也可以点右上角“…”，在手机浏览器中打开本页支付"
        )
    )


def _with_trade_no(url: str, out_trade_no: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'out_trade_no': out_trade_no})}"


def get_owned_intent(session: Session, *, user: User, intent_id: int) -> PaymentIntent | None:
    return session.scalar(
        select(PaymentIntent).where(PaymentIntent.id == intent_id, PaymentIntent.user_id == user.id)
    )


def intent_by_trade_no(session: Session, out_trade_no: str) -> PaymentIntent | None:
    return session.scalar(select(PaymentIntent).where(PaymentIntent.out_trade_no == out_trade_no))


@dataclass(frozen=True)
class Outcome:
    intent: PaymentIntent
    credited: bool  # this call posted the payment
    payment: Payment | None = None


def handle_notification(
    session: Session, *, channel: str, notification: Notification, now: datetime
) -> Outcome:
    """Apply a verified gateway notification; any number of repeats credit exactly once."""
    intent = intent_by_trade_no(session, notification.out_trade_no)
    if intent is None or intent.channel != channel:
        raise NotFound(_l("未知的商户订单号"), code="unknown_trade")
    if notification.amount_fen != intent.amount_fen:
        raise AmountMismatch(
            _l(
                "金额不符：应为 %(e)s 分，收到 %(g)s 分",
                e=intent.amount_fen,
                g=notification.amount_fen,
            )
        )
    if notification.status == NotificationStatus.FAILED:
        session.execute(
            update(PaymentIntent)
            .where(PaymentIntent.id == intent.id, PaymentIntent.status == IntentStatus.PENDING)
            .values(status=IntentStatus.FAILED, failed_at=now)
            .execution_options(synchronize_session=False)
        )
        session.expire(intent)
        return Outcome(intent, credited=False)
    if notification.status != NotificationStatus.SUCCESS:
        return Outcome(intent, credited=False)
    claimed = session.execute(
        update(PaymentIntent)
        .where(
            PaymentIntent.id == intent.id,
            PaymentIntent.status.in_([IntentStatus.PENDING, IntentStatus.FAILED]),
        )
        .values(status=IntentStatus.SUCCEEDED, txn_id=notification.txn_id, succeeded_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expire(intent)
    bills = [b.bill_id for b in intent.bills]
    if claimed == 1:
        crash_point("intent_claimed", session)  # test-only fault injection (portal.faults)
        payment = _new_payment(session, intent=intent, txn_id=notification.txn_id, now=now)
        crash_point("payment_row", session)
        credit(session, payment=payment, bill_ids=bills, flag_excess=True, now=now)
        crash_point("postings", session)
        return Outcome(intent, credited=True, payment=payment)
    if intent.txn_id == notification.txn_id:
        return Outcome(intent, credited=False)  # a repeat of the one that already counted
    # A second, different transaction for an intent that is already paid: real money, so
    # record it (once, by the unique txn id); it becomes prepayment flagged refund-due.
    try:
        with session.begin_nested():
            payment = _new_payment(session, intent=intent, txn_id=notification.txn_id, now=now)
    except IntegrityError:
        return Outcome(intent, credited=False)
    credit(session, payment=payment, bill_ids=bills, flag_excess=True, now=now)
    return Outcome(intent, credited=True, payment=payment)


def _new_payment(session: Session, *, intent: PaymentIntent, txn_id: str, now: datetime) -> Payment:
    first_bill = session.get(Bill, intent.bills[0].bill_id)
    payment = Payment(
        community_id=intent.community_id,
        payer_id=intent.user_id,
        unit_id=first_bill.unit_id if first_bill else 0,
        intent_id=intent.id,
        channel=intent.channel,
        txn_id=txn_id,
        amount_fen=intent.amount_fen,
        refund_due_fen=0,
        received_at=now,
        note="",
    )
    session.add(payment)
    session.flush()
    return payment
