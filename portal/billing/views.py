from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup

from portal import pagecache
from portal.billing import dues, late_fees, ledger, queries, runs, standards
from portal.billing.forms import LateFeeForm, RunForm, StandardForm, WaiveForm
from portal.billing.models import Bill, BillLine
from portal.communities import service as communities
from portal.communities.views import owned_units
from portal.domains import NavItem
from portal.errors import DomainError
from portal.extensions import db
from portal.forms import attach_error, choices
from portal.security import public, roles_required
from portal.timeutil import local_today, now_utc, zone

bp = Blueprint("billing", __name__)

_STATUS_TEXT = {"paid": _l("已缴清"), "partial": _l("部分缴纳"), "waived": _l("已减免")}


@bp.app_template_global("bill_status_badge")
def bill_status_badge(bill: Bill) -> Markup:
    """已缴清 / 部分缴纳 / 已减免 / 待缴 as a badge (a function, not a macro: /bills shows 24)."""
    status = str(bill.status)
    text = str(_STATUS_TEXT.get(status) or _l("待缴"))
    return Markup('<span class="badge status-%s">%s</span>') % (status, text)


NAV = [
    NavItem("billing.bill_list", _l("我的账单"), ("owner",), order=10),
    NavItem("billing.finance_home", _l("收费管理"), ("finance", "manager"), order=60),
]
FINANCE = ("finance", "manager")


# ---------------------------------------------------------------- owner pages


BILLS_PER_PAGE = 24
LEDGER_PER_PAGE = 50


@bp.route("/bills")
@roles_required("owner")
def bill_list() -> ResponseReturnValue:
    units = owned_units()
    unit_ids = [u.id for u in units]
    status = request.args.get("status", "all")
    if status not in ("all", "unpaid", "paid"):
        status = "all"
    page = queries.bills_page(
        db.session,
        unit_ids=unit_ids,
        status=status,
        page=request.args.get("page", 1, type=int) or 1,
        per_page=BILLS_PER_PAGE,
        load_units=False,  # owned_units() read them
        load_lines=False,  # the list shows none; unit_dues reads the open bills' own
    )
    # The page's unpaid bills are among the units' open bills that unit_dues reads; a paid
    # bill has nothing held, payable or overdue.
    open_bills: dict[int, dues.BillDues] = {}
    unit_figures = dues.unit_dues(
        db.session, unit_ids=unit_ids, now=now_utc(), open_bill_dues=open_bills
    )
    credits = ledger.prepayment_balances(db.session, unit_ids=unit_ids)
    summaries = [
        {"unit": u, "dues": unit_figures[u.id], "credit_fen": credits[u.id]} for u in units
    ]
    return render_template(
        "billing/bill_list.html",
        bills=page.bills,
        page=page,
        figures={
            b.id: open_bills[b.id] if b.id in open_bills else dues.settled(b) for b in page.bills
        },
        summaries=summaries,
        status=status,
    )


@bp.route("/bills/<int:bill_id>")
@roles_required("owner")
def bill_detail(bill_id: int) -> ResponseReturnValue:
    bill = queries.get_owned_bill(db.session, owner=current_user, bill_id=bill_id)
    if bill is None:
        abort(404)
    # Each line's dispute (reference, status, outcome) reaches the template through the
    # `line_disputes` template global that the disputes blueprint registers: disputes sits
    # above billing, which knows only the holds (holds.line_holds) disputes place. The
    # receipts that paid the bill come the same way (`receipts_for_bill`, from payments).
    figures = dues.bill_dues(db.session, bills=[bill], now=now_utc())
    return render_template("billing/bill_detail.html", bill=bill, d=figures[bill.id])


