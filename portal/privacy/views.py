"""Privacy notice, the owner's data download and erasure request, staff review."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from portal import exports
from portal.audit import service as audit
from portal.domains import NavItem
from portal.errors import DomainError
from portal.extensions import db
from portal.privacy import audit_log, service
from portal.privacy.forms import AuditFilterForm, DecisionForm, ErasureForm
from portal.security import public, roles_required
from portal.timeutil import DEFAULT_TZ, now_utc

bp = Blueprint("privacy", __name__)

NAV = [
    NavItem("privacy.request_list", _l("注销申请"), ("admin",), order=95),
    NavItem("privacy.audit_viewer", _l("审计日志"), ("manager", "admin"), order=96),
]


@bp.route("/privacy")
@public
def notice() -> ResponseReturnValue:
    return render_template("privacy/notice.html")


@bp.route("/account/privacy", methods=["GET", "POST"])
@login_required
def my_privacy() -> ResponseReturnValue:
    form = ErasureForm()
    if form.validate_on_submit():
        try:
            service.request_erasure(
                db.session, user=current_user, reason=form.reason.data or "", now=now_utc()
            )
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("注销申请已提交，管理处将在 15 个工作日内处理"), "success")
            return redirect(url_for("privacy.my_privacy"))
    return render_template(
        "privacy/mine.html", form=form, requests=service.my_requests(db.session, user=current_user)
    )


def _my_data_audited(action: str) -> dict[str, Any]:
    """All the owner's data, the read recorded in the audit trail with where it went."""
    data = service.export_data(db.session, user=current_user)
    audit.record(
        db.session,
        actor_id=current_user.id,
        action=action,
        target_type="user",
        target_id=current_user.id,
        community_id=None,
        now=now_utc(),
        details={"ip": request.remote_addr or ""},
    )
    db.session.commit()
    return data


@bp.route("/account/privacy/export.json")
@login_required
def my_export() -> ResponseReturnValue:
    data = _my_data_audited("privacy.export")
    body = json.dumps(data, ensure_ascii=False, indent=1, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": "attachment; filename=my-data.json",
            "Cache-Control": "private, no-store",
        },
    )


# Headings for the tables an owner's data usually sits in; any other table shows its name.
TABLE_LABELS = {
    "units": _l("房屋"),
    "ownerships": _l("产权关系"),
    "bills": _l("账单"),
    "bill_lines": _l("账单明细"),
    "payments": _l("缴费"),
    "payment_intents": _l("支付订单"),
    "receipts": _l("收据"),
    "tickets": _l("报修"),
    "disputes": _l("异议"),
    "notify_messages": _l("消息"),
    "notify_preferences": _l("通知设置"),
    "user_sessions": _l("登录会话"),
    "api_tokens": _l("接口令牌"),
    "role_assignments": _l("角色"),
    "complaints": _l("投诉"),
    "survey_responses": _l("问卷回复"),
    "ballots": _l("投票"),
    "erasure_requests": _l("注销申请"),
}


@bp.route("/account/privacy/summary")
@login_required
def my_summary() -> ResponseReturnValue:
    """The same data as the JSON download, as a page to read and print (or save as PDF)."""
    data = _my_data_audited("privacy.summary")
    sections = [
        (str(TABLE_LABELS.get(name, name)), name, rows)
        for group in ("records_about_me", "my_units")
        for name, rows in sorted(data[group].items())
        if rows  # staff own no units: "units" is there, empty
    ]
    response = Response(
        render_template(
            "privacy/summary.html",
            account=data["account"],
            sections=sections,
            generated_at=now_utc(),
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/privacy/requests")
@roles_required("admin")
def request_list() -> ResponseReturnValue:
    page = request.args.get("page", 1, type=int) or 1
    return render_template(
        "privacy/requests.html",
        requests=service.pending_requests(db.session, page=page),
        form=DecisionForm(),
        page=page,
    )


@bp.route("/privacy/requests/<int:request_id>/<decision>", methods=["POST"])
@roles_required("admin")
def request_decide(request_id: int, decision: str) -> ResponseReturnValue:
    if decision not in ("approve", "reject"):
        abort(404)
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    if decision == "reject" and not (form.note.data or "").strip():
        flash(_("驳回须写明理由"), "error")
        return redirect(url_for("privacy.request_list"))
    try:
        service.decide_erasure(
            db.session,
            request_id=request_id,
            actor=current_user,
            approve=decision == "approve",
            note=form.note.data or "",
            now=now_utc(),
        )
    except DomainError as exc:
        db.session.rollback()
        if exc.code == "not_found":
            abort(404)
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("已处理"), "success")
    return redirect(url_for("privacy.request_list"))


def _audit_filter() -> tuple[AuditFilterForm, audit_log.AuditFilter]:
    """The viewer's filters from the query string; a community outside the staff member's
    scope is a 404 (not an empty list), as every scoped lookup."""
    form = AuditFilterForm(request.args)
    communities = audit_log.visible_communities(db.session, scope=audit_log.scope_of(current_user))
    form.community.choices = [("", _("全部"))] + [(str(c.id), c.name) for c in communities]
    if not form.validate():
        if form.community.errors:
            abort(404)
        return form, audit_log.AuditFilter(community_id=-1)  # bad filters: show nothing
    return form, audit_log.AuditFilter(
        actor=(form.actor.data or "").strip(),
        action=(form.action.data or "").strip(),
        start=form.start.data,
        end=form.end.data,
        community_id=int(form.community.data) if form.community.data else None,
    )


@bp.route("/staff/audit")
@roles_required("manager", "admin")
def audit_viewer() -> ResponseReturnValue:
    form, flt = _audit_filter()
    page = audit_log.audit_page(
        db.session,
        scope=audit_log.scope_of(current_user),
        flt=flt,
        tz=DEFAULT_TZ,
        page=request.args.get("page", 1, type=int) or 1,
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("privacy/audit.html", form=form, page=page, args=args)


@bp.route("/staff/audit.csv")
@roles_required("manager", "admin")
def audit_export() -> ResponseReturnValue:
    _form, flt = _audit_filter()
    scope = audit_log.scope_of(current_user)
    # The log names staff and carries client addresses: taking it away is itself recorded.
    audit.record_personal_data_export(
        db.session,
        actor_id=current_user.id,
        action="audit.export",
        community_id=flt.community_id if flt.community_id and flt.community_id > 0 else None,
        now=now_utc(),
        ip=request.remote_addr,
        fmt="csv",
        details={"filters": {k: v for k, v in request.args.items() if v}},
    )
    db.session.commit()
    rows = audit_log.iter_csv_rows(db.session, scope=scope, flt=flt, tz=DEFAULT_TZ)
    name = f"audit-{now_utc().astimezone(DEFAULT_TZ):%Y%m%d-%H%M}.csv"
    return exports.csv_response(name, audit_log.CSV_HEADER, rows)
