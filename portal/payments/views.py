from __future__ import annotations

import hashlib
import secrets
from datetime import date, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal import exports
from portal.accounts.models import User
from portal.audit import service as audit
from portal.communities import service as communities
from portal.communities.models import Community, Unit
from portal.domains import NavItem
from portal.errors import DomainError, json_error
from portal.extensions import csrf, db, limiter
from portal.forms import attach_error, choices
from portal.money import fen_to_yuan_str, yuan_to_fen
from portal.payments import autodebit as auto_debit
from portal.payments import crediting, intents, queries, refunding, verification
from portal.payments.forms import MandateForm, OfflinePaymentForm, PayForm, RefundForm
from portal.payments.gateways import registry
from portal.payments.gateways.base import BadNotification, Gateway, Scene, scene_for
from portal.payments.gateways.sandbox import SandboxGateway
from portal.payments.models import AutoDebitMandate, Payment, PaymentIntent, Refund
from portal.security import public, roles_required
from portal.timeutil import DEFAULT_TZ, in_date_window, local_today, now_utc

bp = Blueprint("payments", __name__)
NAV = [
    NavItem("payments.receipt_list", _l("我的收据"), ("owner",), order=12),
    NavItem("payments.finance_payments_home", _l("收款"), ("finance", "manager"), order=61),
]
FINANCE = ("finance", "manager")


def _sandbox_factory(settings: Any) -> Gateway | None:
    if not settings.get("PAYMENTS_SANDBOX"):
        return None
    return SandboxGateway(str(settings["SANDBOX_SECRET"]))


registry.register("sandbox", _sandbox_factory)


def gateways() -> dict[str, Gateway]:
    return registry.configured_gateways(current_app.config)


CHANNEL_NAMES = {
    "sandbox": _l("测试支付（模拟，不扣款）"),
    "wechat": _l("微信支付"),
    "alipay": _l("支付宝"),
}
# How each channel pays on a computer: a QR code to scan with the phone, Alipay's web page.
DESKTOP_NAMES = {"wechat": _l("微信支付（手机扫码）"), "alipay": _l("支付宝（网页支付）")}


def _scene() -> Scene:
    return scene_for(request.user_agent.string)


def _pay_channels(available: dict[str, Gateway], scene: Scene) -> tuple[list[Any], list[str]]:
    """The channel choices for this device, and notes on channels it cannot use as is."""
    names = DESKTOP_NAMES if scene is Scene.DESKTOP else {}
    offered, notes = [], []
    for channel in available:
        if channel == "wechat" and scene is Scene.WECHAT and not current_user.wechat_openid:
            notes.append(intents.wechat_needs_openid())
            continue
        offered.append((channel, names.get(channel) or CHANNEL_NAMES.get(channel, channel)))
    if scene is Scene.WECHAT and "alipay" in available:
        notes.append(_("在微信里选择支付宝时，请按提示在手机浏览器中打开继续支付。"))
    return choices(offered), notes


# ---------------------------------------------------------------- owner: pay


def payment_limit() -> str:
    return str(current_app.config["PAYMENT_RATE_LIMIT"])


def payer_key() -> str:
    """Count payment intents per account: the bearer token (API) or the logged-in user."""
    header = request.headers.get("Authorization", "")
    if header:
        return "pay-token:" + hashlib.sha256(header.encode()).hexdigest()[:32]
    if current_user.is_authenticated:
        return f"pay-user:{current_user.id}"
    return "pay-ip:" + (request.remote_addr or "")