@bp.route("/units/<int:unit_id>/ledger")
@roles_required("owner")
def unit_ledger(unit_id: int) -> ResponseReturnValue:
    unit = communities.get_owned_unit(db.session, user=current_user, unit_id=unit_id)
    if unit is None:
        abort(404)
    history = queries.unit_history(db.session, unit_id=unit.id)[::-1]
    page_no = max(1, request.args.get("page", 1, type=int) or 1)
    page = queries.BillPage(bills=[], total=len(history), page=page_no, per_page=LEDGER_PER_PAGE)
    start = (page_no - 1) * LEDGER_PER_PAGE
    return render_template(
        "billing/unit_ledger.html",
        unit=unit,
        history=history[start : start + LEDGER_PER_PAGE],
        page=page,
        balance_fen=ledger.unit_balance(db.session, unit_id=unit.id),
        unit_dues=dues.unit_dues(db.session, unit_ids=[unit.id], now=now_utc())[unit.id],
        credit_fen=ledger.prepayment_balance(
            db.session, unit_id=unit.id, community_id=unit.community_id
        ),
    )


@bp.route("/c/<code>/fee-standards")
@public
def standards_public(code: str) -> ResponseReturnValue:
    community = communities.visible_community(db.session, code=code, user=current_user)
    if community is None:
        abort(404)
    today = local_today(zone(community.timezone))
    return pagecache.cached_response(
        db.session,
        community_id=community.id,
        parts=("standards", today),
        render=lambda: render_template(
            "billing/standards_public.html",
            community=community,
            current=standards.current_standards(db.session, community_id=community.id, on=today),
            history=standards.standard_history(db.session, community_id=community.id),
            today=today,
        ),
    )


# ---------------------------------------------------------------- finance pages


def _community_or_404(code: str) -> object:
    community = communities.get_scoped_community(
        db.session, user=current_user, code=code, roles=FINANCE
    )
    if community is None:
        abort(404)
    return community


@bp.route("/finance")
@roles_required(*FINANCE)
def finance_home() -> ResponseReturnValue:
    mine = communities.staff_communities(db.session, current_user, *FINANCE)
    if len(mine) == 1:
        return redirect(url_for(".finance_community", code=mine[0].code))
    return render_template("billing/finance_home.html", communities=mine)


@bp.route("/finance/<code>")
@roles_required(*FINANCE)
def finance_community(code: str) -> ResponseReturnValue:
    community = _community_or_404(code)
    today = local_today(zone(community.timezone))
    stats = queries.collection_stats(db.session, community_id=community.id, months=6, today=today)
    not_due = {
        period.strftime("%Y-%m")
        for _c, period in queries.periods_not_yet_due(
            db.session, community_ids=[community.id], today=today
        )
    }
    return render_template(
        "billing/finance_community.html",
        community=community,
        stats=stats,
        today=today,
        not_due=not_due,
    )


@bp.route("/finance/<code>/standards", methods=["GET", "POST"])
@roles_required(*FINANCE)
def standard_new(code: str) -> ResponseReturnValue:
    community = _community_or_404(code)
    form = StandardForm()
    eligible = standards.eligible_notices(db.session, community=community, now=now_utc())
    options = [("", _("（首次制定，无需公告）"))]
    options += [
        (
            str(e.notice.id),
            _(
                "%(title)s：%(what)s 元，%(on)s 发布，最早 %(earliest)s 执行",
                title=e.notice.title,
                what=e.summary,
                on=e.announced_on.isoformat(),
                earliest=e.earliest.isoformat(),
            ),
        )
        for e in eligible
    ]
    form.notice_id.choices = choices(options)
    if form.validate_on_submit():
        try:
            standards.create_standard(
                db.session,
                community=community,
                property_type=form.property_type.data,
                item_code=form.item_code.data,
                basis=form.basis.data,
                rate=form.rate.data,
                effective_from=form.effective_from.data,
                approval_ref=form.approval_ref.data,
                notice_id=int(form.notice_id.data) if form.notice_id.data else None,
                note=form.note.data or "",
                now=now_utc(),
                actor_id=current_user.id,
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("收费标准已发布，并写入公示记录"), "success")
            return redirect(url_for(".standard_new", code=code))
    today = local_today(zone(community.timezone))
    return render_template(
        "billing/standard_new.html",
        community=community,
        form=form,
        current=standards.current_standards(db.session, community_id=community.id, on=today),
        history=standards.standard_history(db.session, community_id=community.id),
        eligible=eligible,
    )


