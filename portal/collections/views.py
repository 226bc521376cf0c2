"""Collections pages: the collector's workspace (phone-first), the case list and case page,
one-tap call logging, approvals, plans, written notices, the manager's view, the three lists,
holds, service-recovery tasks for customer service and engineering, and the owner's plans."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from portal import replica
from portal.accounts.models import Role
from portal.billing.models import Bill
from portal.collections import (
    aging,
    cases,
    dashboard,
    labels,
    lists,
    notice,
    plans,
    rules,
    signals,
)
from portal.collections.forms import (
    AcceptPlanForm,
    ContactForm,
    DecisionForm,
    EscalateForm,
    HardshipForm,
    HoldForm,
    LegalBasisForm,
    PlanForm,
    QuickCallForm,
    ReasonForm,
    TaskDoneForm,
)
from portal.collections.models import (
    CaseEvent,
    CollectionCase,
    CollectionContact,
    CollectionTask,
    TaskKind,
    TaskStatus,
)
from portal.communities import service as communities
from portal.communities.models import Building, Community
from portal.communities.views import owned_units
from portal.disputes.models import Dispute
from portal.domains import NavItem
from portal.errors import DomainError
from portal.exports import XLSX_MIME, safe_cell
from portal.extensions import db
from portal.forms import attach_error, choices
from portal.money import yuan_to_fen
from portal.notify import service as notify
from portal.notify.models import Message
from portal.payments import queries as payments_queries
from portal.security import roles_required, safe_next
from portal.tickets import queries as tickets_queries
from portal.timeutil import DEFAULT_TZ, check_date, local_today, now_utc, zone

bp = Blueprint("collections", __name__, url_prefix="/collections")

WORKERS = (Role.COLLECTOR, Role.MANAGER)
RECOVERY_ROLES = (Role.CS, Role.ENGINEER, Role.MANAGER, Role.COLLECTOR)


def _plans_to_accept() -> int:
    if not current_user.is_authenticated or not current_user.is_owner:
        return 0
    return plans.proposed_count(db.session, unit_ids=[u.id for u in owned_units()])


def _approvals() -> int:
    if not current_user.is_authenticated:
        return 0
    return dashboard.approval_count(db.session, community_ids=_ids())


NAV = [
    NavItem(
        "collections.workspace",
        _l("催缴"),
        tuple(str(r) for r in WORKERS),
        order=40,
        badge=_approvals,
    ),
    NavItem("collections.manager_view", _l("催缴总览"), ("manager",), order=41),
    NavItem("collections.recovery_list", _l("服务补救"), ("cs", "engineer"), order=42),
    NavItem("collections.my_plans", _l("分期缴费"), ("owner",), order=36, badge=_plans_to_accept),
]


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"coll": labels}


def _ids() -> set[int] | None:
    return cases.community_ids(current_user)


def _case_or_404(case_id: int) -> CollectionCase:
    case = cases.get_scoped_case(db.session, staff=current_user, case_id=case_id)
    if case is None:
        abort(404)
    return case


def _today(community: Community | None = None) -> date:
    if community is None:
        return local_today(DEFAULT_TZ, now=now_utc())
    return cases.today_of(community, now_utc())


def _community(code: str | None, roles: tuple[str, ...] = WORKERS) -> Community:
    """The community asked for (scoped), or the user's first one."""
    if code:
        community = communities.get_scoped_community(
            db.session, user=current_user, code=code, roles=tuple(str(r) for r in roles)
        )
    else:
        mine = communities.staff_communities(db.session, current_user, *roles)
        community = mine[0] if mine else None
    if community is None:
        abort(404)
    return community


# ---------------------------------------------------------------- workspace


@bp.route("/")
@roles_required(*WORKERS)
def workspace() -> ResponseReturnValue:
    day = _today()
    items = dashboard.todays_work(db.session, community_ids=_ids(), day=day)
    counts = dashboard.todo_counts(db.session, community_ids=_ids(), day=day)
    mine = communities.staff_communities(db.session, current_user, *WORKERS)
    return render_template(
        "collections/workspace.html",
        items=items,
        counts=counts,
        communities=mine,
        day=day,
        quick=QuickCallForm(),
    )