@bp.route("/pay", methods=["GET", "POST"])
@roles_required("owner")
@limiter.limit(payment_limit, methods=["POST"], key_func=payer_key)
def pay() -> ResponseReturnValue:
    bill_ids = [int(i) for i in request.values.getlist("bill_ids") if i.isdigit()]
    try:
        bills = intents.payable_bills(db.session, user=current_user, bill_ids=bill_ids)
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.message, "error")
        return redirect(url_for("billing.bill_list", status="unpaid"))
    available = gateways()
    scene = _scene()
    form = PayForm()
    form.channel.choices, channel_notes = _pay_channels(available, scene)
    if request.method == "GET":
        form.idempotency_key.data = secrets.token_urlsafe(16)
    if form.validate_on_submit():
        gateway = available[form.channel.data]
        try:
            intent = intents.create_intent(
                db.session,
                user=current_user,
                bill_ids=bill_ids,
                channel=form.channel.data,
                idempotency_key=form.idempotency_key.data,
                gateway=gateway,
                now=now_utc(),
                notify_url=url_for(".notify", channel=form.channel.data, _external=True),
                return_url=url_for(".intent_return", _external=True),
                scene=scene,
                client_ip=request.remote_addr or "",
                openid=current_user.wechat_openid,
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            if intent.status != "pending":
                return redirect(url_for(".intent_status", intent_id=intent.id))
            if intent.pay_url:  # Alipay page/wap pay, WeChat H5, the sandbox page
                return redirect(intent.pay_url)
            if intent.jsapi_params:  # WeChat JSAPI: the status page opens the payment sheet
                return redirect(url_for(".intent_status", intent_id=intent.id, go=1))
            return redirect(url_for(".intent_status", intent_id=intent.id))
    due = intents.payable_fen(db.session, bills=bills)
    total = sum(due.values())
    held_total = sum(b.outstanding_fen for b in bills) - total
    return render_template(
        "payments/pay.html",
        due=due,
        held_total=held_total,
        bills=bills,
        total=total,
        form=form,
        bill_ids=bill_ids,
        has_channels=bool(form.channel.choices),
        channel_notes=channel_notes,
    )


@bp.route("/payments/return")
@roles_required("owner")
def intent_return() -> ResponseReturnValue:
    """Where WeChat H5 and Alipay send the browser back: the intent's status page."""
    intent = intents.intent_by_trade_no(db.session, request.args.get("out_trade_no", ""))
    if intent is None or intent.user_id != current_user.id:
        return redirect(url_for("billing.bill_list"))
    return redirect(url_for(".intent_status", intent_id=intent.id))


@bp.route("/payments/<int:intent_id>")
@roles_required("owner")
def intent_status(intent_id: int) -> ResponseReturnValue:
    intent = intents.get_owned_intent(db.session, user=current_user, intent_id=intent_id)
    if intent is None:
        abort(404)
    payment = db.session.query(Payment).filter_by(intent_id=intent.id).order_by(Payment.id).first()
    qr = None
    if intent.qr_code and intent.status == "pending":
        import segno

        qr = segno.make(intent.qr_code, error="m").svg_data_uri(scale=6, border=2)
    return render_template("payments/intent_status.html", intent=intent, payment=payment, qr=qr)


@bp.route("/payments/sandbox/<out_trade_no>", methods=["GET", "POST"])
@roles_required("owner")
def sandbox_checkout(out_trade_no: str) -> ResponseReturnValue:
    """The simulated checkout: clearly test mode; it sends the signed callback itself."""
    gateway = gateways().get("sandbox")
    intent = intents.intent_by_trade_no(db.session, out_trade_no)
    if gateway is None or intent is None or intent.user_id != current_user.id:
        abort(404)
    if request.method == "POST":
        outcome = "SUCCESS" if request.form.get("outcome") == "success" else "FAILED"
        body, signature = gateway.notification_body(  # type: ignore[attr-defined]
            out_trade_no=intent.out_trade_no,
            txn_id=f"SBX{secrets.token_hex(8).upper()}",
            amount_fen=intent.amount_fen,
            status=outcome,
        )
        response = _process_notification(
            "sandbox", gateway, {"X-Sandbox-Signature": signature}, body
        )
        if response.status_code >= 400:
            flash(_("模拟支付失败，请重试"), "error")
        return redirect(url_for(".intent_status", intent_id=intent.id))
    return render_template("payments/sandbox_checkout.html", intent=intent)


# ---------------------------------------------------------------- gateway callbacks


@bp.route("/payments/notify/<channel>", methods=["POST"])
@public
@csrf.exempt
def notify(channel: str) -> ResponseReturnValue:
    gateway = gateways().get(channel)
    if gateway is None:
        return json_error(404, "unknown_channel", "未启用的支付渠道")
    return _process_notification(channel, gateway, dict(request.headers), request.get_data())


def _process_notification(
    channel: str, gateway: Gateway, headers: dict[str, str], body: bytes
) -> Response:
    now = now_utc()
    try:
        notification = gateway.parse_notification(headers=headers, body=body, now=now)
        intents.handle_notification(db.session, channel=channel, notification=notification, now=now)
    except BadNotification as exc:
        db.session.rollback()
        current_app.logger.warning("refused %s callback: %s", channel, exc.reason)
        return _ack(gateway, False, exc.reason)
    except DomainError as exc:
        db.session.rollback()
        current_app.logger.warning("refused %s callback: %s", channel, exc.message)
        return _ack(gateway, False, exc.message)
    db.session.commit()
    return _ack(gateway, True)


def _ack(gateway: Gateway, ok: bool, message: str = "") -> Response:
    ack = gateway.ack(ok, message)
    return Response(ack.body, status=ack.status, content_type=ack.content_type)


# ---------------------------------------------------------------- receipts


RECEIPTS_PER_PAGE = 20


@bp.route("/receipts")
@roles_required("owner")
def receipt_list() -> ResponseReturnValue:
    page = queries.receipts_page(
        db.session,
        user=current_user,
        page=request.args.get("page", 1, type=int) or 1,
        per_page=RECEIPTS_PER_PAGE,
    )
    units = {
        u.id: u
        for u in db.session.query(Unit).filter(
            Unit.id.in_({r.payment.unit_id for r in page.receipts} or {-1})
        )
    }
    return render_template(
        "payments/receipt_list.html", page=page, units=units, label=queries.channel_label
    )


def _viewable_receipt_or_404(receipt_id: int) -> Any:
    receipt = queries.get_viewable_receipt(db.session, user=current_user, receipt_id=receipt_id)
    if receipt is None:
        abort(404)  # another owner's receipt, or another community's, looks like none at all
    return receipt


@bp.route("/receipts/<int:receipt_id>")
@roles_required("owner", *FINANCE)
def receipt_detail(receipt_id: int) -> ResponseReturnValue:
    receipt = _viewable_receipt_or_404(receipt_id)
    verify_url = _verify_url(receipt)
    import segno

    qr = segno.make(verify_url, error="m").svg_data_uri(scale=4, border=2)
    unit = db.session.get(Unit, receipt.payment.unit_id)
    return render_template(
        "payments/receipt.html",
        receipt=receipt,
        unit=unit,
        lines=queries.receipt_lines(db.session, payment=receipt.payment),
        label=queries.channel_label,
        verify_url=verify_url,
        check_code=_check_code(receipt),
        qr=qr,
        staff_view=not current_user.is_owner
        or receipt.community_id in current_user.community_ids(*FINANCE),
    )


@bp.route("/receipts/<int:receipt_id>.pdf")
@roles_required("owner", *FINANCE)
def receipt_pdf(receipt_id: int) -> ResponseReturnValue:
    receipt = _viewable_receipt_or_404(receipt_id)
    pdf = _receipt_pdf_bytes(receipt)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="receipt-{receipt.number}.pdf"'},
    )