@bp.route("/finance/<code>/billing", methods=["GET", "POST"])
@roles_required(*FINANCE)
def billing_run(code: str) -> ResponseReturnValue:
    community = _community_or_404(code)
    today = local_today(zone(community.timezone))
    form = RunForm(data={"period": today.strftime("%Y-%m")})
    preview = result = None
    if form.validate_on_submit():
        try:
            period = runs.period_start(form.period.data)
            if request.form.get("action") == "run":
                result = runs.generate_bills(
                    db.session,
                    community=community,
                    period=period,
                    now=now_utc(),
                    actor_id=current_user.id,
                )
                db.session.commit()
                flash(
                    ngettext(
                        "已生成 %(n)s 张账单",
                        "已生成 %(n)s 张账单",
                        result.created,
                        n=result.created,
                    ),
                    "success",
                )
            else:
                planned, preview = runs.plan_bills(db.session, community=community, period=period)
                preview.sample = planned[:10]  # type: ignore[attr-defined]
                db.session.rollback()
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
    return render_template(
        "billing/billing_run.html", community=community, form=form, preview=preview, result=result
    )


@bp.route("/finance/<code>/late-fees", methods=["GET", "POST"])
@roles_required("manager")
def late_fee_policy(code: str) -> ResponseReturnValue:
    community = communities.get_scoped_community(
        db.session, user=current_user, code=code, roles=("manager",)
    )
    if community is None:
        abort(404)
    policy = late_fees.late_fee_policy(db.session, community_id=community.id)
    form = LateFeeForm(
        obj=policy,
        data=None
        if policy
        else {
            "enabled": False,
            "daily_rate": Decimal("0.0003"),
            "cap_rate": Decimal("0.1"),
            "grace_days": 30,
        },
    )
    if form.validate_on_submit():
        try:
            late_fees.set_late_fee_policy(
                db.session,
                community=community,
                enabled=form.enabled.data,
                daily_rate=form.daily_rate.data,
                cap_rate=form.cap_rate.data,
                grace_days=form.grace_days.data,
                clause_ref=form.clause_ref.data or "",
                actor=current_user,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存"), "success")
            return redirect(url_for(".late_fee_policy", code=code))
    return render_template("billing/late_fee_policy.html", community=community, form=form)


@bp.route("/c/<code>/late-fees")
@public
def late_fees_public(code: str) -> ResponseReturnValue:
    """What an owner may be charged for paying late: whether late fees apply, rate, cap."""
    community = communities.visible_community(db.session, code=code, user=current_user)
    if community is None:
        abort(404)
    policy = late_fees.late_fee_policy(db.session, community_id=community.id)
    return render_template("billing/late_fees_public.html", community=community, policy=policy)


@bp.route("/finance/lines/<int:line_id>/waive", methods=["GET", "POST"])
@roles_required(*FINANCE)
def line_waive(line_id: int) -> ResponseReturnValue:
    line = db.session.get(BillLine, line_id)
    if (
        line is None
        or queries.get_scoped_bill(
            db.session, staff=current_user, bill_id=line.bill_id, roles=FINANCE
        )
        is None
    ):
        abort(404)
    form = WaiveForm()
    if form.validate_on_submit():
        try:
            late_fees.waive_line(
                db.session,
                line=line,
                amount_fen=form.amount.fen or 0,
                reason=form.reason.data,
                actor=current_user,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已减免"), "success")
            return redirect(url_for(".staff_bill", bill_id=line.bill_id))
    return render_template("billing/line_waive.html", line=line, form=form)


@bp.route("/finance/bills/<int:bill_id>")
@roles_required(*FINANCE, "collector", "cs")
def staff_bill(bill_id: int) -> ResponseReturnValue:
    bill = queries.get_scoped_bill(
        db.session, staff=current_user, bill_id=bill_id, roles=(*FINANCE, "collector", "cs")
    )
    if bill is None:
        abort(404)
    can_waive = current_user.is_admin or bill.community_id in current_user.community_ids(*FINANCE)
    figures = dues.bill_dues(db.session, bills=[bill], now=now_utc())
    return render_template(
        "billing/staff_bill.html", bill=bill, can_waive=can_waive, d=figures[bill.id]
    )