@bp.route("/cases")
@roles_required(*WORKERS)
def case_list() -> ResponseReturnValue:
    community = _community(request.args.get("community"))
    day = _today(community)
    args = request.args
    building_id = args.get("building", type=int)
    filters = cases.CaseFilters(
        community_ids={community.id},
        status=args.get("status", "active"),
        tier=args.get("tier") or None,
        reason=args.get("reason") or None,
        building_id=building_id,
        bucket=args.get("bucket") or None,
        near_limitation=args.get("near") == "1",
        dissatisfied=args.get("dissatisfied") == "1",
    )
    page = cases.list_cases(
        db.session, filters=filters, day=day, page=args.get("page", 1, type=int), now=now_utc()
    )
    buildings = db.session.scalars(
        select(Building).where(Building.community_id == community.id).order_by(Building.code)
    ).all()
    keep = {k: v for k, v in args.items() if k != "page" and v}
    keep["community"] = community.code
    return render_template(
        "collections/case_list.html",
        community=community,
        page=page,
        filters=filters,
        buildings=buildings,
        buckets=aging.BUCKET_NAMES,
        day=day,
        keep=keep,
    )


def _case_context(case: CollectionCase, **forms: Any) -> dict[str, Any]:
    community = case.community
    day = _today(community)
    unit = case.unit
    owners = notify.owners_of_units(db.session, [unit.id]).get(unit.id, [])
    bills = db.session.scalars(
        select(Bill).where(Bill.unit_id == unit.id).order_by(Bill.period.desc()).limit(24)
    ).all()
    live = aging.unit_aging(db.session, day=day, unit_ids=[unit.id]).get(unit.id)
    payments = payments_queries.payments_of_units(db.session, unit_ids=[unit.id])[:20]
    since = now_utc() - timedelta(days=365)
    contacts = db.session.scalars(
        select(CollectionContact)
        .where(CollectionContact.case_id == case.id)
        .order_by(CollectionContact.at.desc())
    ).all()
    events = db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())
    ).all()
    tasks = db.session.scalars(
        select(CollectionTask)
        .where(CollectionTask.case_id == case.id)
        .order_by(CollectionTask.id.desc())
    ).all()
    messages = db.session.scalars(
        select(Message)
        .where(Message.unit_id == unit.id)
        .order_by(Message.created_at.desc())
        .limit(20)
    ).all()
    disputes = db.session.scalars(
        select(Dispute).where(Dispute.unit_id == unit.id).order_by(Dispute.id.desc()).limit(10)
    ).all()
    staff = cases.community_staff(db.session, community_id=community.id, exclude=current_user)
    contact_form = forms.get("contact_form") or ContactForm()
    contact_form.second_staff.choices = choices(
        [("", "—")] + [(str(u.id), u.display_name or u.username) for u in staff]
    )
    reason_form = forms.get("reason_form") or ReasonForm(
        reason=case.reason or case.suggested_reason or "forgot"
    )
    return {
        "case": case,
        "community": community,
        "unit": unit,
        "owners": owners,
        "bills": bills,
        "live": live,
        "day": day,
        "days": live.days_overdue(day) if live else None,
        "bucket": aging.bucket_of(live.days_overdue(day)) if live else None,
        "payments": payments,
        "tickets": signals.unit_tickets(db.session, unit=unit),
        "ratings": tickets_queries.unit_low_ratings(db.session, unit_id=unit.id, since=since),
        "disputes": disputes,
        "messages": messages,
        "contacts": contacts,
        "events": events,
        "tasks": tasks,
        "plan": cases.current_plan(db.session, case_id=case.id),
        "plans": cases.plans_of(db.session, case_id=case.id),
        "next": cases.next_action(db.session, case=case, day=day),
        "block": rules.escalation_block(db.session, case=case, day=day),
        "pause": rules.pause_block(db.session, case=case, day=day),
        "next_tier": rules.next_tier(case.tier),
        "is_manager": cases.is_manager(current_user, case.community_id),
        "contact_form": contact_form,
        "reason_form": reason_form,
        "plan_form": forms.get("plan_form") or PlanForm(),
        "escalate_form": EscalateForm(),
        "decision_form": DecisionForm(),
        "done_form": TaskDoneForm(),
        "hardship_form": HardshipForm(),
        "quick": QuickCallForm(),
        "bases": lists.legal_basis(db.session, community_id=community.id),
    }


@bp.route("/cases/<int:case_id>")
@roles_required(*WORKERS)
def case_detail(case_id: int) -> ResponseReturnValue:
    case = _case_or_404(case_id)
    return render_template("collections/case_detail.html", **_case_context(case))


def _back(case: CollectionCase) -> ResponseReturnValue:
    return redirect(url_for("collections.case_detail", case_id=case.id))