def _check_code(receipt: Any) -> str:
    return verification.check_code(
        current_app.config["SECRET_KEY"],
        number=receipt.number,
        amount_fen=receipt.payment.amount_fen,
    )


def _verify_url(receipt: Any) -> str:
    return url_for(
        "payments.receipt_verify",
        number=receipt.number,
        a=receipt.payment.amount_fen,
        h=_check_code(receipt),
        _external=True,
    )


@bp.route("/receipts/verify", defaults={"number": ""})
@bp.route("/receipts/verify/<number>")
@public
def receipt_verify(number: str) -> ResponseReturnValue:
    """The public check a receipt's QR code opens: valid or not, and no personal data."""
    number = number or request.args.get("number", "")
    amount = request.args.get("a", "")
    code = request.args.get("h", "")
    if not (number or amount or code or request.args.get("yuan")):
        return render_template("payments/receipt_verify.html", verdict=None, asked=False)
    typed = request.args.get("yuan", "")
    if not amount and typed:  # the form asks for yuan; the QR code carries fen
        try:
            amount = str(yuan_to_fen(typed))
        except ValueError:
            amount = ""
    verdict = verification.verify(
        db.session,
        secret_key=current_app.config["SECRET_KEY"],
        number=number,
        amount=amount,
        code=code,
    )
    return (
        render_template(
            "payments/receipt_verify.html",
            verdict=verdict,
            asked=True,
            number=number,
            label=queries.channel_label,
        ),
        200 if verdict.valid else 404,
    )


