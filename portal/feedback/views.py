"""Feedback pages: owners' complaints and surveys; staff surveys, profiles, recovery, KPIs."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, time
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
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from portal import exports
from portal.communities import service as communities
from portal.communities.models import Building, Unit
from portal.domains import NavItem
from portal.errors import DomainError
from portal.extensions import db
from portal.feedback import complaints, figures, kpis, profile, recovery, surveys
from portal.feedback.community import community_satisfaction
from portal.feedback.forms import (
    ComplaintForm,
    RecoveryDoneForm,
    StaffComplaintForm,
    SurveyForm,
)
from portal.feedback.models import Survey, SurveyStatus
from portal.forms import attach_error, choices
from portal.security import roles_required, safe_next
from portal.tickets import setup as tickets_setup
from portal.timeutil import DEFAULT_TZ, local_today, now_utc, zone

bp = Blueprint("feedback", __name__, url_prefix="/feedback")

SURVEY_STAFF = ("cs", "manager", "committee")

NAV = [
    NavItem("feedback.complaint_list", _l("我的投诉"), ("owner",), order=36),
    NavItem("feedback.survey_list", _l("满意度调查"), ("owner",), order=37),
    NavItem("feedback.staff_surveys", _l("满意度调查"), SURVEY_STAFF, order=38),
    NavItem("feedback.recovery_list", _l("服务补救"), recovery.RECOVERY_ROLES, order=39),
    NavItem("feedback.kpi_dashboard", _l("满意度指标"), ("manager",), order=40),
]


# ---------------------------------------------------------------- complaints (owner)


@bp.route("/complaints")
@roles_required("owner")
def complaint_list() -> ResponseReturnValue:
    page = complaints.owner_complaints(
        db.session, owner=current_user, page=request.args.get("page", 1, type=int)
    )
    return render_template("feedback/complaint_list.html", complaints=page.items, page=page)


@bp.route("/complaints/new", methods=["GET", "POST"])
@roles_required("owner")
def complaint_new() -> ResponseReturnValue:
    units = communities.units_of(db.session, current_user)
    if not units:
        flash(_("您名下没有房屋，暂时不能投诉；请联系物业服务中心"), "warning")
        return redirect(url_for(".complaint_list"))
    form = ComplaintForm()
    wanted = form.unit_id.data if form.is_submitted() else None
    unit = next((u for u in units if u.id == wanted), units[0])
    community = unit.community
    form.unit_id.choices = choices([(u.id, f"{u.community.name} {u.code}") for u in units])
    form.category.choices = choices(
        [
            (c.code, tickets_setup.category_name(c))
            for c in complaints.complaint_categories(db.session, community)
        ]
    )
    form.about_staff_id.choices = choices(
        [("", _("（不涉及具体人员）"))]
        + [
            (s.id, s.display_name or _("工作人员"))
            for s in complaints.nameable_staff(db.session, community)
        ]
    )
    if form.validate_on_submit():
        try:
            ticket = complaints.file_complaint(
                db.session,
                owner=current_user,
                unit_id=form.unit_id.data,
                category_code=form.category.data,
                description=form.description.data,
                about_staff_id=form.about_staff_id.data,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(
                _("投诉已提交，单号 %(n)s。客服会在 24 小时内答复。", n=ticket.number),
                "success",
            )
            return redirect(url_for("tickets.ticket_detail", ticket_id=ticket.id))
    else:
        db.session.commit()  # complaint categories created on first use
    return render_template("feedback/complaint_new.html", form=form, community=community)


@bp.route("/staff/complaints/new", methods=["GET", "POST"])
@roles_required("cs", "manager")
def staff_complaint_new() -> ResponseReturnValue:
    scoped = communities.staff_communities(db.session, current_user, "cs", "manager")
    if not scoped:
        abort(404)
    form = StaffComplaintForm()
    form.community_id.choices = choices([(c.id, c.name) for c in scoped])
    wanted = form.community_id.data if form.is_submitted() else None
    community = next((c for c in scoped if c.id == wanted), scoped[0])
    form.category.choices = choices(
        [
            (c.code, tickets_setup.category_name(c))
            for c in complaints.complaint_categories(db.session, community)
        ]
    )
    form.about_staff_id.choices = choices(
        [("", _("（不涉及具体人员）"))]
        + [
            (s.id, s.display_name or _("工作人员"))
            for s in complaints.nameable_staff(db.session, community)
        ]
    )
    if form.validate_on_submit():
        unit = communities.find_unit(
            db.session, community=community, code=form.unit_code.data.strip().upper()
        )
        try:
            if unit is None:
                raise DomainError(_("本小区没有这个房号"), field="unit_code")
            ticket = complaints.record_complaint(
                db.session,
                staff=current_user,
                community=community,
                unit=unit,
                category_code=form.category.data,
                description=form.description.data,
                about_staff_id=form.about_staff_id.data,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("投诉已登记，单号 %(n)s", n=ticket.number), "success")
            return redirect(url_for("tickets.staff_detail", ticket_id=ticket.id))
    else:
        db.session.commit()  # complaint categories created on first use
    return render_template("feedback/staff_complaint_new.html", form=form)


# ---------------------------------------------------------------- surveys (owner)


@bp.route("/surveys")
@roles_required("owner")
def survey_list() -> ResponseReturnValue:
    now = now_utc()
    units = communities.units_of(db.session, current_user)
    published = []
    for community_id in sorted({u.community_id for u in units}):
        published.extend(surveys.published_surveys(db.session, community_id=community_id))
    return render_template(
        "feedback/survey_list.html",
        open_surveys=surveys.owner_surveys(db.session, owner=current_user, now=now),
        published=published,
    )


def _owner_survey_and_unit(survey_id: int, unit_id: int | None) -> tuple[Survey, Unit]:
    survey = surveys.load_survey(db.session, survey_id)
    units = communities.units_of(db.session, current_user)
    if survey is None:
        abort(404)
    mine = [u for u in units if u.community_id == survey.community_id]
    unit = next((u for u in mine if u.id == unit_id), None) if unit_id else None
    if unit_id and unit is None:
        abort(404)  # not the owner's unit: looks the same as a unit that does not exist
    if unit is None and mine:
        unit = mine[0]
    if unit is None:
        abort(404)
    return survey, unit


@bp.route("/surveys/<int:survey_id>", methods=["GET", "POST"])
@roles_required("owner")
def survey_answer(survey_id: int) -> ResponseReturnValue:
    survey, unit = _owner_survey_and_unit(survey_id, request.values.get("unit_id", type=int))
    form = FlaskForm()  # CSRF only: the questions are the survey's own
    error = None
    field_errors: dict[str, str] = {}
    if form.validate_on_submit():
        answers = {q.code: request.form.get(q.code) for q in survey.questions}
        try:
            surveys.submit_response(
                db.session,
                survey_id=survey.id,
                owner=current_user,
                unit_id=unit.id,
                answers=answers,
                comment=request.form.get("comment", ""),
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            if exc.code == "not_found":
                abort(404)
            if exc.field:
                field_errors[exc.field] = exc.message
            error = exc.message
        else:
            db.session.commit()
            flash(_("感谢您的反馈！"), "success")
            return redirect(url_for(".survey_list"))
    answered = any(
        o.answered and o.unit.id == unit.id and o.survey.id == survey.id
        for o in surveys.owner_surveys(db.session, owner=current_user, now=now_utc())
    )
    return render_template(
        "feedback/survey_answer.html",
        survey=survey,
        unit=unit,
        form=form,
        is_open=surveys.is_open(survey, now_utc()),
        error=error,
        field_errors=field_errors,
        answered=answered,
        values=request.form,
        dimensions=surveys.DIMENSIONS,
    )


@bp.route("/surveys/<int:survey_id>/results")
@roles_required("owner")
def survey_public_results(survey_id: int) -> ResponseReturnValue:
    survey, _unit = _owner_survey_and_unit(survey_id, None)
    if survey.published_at is None:
        abort(404)
    return _results_page(survey, staff=False)


def _results_page(survey: Survey, *, staff: bool) -> ResponseReturnValue:
    report = surveys.results(db.session, survey=survey)
    charts = {}
    for q in report.questions:
        figure = figures.question_figure(q)
        if figure is not None:
            charts[f"chart-{q.question.code}"] = figure
    summary = figures.dimensions_figure(report)
    return render_template(
        "feedback/survey_results.html",
        report=report,
        charts=charts,
        summary=summary,
        staff=staff,
        form=FlaskForm(),
    )


# ---------------------------------------------------------------- surveys (staff)


def _staff_community_ids(*roles: str) -> set[int] | None:
    return None if current_user.is_admin else current_user.community_ids(*roles)


@bp.route("/staff/surveys")
@roles_required(*SURVEY_STAFF)
def staff_surveys() -> ResponseReturnValue:
    page = surveys.staff_surveys(
        db.session,
        community_ids=_staff_community_ids(*SURVEY_STAFF),
        page=request.args.get("page", 1, type=int),
    )
    return render_template(
        "feedback/staff_surveys.html",
        surveys=page.items,
        page=page,
        can_create=current_user.is_admin or bool(current_user.community_ids(*surveys.SURVEY_ROLES)),
    )


@bp.route("/staff/surveys/new", methods=["GET", "POST"])
@roles_required(*surveys.SURVEY_ROLES)
def survey_new() -> ResponseReturnValue:
    scoped = communities.staff_communities(db.session, current_user, *surveys.SURVEY_ROLES)
    form = SurveyForm()
    form.community_id.choices = choices([(c.id, c.name) for c in scoped])
    ids = [c.id for c in scoped]
    buildings = db.session.scalars(
        select(Building).where(Building.community_id.in_(ids or [-1])).order_by(Building.code)
    ).all()
    form.building_ids.choices = choices([(b.id, b.name) for b in buildings])
    if request.method == "GET" and not form.questions.data:
        form.questions.data = (
            "\n".join(f"评分|{text}|{dim}" for dim, text in surveys.STANDARD_QUESTIONS)
            + "\n文字|您还有什么意见或建议？"
        )
    if form.validate_on_submit():
        community = next((c for c in scoped if c.id == form.community_id.data), None)
        if community is None:
            abort(404)
        try:
            tz = zone(community.timezone)
            closes_at = datetime.combine(form.closes_on.data, time(23, 59), tzinfo=tz)
            survey = surveys.create_survey(
                db.session,
                staff=current_user,
                community=community,
                title=form.title.data,
                kind=form.kind.data,
                closes_at=closes_at,
                questions=surveys.parse_questions(form.questions.data or ""),
                building_ids=form.building_ids.data or None,
                intro=form.intro.data or "",
                now=now_utc(),
            )
            invited = surveys.invite_owners(db.session, survey=survey, now=now_utc())
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(
                ngettext(
                    "调查已发出，已排队 %(n)s 条邀请",
                    "调查已发出，已排队 %(n)s 条邀请",
                    invited,
                    n=invited,
                ),
                "success",
            )
            return redirect(url_for(".staff_survey_detail", survey_id=survey.id))
    return render_template("feedback/survey_new.html", form=form)


def _scoped_survey(survey_id: int) -> Survey:
    survey = surveys.get_scoped_survey(db.session, staff=current_user, survey_id=survey_id)
    if survey is None:
        abort(404)
    return survey


@bp.route("/staff/surveys/<int:survey_id>")
@roles_required(*SURVEY_STAFF)
def staff_survey_detail(survey_id: int) -> ResponseReturnValue:
    return _results_page(_scoped_survey(survey_id), staff=True)


@bp.route("/staff/surveys/<int:survey_id>/close", methods=["POST"])
@roles_required(*surveys.SURVEY_ROLES)
def survey_close(survey_id: int) -> ResponseReturnValue:
    survey = _scoped_survey(survey_id)
    form = FlaskForm()
    if form.validate_on_submit():
        try:
            if survey.status == SurveyStatus.OPEN:
                surveys.close_survey(
                    db.session,
                    survey=survey,
                    staff=current_user,
                    now=now_utc(),
                    publish=bool(request.form.get("publish")),
                )
            else:
                surveys.publish_results(
                    db.session,
                    survey=survey,
                    staff=current_user,
                    now=now_utc(),
                )
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("已更新调查状态"), "success")
    return redirect(url_for(".staff_survey_detail", survey_id=survey_id))


# ---------------------------------------------------------------- satisfaction profile (staff)

PROFILE_ROLES = ("cs", "manager", "collector")


def scoped_unit(unit_id: int, *roles: str) -> Unit:
    unit = db.session.get(Unit, unit_id)
    if unit is None or not (
        current_user.is_admin or unit.community_id in current_user.community_ids(*roles)
    ):
        abort(404)
    return unit


@bp.route("/staff/units/<int:unit_id>")
@roles_required(*PROFILE_ROLES)
def unit_profile(unit_id: int) -> ResponseReturnValue:
    unit = scoped_unit(unit_id, *PROFILE_ROLES)
    result = profile.satisfaction_profile(db.session, unit_id=unit.id, now=now_utc())
    return render_template(
        "feedback/unit_profile.html",
        unit=unit,
        profile=result,
        labels=profile.SIGNAL_LABELS,
        weights=profile.WEIGHTS,
        penalty_rules=profile.PENALTIES,
        tasks=recovery.unit_tasks(db.session, unit_id=unit.id),
        done_form=RecoveryDoneForm(),
        today=local_today(zone(unit.community.timezone), now_utc()),
    )


# ---------------------------------------------------------------- service recovery (staff)


@bp.route("/staff/recovery")
@roles_required(*recovery.RECOVERY_ROLES)
def recovery_list() -> ResponseReturnValue:
    status = request.args.get("status", "open")
    if status not in ("open", "overdue", "done", "all"):
        status = "open"
    today = local_today(DEFAULT_TZ, now_utc())
    page = recovery.task_list(
        db.session,
        community_ids=_staff_community_ids(*recovery.RECOVERY_ROLES),
        status=status,
        today=today,
        page=request.args.get("page", 1, type=int),
    )
    scoped = communities.staff_communities(db.session, current_user, *recovery.RECOVERY_ROLES)
    return render_template(
        "feedback/recovery_list.html",
        page=page,
        status=status,
        today=today,
        communities=scoped,
        labels=profile.SIGNAL_LABELS,
        form=FlaskForm(),
        done_form=RecoveryDoneForm(),
    )


@bp.route("/staff/recovery/sweep/<int:community_id>", methods=["POST"])
@roles_required(*recovery.RECOVERY_ROLES)
def recovery_sweep(community_id: int) -> ResponseReturnValue:
    scoped = communities.staff_communities(db.session, current_user, *recovery.RECOVERY_ROLES)
    community = next((c for c in scoped if c.id == community_id), None)
    if community is None:
        abort(404)
    if FlaskForm().validate_on_submit():
        result = recovery.sweep(db.session, community=community, now=now_utc())
        db.session.commit()
        flash(
            ngettext("新建 %(a)s 个任务", "新建 %(a)s 个任务", result.opened, a=result.opened)
            + ngettext(
                "，补充 %(b)s 个任务", "，补充 %(b)s 个任务", result.updated, b=result.updated
            ),
            "success",
        )
    return redirect(url_for(".recovery_list"))


@bp.route("/staff/recovery/<int:task_id>/done", methods=["POST"])
@roles_required(*recovery.RECOVERY_ROLES)
def recovery_done(task_id: int) -> ResponseReturnValue:
    task = recovery.get_scoped_task(db.session, staff=current_user, task_id=task_id)
    if task is None:
        abort(404)
    form = RecoveryDoneForm()
    if form.validate_on_submit():
        try:
            recovery.complete_task(
                db.session, task=task, staff=current_user, note=form.note.data, now=now_utc()
            )
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("任务已完成"), "success")
    else:
        flash(_("请记录处理结果"), "error")
    return redirect(safe_next(request.form.get("next")) or url_for(".recovery_list"))


# ---------------------------------------------------------------- KPI dashboard (manager)


def _kpi_community() -> Any:
    scoped = communities.staff_communities(db.session, current_user, "manager")
    if not scoped:
        abort(404)
    wanted = request.args.get("community", type=int)
    community = next((c for c in scoped if c.id == wanted), None) if wanted else scoped[0]
    if community is None:
        abort(404)
    return community, scoped


@bp.route("/staff/kpis")
@roles_required("manager")
def kpi_dashboard() -> ResponseReturnValue:
    community, scoped = _kpi_community()
    months = min(max(request.args.get("months", 12, type=int), 3), 36)
    now = now_utc()
    board = kpis.dashboard(db.session, community=community, now=now, months=months)
    charts = {
        "chart-satisfaction": figures.line_figure(
            _("满意度趋势（0–100）"),
            board.months,
            [
                (_("满意度调查"), [r.survey_satisfaction for r in board.rows]),
                (_("报修评价"), [r.repair_satisfaction for r in board.rows]),
            ],
            _("分"),
            target=board.satisfaction_target,
        ),
        "chart-complaints": figures.line_figure(
            _("投诉响应用时（小时，平均）"),
            board.months,
            [
                (_("首次响应"), [r.first_response_h for r in board.rows]),
                (_("答复"), [r.answer_h for r in board.rows]),
            ],
            _("小时"),
        ),
        "chart-recovery": figures.line_figure(
            _("服务补救任务"),
            board.months,
            [
                (_("新建"), [r.recovery_opened for r in board.rows]),
                (_("已完成"), [r.recovery_done for r in board.rows]),
                (_("按期完成"), [r.recovery_on_time for r in board.rows]),
            ],
            _("个"),
        ),
    }
    return render_template(
        "feedback/kpi_dashboard.html",
        board=board,
        charts=charts,
        communities=scoped,
        months=months,
        buildings=kpis.by_building(db.session, community=community, now=now),
        counts=recovery.counts(
            db.session,
            community_id=community.id,
            today=local_today(zone(community.timezone), now),
        ),
    )


def _stream_csv(
    filename: str, header: list[str], rows: Callable[[], Iterable[list[Any]]]
) -> Response:
    """A CSV download written row by row as it is read (exports stream every row).

    The rows are read in an application context of their own, opened when the response body
    is sent, so a large export never sits in memory as a whole.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(header)
        yield buffer.getvalue()
        with app.app_context():
            for row in rows():
                buffer.seek(0)
                buffer.truncate()
                writer.writerow([exports.safe_cell(cell) for cell in row])
                yield buffer.getvalue()

    return Response(
        generate(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/staff/kpis.csv")
@roles_required("manager")
def kpi_export() -> ResponseReturnValue:
    community, _scoped = _kpi_community()
    community_id = community.id
    if request.args.get("table") == "complaints":
        return _stream_csv(
            f"complaints-{community.code}.csv",
            kpis.COMPLAINT_HEADER,
            lambda: kpis.complaint_rows(db.session, community_id=community_id),
        )
    months = min(max(request.args.get("months", 12, type=int), 3), 36)
    board = kpis.dashboard(db.session, community=community, now=now_utc(), months=months)
    rows = list(kpis.month_rows(board))  # at most 36 months, already computed
    return _stream_csv(f"feedback-kpis-{community.code}.csv", kpis.MONTH_HEADER, lambda: rows)


# ---------------------------------------------------------------- the community page


@bp.app_template_global("feedback_community_for")
def feedback_community_for(community: Any) -> dict[str, Any]:
    """Satisfaction and complaints for the community page (feedback/_community_section.html):
    aggregates only; the survey-results link is for the community's own owners."""
    data = community_satisfaction(db.session, community=community, now=now_utc())
    mine = current_user.is_authenticated and any(
        u.community_id == community.id for u in communities.units_of(db.session, current_user)
    )
    return {"data": data, "owner": bool(mine)}