def _parse_at(text: str | None, community: Community) -> datetime:
    now = now_utc()
    if not text:
        return now
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise DomainError(_l("时间格式应为 YYYY-MM-DD HH:MM"), field="at") from exc
    check_date(local, field="at")
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone(community.timezone))
    return local


@bp.route("/cases/<int:case_id>/contact", methods=["POST"])
@roles_required(*WORKERS)
def contact_new(case_id: int) -> ResponseReturnValue:
    case = _case_or_404(case_id)
    form = ContactForm()
    ctx_forms: dict[str, Any] = {"contact_form": form}
    form.second_staff.choices = []
    if form.validate_on_submit():
        try:
            upload = form.proof.data
            proof = None
            if upload and getattr(upload, "filename", ""):
                from portal.uploads import service as files

                proof = cases.Proof(files.read_upload(upload), upload.filename)
            second = int(form.second_staff.data) if form.second_staff.data else None
            cases.log_contact(
                db.session,
                case=case,
                actor=current_user,
                channel=form.channel.data,
                outcome=form.outcome.data,
                at=_parse_at(form.at.data, case.community),
                now=now_utc(),
                planned=form.planned.data,
                promised_on=form.promised_on.data,
                refusal_reason=form.refusal_reason.data or "",
                note=form.note.data or "",
                mail_number=form.mail_number.data or "",
                proof=proof,
                second_staff_id=second,
            )
        except (DomainError, ValueError) as exc:
            db.session.rollback()
            attach_error(form, exc if isinstance(exc, DomainError) else DomainError(str(exc)))
        else:
            db.session.commit()
            flash(_("已记录联系"), "success")
            return _back(case)
    return render_template("collections/case_detail.html", **_case_context(case, **ctx_forms)), 422


@bp.route("/cases/<int:case_id>/call", methods=["POST"])
@roles_required(*WORKERS)
def call_quick(case_id: int) -> ResponseReturnValue:
    """One tap after a call: no answer, wrong number, paid, complained (now, by phone)."""
    case = _case_or_404(case_id)
    form = QuickCallForm()
    if not form.validate_on_submit() or form.outcome.data not in (
        "no_answer",
        "wrong_number",
        "paid",
        "complained",
        "hardship",
    ):
        flash(_("请选择通话结果"), "error")
        return _back(case)
    now = now_utc()
    try:
        contact = cases.log_contact(
            db.session,
            case=case,
            actor=current_user,
            channel="phone",
            outcome=form.outcome.data,
            at=now,
            now=now,
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        if contact.flagged:
            flash(_("已记录；该次通话不符合联系规则（已标记）"), "error")
        else:
            flash(_("已记录通话结果"), "success")
    return redirect(
        safe_next(request.form.get("next")) or url_for("collections.case_detail", case_id=case.id)
    )


@bp.route("/cases/<int:case_id>/reason", methods=["POST"])
@roles_required(*WORKERS)
def reason_confirm(case_id: int) -> ResponseReturnValue:
    case = _case_or_404(case_id)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            cases.confirm_reason(
                db.session,
                case=case,
                actor=current_user,
                reason=form.reason.data,
                note=form.note.data or "",
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("欠费原因已确认"), "success")
            return _back(case)
    return render_template(
        "collections/case_detail.html", **_case_context(case, reason_form=form)
    ), 422


@bp.route("/cases/<int:case_id>/escalate", methods=["POST"])
@roles_required(*WORKERS)
def case_escalate(case_id: int) -> ResponseReturnValue:
    case = _case_or_404(case_id)
    form = EscalateForm()
    if form.validate_on_submit():
        try:
            cases.escalate_case(
                db.session,
                case=case,
                actor=current_user,
                tier=form.tier.data,
                now=now_utc(),
                note=form.note.data or "",
            )
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("已升级到 %(t)s", t=form.tier.data), "success")
    return _back(case)


@bp.route("/cases/<int:case_id>/hardship", methods=["POST"])
@roles_required(*WORKERS)
def case_hardship(case_id: int) -> ResponseReturnValue:
    case = _case_or_404(case_id)
    form = HardshipForm()
    if form.validate_on_submit():
        cases.set_hardship(
            db.session,
            case=case,
            actor=current_user,
            plan_requested=form.plan_requested.data,
            now=now_utc(),
        )
        db.session.commit()
        flash(_("已登记困难情况"), "success")
    return _back(case)