class _ReceiptLinks:
    """Template globals for billing's pages (billing sits below payments in DOMAINS, so its
    views cannot ask for receipts): `receipts_for_bill(bill_id)` and
    `receipts_by_payment(payment_ids)`."""

    @staticmethod
    def for_bill(bill_id: int) -> list[Any]:
        return queries.receipts_for_bill(db.session, bill_id=bill_id)

    @staticmethod
    def by_payment(payment_ids: list[int]) -> dict[int, Any]:
        return queries.receipts_by_payment(db.session, payment_ids=payment_ids)


bp.add_app_template_global(_ReceiptLinks.for_bill, "receipts_for_bill")
bp.add_app_template_global(_ReceiptLinks.by_payment, "receipts_by_payment")


def _receipt_pdf_bytes(receipt: Any) -> bytes:
    from portal.payments.receipt_pdf import ReceiptData, render_receipt_pdf

    payment = receipt.payment
    unit = db.session.get(Unit, payment.unit_id)
    community = unit.community
    payer = db.session.get(User, payment.payer_id) if payment.payer_id else None
    name = (payer.display_name if payer else "") or ""
    lines = queries.receipt_lines(db.session, payment=payment)
    return render_receipt_pdf(
        ReceiptData(
            community_name=community.name,
            community_hotline=community.hotline,
            receipt_no=receipt.number,
            issued_at=receipt.issued_at,
            payer_name=(name[:1] + "*" * max(1, len(name) - 1)) if name else "业主",
            unit_code=unit.code,
            channel_label=queries.channel_label(payment.channel),
            txn_ref=payment.txn_id,
            lines=[
                (f"{row['item']} {row['unit']}".strip(), row["period"], row["amount_fen"])
                for row in lines
            ],
            total_fen=payment.amount_fen,
            note=payment.note or "",
            verify_url=_verify_url(receipt),
            check_code=_check_code(receipt),
        )
    )


# ---------------------------------------------------------------- owner: auto-debit


@bp.route("/autodebit", methods=["GET", "POST"])
@roles_required("owner")
def autodebit() -> ResponseReturnValue:
    units = communities.units_of(db.session, current_user)
    form = MandateForm()
    form.unit_id.choices = choices([(u.id, f"{u.community.name} {u.code}") for u in units])
    if form.validate_on_submit():
        unit = communities.get_owned_unit(db.session, user=current_user, unit_id=form.unit_id.data)
        if unit is None:
            abort(404)
        try:
            auto_debit.set_mandate(
                db.session,
                user=current_user,
                unit=unit,
                max_amount_fen=form.max_amount.fen or 0,
                bank_account=form.bank_account.data,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("代扣已开通：每期账单不超过上限时自动扣款"), "success")
            return redirect(url_for(".autodebit"))
    return render_template(
        "payments/autodebit.html",
        form=form,
        mandates=auto_debit.mandates_of(db.session, user=current_user),
    )


@bp.route("/autodebit/<int:mandate_id>/<action>", methods=["POST"])
@roles_required("owner")
def autodebit_status(mandate_id: int, action: str) -> ResponseReturnValue:
    mandate = db.session.get(AutoDebitMandate, mandate_id)
    if mandate is None or mandate.user_id != current_user.id:
        abort(404)
    status = {"pause": "paused", "resume": "active", "cancel": "cancelled"}.get(action)
    if status is None:
        abort(404)
    auto_debit.set_mandate_status(db.session, mandate=mandate, status=status, now=now_utc())
    db.session.commit()
    flash(_("已更新"), "success")
    return redirect(url_for(".autodebit"))


# ---------------------------------------------------------------- finance


def _finance_community(code: str) -> Any:
    community = communities.get_scoped_community(
        db.session, user=current_user, code=code, roles=FINANCE
    )
    if community is None:
        abort(404)
    return community


@bp.route("/finance/payments")
@roles_required(*FINANCE)
def finance_payments_home() -> ResponseReturnValue:
    mine = communities.staff_communities(db.session, current_user, *FINANCE)
    if not mine:
        abort(404)
    return redirect(url_for(".payment_journal", code=mine[0].code))


def _range() -> tuple[date, date]:
    today = local_today(DEFAULT_TZ)
    try:
        start = date.fromisoformat(request.args.get("start", ""))
    except ValueError:
        start = today - timedelta(days=6)
    try:
        end = date.fromisoformat(request.args.get("end", ""))
    except ValueError:
        end = today
    if not in_date_window(start):  # a far-off ?start= falls back like an unreadable one
        start = today - timedelta(days=6)
    if not in_date_window(end):
        end = today
    return start, max(start, end)


JOURNAL_PER_PAGE = 50


@bp.route("/finance/<code>/payments")
@roles_required(*FINANCE)
def payment_journal(code: str) -> ResponseReturnValue:
    community = _finance_community(code)
    start, end = _range()
    channel = request.args.get("channel") or None
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        audit.record_personal_data_export(
            db.session,
            actor_id=current_user.id,
            action="payments.journal_export",
            community_id=community.id,
            now=now_utc(),
            ip=request.remote_addr,
            fmt=fmt,
            details={"start": start, "end": end, "channel": channel},
        )
        db.session.commit()
        return _export(community, fmt, start, end, channel)
    page = queries.journal_page(
        db.session,
        community_id=community.id,
        start=start,
        end=end,
        channel=channel,
        page=request.args.get("page", 1, type=int) or 1,
        per_page=JOURNAL_PER_PAGE,
    )
    payments = page.payments
    units = {
        u.id: u
        for u in db.session.query(Unit).filter(Unit.id.in_({p.unit_id for p in payments} or {-1}))
    }
    return render_template(
        "payments/journal.html",
        community=community,
        payments=payments,
        page=page,
        units=units,
        totals=queries.daily_totals(db.session, community_id=community.id, start=start, end=end),
        refund_due=queries.refund_due(db.session, community_id=community.id),
        start=start,
        end=end,
        channel=channel,
        label=queries.channel_label,
        channels=queries.CHANNEL_LABELS,
    )


JOURNAL_HEADER = ["收款时间", "渠道", "交易号", "房号", "金额(元)", "待退(元)", "收据号", "备注"]


def _export(
    community: Community, fmt: str, start: date, end: date, channel: str | None
) -> Response:
    """Every payment of the range, streamed from the database in batches (no row cap)."""
    rows = (
        [
            p.received_at.astimezone(DEFAULT_TZ).strftime("%Y-%m-%d %H:%M"),
            queries.channel_label(p.channel),
            p.txn_id,
            unit_code,
            fen_to_yuan_str(p.amount_fen),
            fen_to_yuan_str(p.refund_due_fen),
            number,
            p.note,
        ]
        for p, unit_code, number in queries.iter_journal(
            db.session, community_id=community.id, start=start, end=end, channel=channel
        )
    )
    name = f"payments-{community.code}-{start}-{end}"
    if fmt == "csv":
        return exports.csv_response(f"{name}.csv", JOURNAL_HEADER, rows)
    return exports.xlsx_response(f"{name}.xlsx", "收款日记账", JOURNAL_HEADER, rows)