def _schedule(text: str) -> list[dict[str, Any]]:
    out = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip().replace("，", " ").replace(",", " ")
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise DomainError(
                _l("第 %(n)s 行应为“日期 金额”", n=number), field="schedule", code="bad_line"
            )
        try:
            due = date.fromisoformat(parts[0])
            fen = yuan_to_fen(parts[1])
        except ValueError as exc:
            raise DomainError(
                _l("第 %(n)s 行的日期或金额不正确", n=number), field="schedule"
            ) from exc
        check_date(due, field="schedule")
        out.append({"due_on": due, "amount_fen": fen})
    return out


@bp.route("/cases/<int:case_id>/plan", methods=["POST"])
@roles_required(*WORKERS)
def plan_new(case_id: int) -> ResponseReturnValue:
    case = _case_or_404(case_id)
    form = PlanForm()
    if form.validate_on_submit():
        try:
            plans.propose_plan(
                db.session,
                case=case,
                actor=current_user,
                instalments=_schedule(form.schedule.data),
                down_payment_fen=form.down_payment.fen or 0,
                note=form.note.data or "",
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            if exc.field in ("instalments", "total_fen", "down_payment_fen"):
                exc.field = "schedule" if exc.field != "down_payment_fen" else "down_payment"
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("分期方案已提交，等待业主在明账中确认"), "success")
            return _back(case)
    return render_template(
        "collections/case_detail.html", **_case_context(case, plan_form=form)
    ), 422


@bp.route("/tasks/<int:task_id>/decide", methods=["POST"])
@roles_required(*WORKERS)
def task_decide(task_id: int) -> ResponseReturnValue:
    task = cases.get_scoped_task(db.session, staff=current_user, task_id=task_id)
    if task is None or not (
        current_user.is_admin or task.community_id in current_user.community_ids(*WORKERS)
    ):
        abort(404)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            cases.decide_task(
                db.session,
                task=task,
                actor=current_user,
                approve=form.decision.data == "approve",
                note=form.note.data or "",
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("已处理该建议"), "success")
    return redirect(
        safe_next(request.form.get("next"))
        or url_for("collections.case_detail", case_id=task.case_id)
    )


@bp.route("/tasks/<int:task_id>/done", methods=["POST"])
@roles_required(*RECOVERY_ROLES)
def task_done(task_id: int) -> ResponseReturnValue:
    task = cases.get_scoped_task(db.session, staff=current_user, task_id=task_id)
    if task is None:
        abort(404)
    form = TaskDoneForm()
    if form.validate_on_submit():
        try:
            cases.complete_task(
                db.session, task=task, actor=current_user, note=form.note.data or "", now=now_utc()
            )
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("任务已完成"), "success")
    fallback = (
        url_for("collections.recovery_list")
        if task.kind == TaskKind.SERVICE_RECOVERY and not current_user.has_role(*WORKERS)
        else url_for("collections.case_detail", case_id=task.case_id)
    )
    return redirect(safe_next(request.form.get("next")) or fallback)


# ---------------------------------------------------------------- written notices


@bp.route("/cases/<int:case_id>/notice.pdf")
@roles_required(*WORKERS)
def case_notice(case_id: int) -> ResponseReturnValue:
    case = _case_or_404(case_id)
    data = notice.notice_data(db.session, case=case, day=_today(case.community))
    lists.record_export(
        db.session,
        community=case.community,
        actor=current_user,
        what="notice",
        fmt="pdf",
        now=now_utc(),
    )
    db.session.commit()
    return Response(
        notice.render_notices_pdf([data]),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="notice-{case.id}.pdf"'},
    )


@bp.route("/notices/<code>/<int:building_id>.pdf")
@roles_required(*WORKERS)
def building_notices(code: str, building_id: int) -> ResponseReturnValue:
    """A building's batch: every active case at L2 or above, one page each."""
    community = _community(code)
    building = db.session.get(Building, building_id)
    if building is None or building.community_id != community.id:
        abort(404)
    day = _today(community)
    selected = [
        c
        for c in cases.iter_cases(
            db.session,
            filters=cases.CaseFilters(community_ids={community.id}, building_id=building.id),
            day=day,
        )
        if c.tier in ("L2", "L3", "L4") and c.overdue_fen > 0
    ]
    pages = [notice.notice_data(db.session, case=c, day=day) for c in selected]
    lists.record_export(
        db.session,
        community=community,
        actor=current_user,
        what="notices",
        fmt="pdf",
        now=now_utc(),
    )
    db.session.commit()
    return Response(
        notice.render_notices_pdf(pages),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="notices-{building.id}.pdf"'},
    )