@bp.route("/finance/<code>/payments/offline", methods=["GET", "POST"])
@roles_required(*FINANCE)
def offline_payment(code: str) -> ResponseReturnValue:
    community = _finance_community(code)
    form = OfflinePaymentForm(data={"received_on": local_today(DEFAULT_TZ)})
    if form.validate_on_submit():
        unit = communities.find_unit(
            db.session, community=community, code=form.unit_code.data.strip().upper()
        )
        try:
            if unit is None:
                raise DomainError(
                    _l("本小区没有房号 %(code)s", code=form.unit_code.data), field="unit_code"
                )
            payment = crediting.record_offline_payment(
                db.session,
                unit=unit,
                channel=form.channel.data,
                reference=form.reference.data,
                amount_fen=form.amount.fen or 0,
                received_on=form.received_on.data,
                actor=current_user,
                now=now_utc(),
                note=form.note.data or "",
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(
                _("已入账，收据号 %(no)s", no=payment.receipt.number if payment.receipt else ""),
                "success",
            )
            issued = payment.receipt.id if payment.receipt else None
            return redirect(url_for(".offline_payment", code=code, issued=issued))
    issued = None
    issued_id = request.args.get("issued", type=int)
    if issued_id:  # the receipt just issued, to open and print (scoped like any receipt)
        issued = queries.get_viewable_receipt(db.session, user=current_user, receipt_id=issued_id)
        if issued is not None and issued.community_id != community.id:
            issued = None
    return render_template("payments/offline.html", community=community, form=form, issued=issued)


@bp.route("/finance/payments/<int:payment_id>/refund", methods=["GET", "POST"])
@roles_required(*FINANCE)
def refund_new(payment_id: int) -> ResponseReturnValue:
    payment = db.session.get(Payment, payment_id)
    if payment is None or not (
        current_user.is_admin or payment.community_id in current_user.community_ids(*FINANCE)
    ):
        abort(404)
    form = RefundForm()
    if form.validate_on_submit():
        try:
            refund = refunding.request_refund(
                db.session,
                payment=payment,
                amount_fen=form.amount.fen or 0,
                reason=form.reason.data,
                actor=current_user,
                now=now_utc(),
                approval_threshold_fen=current_app.config["REFUND_APPROVAL_THRESHOLD_FEN"],
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(
                _("退款已完成")
                if refund.status == "done"
                else _("退款金额超过审批线，已提交管理处负责人审批"),
                "success",
            )
            community = db.session.get(Community, payment.community_id)
            return redirect(url_for(".payment_journal", code=community.code))
    return render_template(
        "payments/refund_new.html",
        payment=payment,
        form=form,
        refundable=refunding.refundable_fen(db.session, payment=payment),
        label=queries.channel_label,
    )


@bp.route("/finance/refunds/<int:refund_id>/<decision>", methods=["POST"])
@roles_required("manager")
def refund_decide(refund_id: int, decision: str) -> ResponseReturnValue:
    refund = db.session.get(Refund, refund_id)
    if (
        refund is None
        or decision not in ("approve", "reject")
        or not (
            current_user.is_admin
            or refund.payment.community_id in current_user.community_ids("manager")
        )
    ):
        abort(404)
    try:
        refunding.decide_refund(
            db.session,
            refund=refund,
            approve=decision == "approve",
            actor=current_user,
            now=now_utc(),
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("已处理"), "success")
    return redirect(request.referrer or url_for(".finance_payments_home"))


@bp.route("/finance/<code>/refunds")
@roles_required(*FINANCE)
def refund_list(code: str) -> ResponseReturnValue:
    community = _finance_community(code)
    page = queries.refunds_page(
        db.session,
        community_id=community.id,
        page=request.args.get("page", 1, type=int) or 1,
    )
    return render_template(
        "payments/refund_list.html",
        community=community,
        refunds=page.refunds,
        page=page,
        label=queries.channel_label,
    )


def intent_json(intent: PaymentIntent) -> dict[str, Any]:
    return {
        "id": intent.id,
        "out_trade_no": intent.out_trade_no,
        "amount_fen": intent.amount_fen,
        "fee_fen": intent.fee_fen,
        "status": intent.status,
        "channel": intent.channel,
        "pay_url": intent.pay_url,
        "qr_code": intent.qr_code,
        "jsapi": intent.jsapi_params,
        "expires_at": intent.expires_at.isoformat(),
        "bill_ids": [b.bill_id for b in intent.bills],
    }