# ---------------------------------------------------------------- manager view


@bp.route("/manager")
@roles_required(Role.MANAGER)
def manager_view() -> ResponseReturnValue:
    community = _community(request.args.get("community"), roles=(Role.MANAGER,))
    day = _today(community)
    reports = replica.read_session()  # the figures: read-only, from the replica when set
    return render_template(
        "collections/manager.html",
        community=community,
        day=day,
        funnel=dashboard.tier_funnel(reports, community_id=community.id),
        by_tier=dashboard.recovery(reports, community_id=community.id, group="tier"),
        by_reason=dashboard.recovery(reports, community_id=community.id, group="reason"),
        aging_rows=dashboard.aging_table(reports, community_id=community.id, day=day),
        workload=dashboard.workload(
            reports, community_id=community.id, since=now_utc() - timedelta(days=30)
        ),
        approvals=dashboard.approvals(db.session, community_id=community.id),
        counts=dashboard.todo_counts(reports, community_ids={community.id}, day=day),
        holds=cases.holds_of(db.session, community_id=community.id),
        decision_form=DecisionForm(),
        hold_form=HoldForm(starts_on=day),
    )


@bp.route("/manager/<code>/holds", methods=["POST"])
@roles_required(Role.MANAGER)
def hold_new(code: str) -> ResponseReturnValue:
    community = _community(code, roles=(Role.MANAGER,))
    form = HoldForm()
    if form.validate_on_submit():
        try:
            unit = None
            if form.unit.data:
                unit = communities.find_unit(db.session, community=community, code=form.unit.data)
                if unit is None:
                    raise DomainError(_l("房号不存在"), field="unit")
            cases.place_hold(
                db.session,
                community=community,
                actor=current_user,
                reason=form.reason.data,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                unit=unit,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("已暂停催缴"), "success")
    else:
        flash(_("请填写暂停原因和开始日期"), "error")
    return redirect(url_for("collections.manager_view", community=community.code))


@bp.route("/manager/<code>/holds/<int:hold_id>/release", methods=["POST"])
@roles_required(Role.MANAGER)
def hold_release(code: str, hold_id: int) -> ResponseReturnValue:
    community = _community(code, roles=(Role.MANAGER,))
    hold = next(
        (h for h in cases.holds_of(db.session, community_id=community.id) if h.id == hold_id), None
    )
    if hold is None or not AcceptPlanForm().validate_on_submit():
        abort(404)
    cases.release_hold(db.session, hold=hold, actor=current_user, now=now_utc())
    db.session.commit()
    flash(_("已恢复催缴"), "success")
    return redirect(url_for("collections.manager_view", community=community.code))


# ---------------------------------------------------------------- the three lists


@bp.route("/lists/<code>")
@roles_required(*WORKERS)
def three_lists(code: str) -> ResponseReturnValue:
    community = _community(code)
    return render_template(
        "collections/lists.html",
        community=community,
        bases=lists.legal_basis(db.session, community_id=community.id),
        form=LegalBasisForm(),
        is_manager=cases.is_manager(current_user, community.id),
        counts=dashboard.todo_counts(
            db.session, community_ids={community.id}, day=_today(community)
        ),
    )


def _stream_csv(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(header)
    yield out.getvalue()
    for row in rows:
        out.seek(0)
        out.truncate()
        writer.writerow([safe_cell(c) for c in row])
        yield out.getvalue()


def _xlsx(sheet: str, header: list[str], rows: Iterable[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)  # rows go to disk-backed XML as they come
    ws = book.create_sheet(sheet[:31])
    ws.append(header)
    for row in rows:
        ws.append([safe_cell(c) for c in row])
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def _export(
    name: str, sheet: str, header: list[str], rows: Iterable[list[Any]], fmt: str
) -> Response:
    disposition = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if fmt == "csv":
        return Response(
            stream_with_context(_stream_csv(header, rows)),
            mimetype="text/csv; charset=utf-8",
            headers=disposition,
        )
    return Response(_xlsx(sheet, header, rows), mimetype=XLSX_MIME, headers=disposition)


@bp.route("/lists/<code>/arrears.<fmt>")
@roles_required(*WORKERS)
def arrears_export(code: str, fmt: str) -> ResponseReturnValue:
    """The arrears list (internal): collectors and managers only, every export audited."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    community = _community(code)
    day = _today(community)
    lists.record_export(
        db.session,
        community=community,
        actor=current_user,
        what="arrears",
        fmt=fmt,
        now=now_utc(),
        ip=request.remote_addr,
    )
    db.session.commit()
    header = [str(label) for _key, label in lists.ARREARS_COLUMNS]
    dissatisfied = request.args.get("dissatisfied") == "1"
    return _export(
        f"{community.code}-arrears{'-dissatisfied' if dissatisfied else ''}-{day.isoformat()}",
        _("欠费清单"),
        header,
        lists.arrears_rows(
            db.session, community=community, day=day, now=now_utc(), dissatisfied=dissatisfied
        ),
        fmt,
    )


@bp.route("/lists/<code>/legal-basis.<fmt>")
@roles_required(*WORKERS)
def legal_basis_export(code: str, fmt: str) -> ResponseReturnValue:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    community = _community(code)
    rows = [
        [b.tier, b.kind, b.reference, b.summary]
        for b in lists.legal_basis(db.session, community_id=community.id)
    ]
    header = [_("适用级别"), _("类别"), _("条款"), _("内容摘要")]
    return _export(f"{community.code}-legal-basis", _("依据清单"), header, rows, fmt)


@bp.route("/lists/<code>/legal-basis", methods=["POST"])
@roles_required(Role.MANAGER)
def legal_basis_add(code: str) -> ResponseReturnValue:
    community = _community(code, roles=(Role.MANAGER,))
    form = LegalBasisForm()
    if form.validate_on_submit():
        try:
            lists.add_basis(
                db.session,
                community=community,
                actor=current_user,
                tier=form.tier.data,
                kind=form.kind.data,
                reference=form.reference.data,
                summary=form.summary.data,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已加入依据清单"), "success")
            return redirect(url_for("collections.three_lists", code=community.code))
    return render_template(
        "collections/lists.html",
        community=community,
        bases=lists.legal_basis(db.session, community_id=community.id),
        form=form,
        is_manager=True,
        counts=dashboard.todo_counts(
            db.session, community_ids={community.id}, day=_today(community)
        ),
    ), 422


@bp.route("/lists/<code>/legal-basis/<int:basis_id>/retire", methods=["POST"])
@roles_required(Role.MANAGER)
def legal_basis_retire(code: str, basis_id: int) -> ResponseReturnValue:
    community = _community(code, roles=(Role.MANAGER,))
    if not AcceptPlanForm().validate_on_submit():
        abort(400)
    try:
        lists.retire_basis(
            db.session, community=community, actor=current_user, basis_id=basis_id, now=now_utc()
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("已从依据清单移除"), "success")
    return redirect(url_for("collections.three_lists", code=community.code))


# ---------------------------------------------------------------- service recovery


@bp.route("/recovery")
@roles_required(*RECOVERY_ROLES)
def recovery_list() -> ResponseReturnValue:
    """Service-recovery tasks for customer service and engineering, oldest due first."""
    ids = None if current_user.is_admin else current_user.community_ids(*RECOVERY_ROLES)
    query = select(CollectionTask).where(
        CollectionTask.kind == TaskKind.SERVICE_RECOVERY,
        CollectionTask.status == TaskStatus.OPEN,
    )
    if ids is not None:
        query = query.where(CollectionTask.community_id.in_(ids or {-1}))
    tasks = db.session.scalars(query.order_by(CollectionTask.due_on, CollectionTask.id)).all()
    return render_template(
        "collections/recovery_list.html", tasks=tasks, form=TaskDoneForm(), day=_today()
    )


# ---------------------------------------------------------------- the owner's plans


@bp.route("/my-plans")
@roles_required(Role.OWNER)
def my_plans() -> ResponseReturnValue:
    return render_template(
        "collections/my_plans.html",
        plans=plans.owner_plans(db.session, owner=current_user),
        form=AcceptPlanForm(),
    )


@bp.route("/my-plans/<int:plan_id>/accept", methods=["POST"])
@roles_required(Role.OWNER)
def my_plan_accept(plan_id: int) -> ResponseReturnValue:
    plan = plans.get_owned_plan(db.session, owner=current_user, plan_id=plan_id)
    if plan is None:
        abort(404)
    if AcceptPlanForm().validate_on_submit():
        try:
            plans.accept_plan(db.session, plan=plan, owner=current_user, now=now_utc())
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("您已接受分期计划，请按期缴费"), "success")
    return redirect(url_for("collections.my_plans"))
