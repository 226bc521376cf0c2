"""Repair requests: the owner's pages, the staff board, settings and the public statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from portal import pagecache
from portal.accounts.models import User
from portal.audit import service as audit
from portal.communities import service as communities
from portal.communities.models import Building, Community
from portal.domains import NavItem
from portal.errors import DomainError
from portal.extensions import db
from portal.forms import attach_error, choices
from portal.jinja import duration
from portal.security import public, roles_required, safe_next
from portal.tickets import aftercare, base, figures, intake, keys, queries, setup, stats, workflow
from portal.tickets.forms import (
    SCORE_CHOICES,
    AcknowledgeForm,
    AssignForm,
    CategoryForm,
    CommentForm,
    FollowupForm,
    KeyForm,
    RatingForm,
    ReasonForm,
    RecheckForm,
    ResolveForm,
    SlaForm,
    StaffTicketForm,
    TicketForm,
    WorkHoursForm,
    clock_of,
    minutes_of,
)
from portal.tickets.models import (
    DONE_STATUSES,
    Channel,
    RatingChannel,
    Ticket,
    TicketFollowup,
    TicketStatus,
    Urgency,
)
from portal.tickets.sla import DEFAULT_TARGETS, sla_state
from portal.timeutil import now_utc

bp = Blueprint("tickets", __name__)

STAFF = base.TICKET_STAFF_ROLES
NAV = [
    NavItem("tickets.ticket_list", _l("报修"), ("owner",), order=30),
    NavItem("tickets.board", _l("工单看板"), ("cs", "manager"), order=31),
    NavItem("tickets.queue", _l("我的工单"), ("engineer",), order=32),
    NavItem("tickets.responsiveness_index", _l("维修响应"), ("*",), order=60),
]

LABELS: dict[str, Any] = {
    "normal": _l("一般"),
    "urgent": _l("紧急"),
    "in_home": _l("室内"),
    "common_area": _l("公共区域"),
    "any": _l("任意时间"),
    "morning": _l("上午"),
    "afternoon": _l("下午"),
    "evening": _l("晚上"),
    "web": _l("网页"),
    "phone": _l("电话"),
    "api": _l("API"),
    "open311": _l("Open311"),
    "patrol": _l("巡查"),
    "ok": _l("正常"),
    "approaching": _l("即将超时"),
    "overdue": _l("已超时"),
    "met": _l("按时"),
    "breached": _l("超时"),
    "open": _l("待处理"),
    "done": _l("已完成"),
    "expired": _l("已过期"),
}
EVENT_TEXT: dict[str, Any] = {
    "submitted": _l("提交报修"),
    "acknowledged": _l("已受理"),
    "assigned": _l("已派单"),
    "started": _l("开始处理"),
    "resolved": _l("已解决"),
    "closed": _l("已关闭"),
    "reopened": _l("重新打开"),
    "cancelled": _l("已取消"),
    "comment": _l("留言"),
    "note": _l("内部备注"),
    "rated": _l("评价"),
    "recheck_asked": _l("回访：问题是否仍已修好？"),
    "recheck_answered": _l("回访答复"),
    "photo_added": _l("上传照片"),
}


@bp.app_template_filter("ticket_status")
def ticket_status_filter(value: str) -> str:
    return base.status_label(value)


@bp.app_template_filter("ticket_label")
def ticket_label_filter(value: Any) -> str:
    return str(LABELS.get(str(value), value))


@bp.app_template_filter("category_name")
def category_name_filter(category: Any) -> str:
    return setup.category_name(category)


@bp.app_template_filter("event_text")
def event_text_filter(kind: str) -> str:
    return str(EVENT_TEXT.get(kind, kind))


@bp.app_template_filter("hours")
def hours_filter(value: Decimal | None) -> str:
    if value is None:
        return _("样本不足")
    return duration(value)


@bp.app_template_filter("percent")
def percent_filter(value: Decimal | None) -> str:
    if value is None:
        return _("样本不足")
    return f"{(value * 100).quantize(Decimal('0.1'))}%"


@bp.app_template_filter("minutes_hours")
def minutes_hours_filter(minutes: int) -> str:
    return duration(minutes, "minutes")


@bp.app_template_filter("mask_phone")
def mask_phone(value: str | None) -> str:
    if not value:
        return ""
    digits = value.replace(" ", "")
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else "****"


@dataclass(frozen=True)
class SlaClock:
    """One of a ticket's two SLA clocks: its state and the deadline that state is about."""

    state: str
    kind: str  # "response" (first response) or "resolution"
    due_at: datetime
    live: bool  # still running (the step it times has not happened yet)


SLA_ORDER = ["overdue", "breached", "approaching", "ok", "met"]


def sla_clock(ticket: Ticket, now: datetime) -> SlaClock:
    """The worse of the two SLA clocks, for highlighting; on a tie the one still running, so
    a flag such as 已超时 always comes with the deadline it refers to."""
    first = SlaClock(
        sla_state(now, ticket.created_at, ticket.first_response_due_at, ticket.acknowledged_at),
        "response",
        ticket.first_response_due_at,
        ticket.acknowledged_at is None,
    )
    done = None
    if ticket.status in DONE_STATUSES:
        done = ticket.resolved_at
    elif ticket.status == TicketStatus.CANCELLED:
        done = ticket.cancelled_at
    second = SlaClock(
        sla_state(now, ticket.created_at, ticket.resolution_due_at, done),
        "resolution",
        ticket.resolution_due_at,
        done is None,
    )
    return min((first, second), key=lambda c: (SLA_ORDER.index(c.state), not c.live))


def _sla(ticket: Ticket, now: datetime) -> str:
    """The worse of the two SLA clocks' state, for highlighting."""
    return sla_clock(ticket, now).state


def _photos_from(field_name: str) -> list[intake.PhotoUpload]:
    from portal.uploads import service as uploads

    files: list[FileStorage] = [f for f in request.files.getlist(field_name) if f and f.filename]
    return [
        intake.PhotoUpload(
            data=uploads.read_upload(f, intake.PHOTO_MAX_BYTES), filename=f.filename or "photo"
        )
        for f in files
    ]


def _back(ticket: Ticket, *, staff: bool) -> ResponseReturnValue:
    endpoint = ".staff_detail" if staff else ".ticket_detail"
    return redirect(url_for(endpoint, ticket_id=ticket.id))


def _fail(exc: DomainError) -> None:
    db.session.rollback()
    flash(exc.message, "error")


# ---------------------------------------------------------------- owner pages


@bp.route("/tickets/")
@roles_required("owner")
def ticket_list() -> ResponseReturnValue:
    now = now_utc()
    page = queries.owner_tickets_page(
        db.session, user=current_user, page=request.args.get("page", 1, type=int) or 1
    )
    recent = queries.owner_tickets(db.session, user=current_user, limit=50)
    units = communities.units_of(db.session, current_user)
    community_ids = sorted({u.community_id for u in units})
    common = []
    for community_id in community_ids:
        common.extend(queries.common_area_tickets(db.session, community_id=community_id, limit=5))
    return render_template(
        "tickets/ticket_list.html",
        tickets=page.items,
        page=page,
        rechecks=aftercare.pending_rechecks(db.session, user=current_user),
        to_rate=[t for t in recent if t.status in DONE_STATUSES and t.rating is None],
        common=common,
        communities={u.community_id: u.community for u in units},
        recheck_form=RecheckForm(),
        now=now,
    )


def _owner_form_choices(form: TicketForm, community: Community, units: list[Any]) -> None:
    form.unit_id.choices = choices([(str(u.id), f"{u.community.name} {u.code}") for u in units])
    form.category.choices = choices(
        [(c.code, setup.category_name(c)) for c in setup.list_categories(db.session, community)]
    )
    buildings = db.session.scalars(
        select(Building).where(Building.community_id == community.id).order_by(Building.code)
    ).all()
    form.building_id.choices = choices(
        [("", _("（不指定楼栋）"))] + [(str(b.id), b.name) for b in buildings]
    )


@bp.route("/tickets/new", methods=["GET", "POST"])
@roles_required("owner")
def ticket_new() -> ResponseReturnValue:
    units = communities.units_of(db.session, current_user)
    if not units:
        flash(_("您名下没有房屋，暂时不能报修；请联系物业服务中心"), "warning")
        return redirect(url_for(".ticket_list"))
    wanted = request.values.get("unit_id", type=int)
    unit = next((u for u in units if u.id == wanted), units[0])
    community = unit.community
    form = TicketForm(data={"unit_id": unit.id})
    _owner_form_choices(form, community, [u for u in units if u.community_id == community.id])
    if form.validate_on_submit():
        try:
            photos = _photos_from("photos")
            ticket = intake.create_ticket(
                db.session,
                community=community,
                actor=current_user,
                now=now_utc(),
                category_code=form.category.data,
                description=form.description.data,
                unit=unit,
                location_type=form.location_type.data,
                building_id=form.building_id.data,
                floor=form.floor.data,
                area=form.area.data or "",
                urgency=form.urgency.data,
                preferred_on=form.preferred_on.data,
                preferred_slot=form.preferred_slot.data,
                contact_phone=form.contact_phone.data or "",
                channel=Channel.WEB,
                photos=photos,
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("报修已提交，单号 %(n)s。我们会尽快受理。", n=ticket.number), "success")
            return redirect(url_for(".ticket_detail", ticket_id=ticket.id))
    else:
        db.session.commit()  # default categories created on first use
    open_common = queries.common_area_tickets(db.session, community_id=community.id, limit=10)
    return render_template(
        "tickets/ticket_new.html",
        form=form,
        community=community,
        units=units,
        unit=unit,
        open_common=open_common,
        targets=_target_summary(community),
    )


def _target_summary(community: Community) -> dict[str, str]:
    """The community's default first-response target per urgency, in words ("30 分钟")."""
    return {
        urgency: duration(
            setup.sla_minutes(
                db.session, community_id=community.id, category_id=-1, urgency=urgency
            )[0],
            "minutes",
        )
        for urgency in (Urgency.URGENT, Urgency.NORMAL)
    }


def _owned_or_404(ticket_id: int) -> Ticket:
    ticket = base.get_owned_ticket(db.session, user=current_user, ticket_id=ticket_id)
    if ticket is None:
        abort(404)
    return ticket


@bp.route("/tickets/<int:ticket_id>")
@roles_required("owner")
def ticket_detail(ticket_id: int) -> ResponseReturnValue:
    _owned_or_404(ticket_id)
    ticket = queries.load_detail(db.session, ticket_id)
    if ticket is None:
        abort(404)
    now = now_utc()
    rating_form = RatingForm()
    rating_form.score.choices = choices(SCORE_CHOICES)  # type: ignore[arg-type]
    return render_template(
        "tickets/ticket_detail.html",
        ticket=ticket,
        events=queries.visible_events(ticket, for_owner=True),
        comment_form=CommentForm(),
        reason_form=ReasonForm(),
        rating_form=rating_form,
        can_reopen=workflow.can_reopen(ticket, now),
        reopen_until=ticket.resolved_at + timedelta(days=workflow.REOPEN_DAYS)
        if ticket.resolved_at
        else None,
        sla=_sla(ticket, now),
        rechecks=[
            f
            for f in aftercare.pending_rechecks(db.session, user=current_user)
            if f.ticket_id == ticket.id
        ],
        recheck_form=RecheckForm(),
    )


@bp.route("/tickets/<int:ticket_id>/comment", methods=["POST"])
@roles_required("owner")
def ticket_comment(ticket_id: int) -> ResponseReturnValue:
    ticket = _owned_or_404(ticket_id)
    form = CommentForm()
    try:
        workflow.comment(
            db.session,
            ticket=ticket,
            actor=current_user,
            now=now_utc(),
            body=form.body.data or "",
            by_owner=True,
        )
    except DomainError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(_("留言已发送"), "success")
    return _back(ticket, staff=False)


@bp.route("/tickets/<int:ticket_id>/cancel", methods=["POST"])
@roles_required("owner")
def ticket_cancel(ticket_id: int) -> ResponseReturnValue:
    ticket = _owned_or_404(ticket_id)
    form = ReasonForm()
    try:
        workflow.cancel(
            db.session,
            ticket=ticket,
            actor=current_user,
            now=now_utc(),
            reason=form.reason.data or "",
            by_owner=True,
        )
    except DomainError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(_("报修已取消"), "success")
    return _back(ticket, staff=False)


@bp.route("/tickets/<int:ticket_id>/reopen", methods=["POST"])
@roles_required("owner")
def ticket_reopen(ticket_id: int) -> ResponseReturnValue:
    ticket = _owned_or_404(ticket_id)
    form = ReasonForm()
    try:
        workflow.reopen(
            db.session,
            ticket=ticket,
            actor=current_user,
            now=now_utc(),
            reason=form.reason.data or "",
        )
    except DomainError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(_("已重新打开，我们会尽快处理"), "success")
    return _back(ticket, staff=False)


@bp.route("/tickets/<int:ticket_id>/confirm", methods=["POST"])
@roles_required("owner")
def ticket_confirm(ticket_id: int) -> ResponseReturnValue:
    ticket = _owned_or_404(ticket_id)
    try:
        workflow.close(db.session, ticket=ticket, actor=current_user, now=now_utc(), by_owner=True)
    except DomainError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(_("已确认修好，谢谢"), "success")
    return _back(ticket, staff=False)


@bp.route("/tickets/<int:ticket_id>/rate", methods=["POST"])
@roles_required("owner")
def ticket_rate(ticket_id: int) -> ResponseReturnValue:
    ticket = _owned_or_404(ticket_id)
    form = RatingForm()
    form.score.choices = choices(SCORE_CHOICES)  # type: ignore[arg-type]
    if not form.validate():
        flash(_("请选择 1 到 5 分"), "error")
        return _back(ticket, staff=False)
    try:
        aftercare.rate(
            db.session,
            ticket=ticket,
            actor=current_user,
            now=now_utc(),
            score=form.score.data,
            comment_text=form.comment.data or "",
        )
    except DomainError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(_("谢谢您的评价"), "success")
    return _back(ticket, staff=False)


@bp.route("/tickets/rechecks/<int:followup_id>", methods=["POST"])
@roles_required("owner")
def recheck_answer(followup_id: int) -> ResponseReturnValue:
    followup = aftercare.get_owned_followup(db.session, user=current_user, followup_id=followup_id)
    if followup is None:
        abort(404)
    form = RecheckForm()
    fixed = bool(form.fixed.data) and not form.not_fixed.data
    try:
        aftercare.answer_recheck(
            db.session,
            followup=followup,
            actor=current_user,
            now=now_utc(),
            fixed=fixed,
            note=form.note.data or "",
        )
    except DomainError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(
            _("谢谢确认") if fixed else _("工单已重新打开，我们会尽快上门"),
            "success",
        )
    return redirect(url_for(".ticket_detail", ticket_id=followup.ticket_id))


@bp.route("/tickets/<int:ticket_id>/photos/<int:photo_id>")
def ticket_photo(ticket_id: int, photo_id: int) -> ResponseReturnValue:
    from portal.uploads import service as uploads
    from portal.uploads.models import StoredFile

    ticket = base.get_scoped_ticket(db.session, staff=current_user, ticket_id=ticket_id)
    if ticket is None:
        ticket = base.get_owned_ticket(db.session, user=current_user, ticket_id=ticket_id)
    if ticket is None:
        abort(404)
    photo = queries.get_photo(db.session, ticket=ticket, photo_id=photo_id)
    if photo is None:
        abort(404)
    stored = db.session.get(StoredFile, photo.stored_file_id)
    if stored is None:
        abort(404)
    return uploads.send_stored(
        stored, download_name=f"{ticket.number}-{photo.id}.{stored.extension}"
    )


@bp.route("/tickets/community/<code>")
def common_list(code: str) -> ResponseReturnValue:
    community = communities.get_community(db.session, code)
    if community is None:
        abort(404)
    mine = {u.community_id for u in communities.units_of(db.session, current_user)}
    if community.id not in mine and not base.staff_roles_in(current_user, community.id):
        abort(404)
    show_all = request.args.get("all") == "1"
    page = queries.common_area_page(
        db.session,
        community_id=community.id,
        open_only=not show_all,
        page=request.args.get("page", 1, type=int) or 1,
    )
    return render_template(
        "tickets/common_list.html",
        community=community,
        tickets=page.items,
        page=page,
        show_all=show_all,
    )


# ---------------------------------------------------------------- Open311 keys


@bp.route("/tickets/open311-keys", methods=["GET", "POST"])
@roles_required("owner")
def key_list() -> ResponseReturnValue:
    form = KeyForm()
    issued = None
    if form.validate_on_submit():
        try:
            issued = keys.create_key(
                db.session, user=current_user, label=form.label.data or "", now=now_utc()
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
    return render_template(
        "tickets/key_list.html",
        form=form,
        issued=issued,
        keys=keys.user_keys(db.session, user=current_user),
        endpoint=url_for("open311.service_list", fmt="json", _external=True).rsplit("/", 1)[0],
        communities=sorted(
            {u.community.code for u in communities.units_of(db.session, current_user)}
        ),
    )


@bp.route("/tickets/open311-keys/<int:key_id>/revoke", methods=["POST"])
@roles_required("owner")
def key_revoke(key_id: int) -> ResponseReturnValue:
    if not keys.revoke_key(db.session, user=current_user, key_id=key_id, now=now_utc()):
        abort(404)
    db.session.commit()
    flash(_("密钥已撤销"), "success")
    return redirect(url_for(".key_list"))


# ---------------------------------------------------------------- staff


def _staff_communities(*roles: str) -> list[Community]:
    return communities.staff_communities(db.session, current_user, *(roles or STAFF))


@bp.route("/staff/tickets")
@roles_required(*STAFF)
def board() -> ResponseReturnValue:
    now = now_utc()
    scoped = _staff_communities()
    code = request.args.get("community", "")
    community = next((c for c in scoped if c.code == code), None)
    if community is None and len(scoped) == 1:
        community = scoped[0]
    assignee_arg = request.args.get("assignee", "")
    filters = queries.BoardFilters(
        community_id=community.id if community else None,
        status=request.args.get("status", "open"),
        category_id=request.args.get("category", type=int),
        building_id=request.args.get("building", type=int),
        assignee_id=0 if assignee_arg == "none" else request.args.get("assignee", type=int),
        overdue=request.args.get("overdue") == "1",
        search=request.args.get("q", "")[:40],
    )
    # The default categories are made on first use; commit that (only then) before loading
    # anything the template shows, so the commit does not expire the rows and the template
    # reload each one.
    if community and setup.ensure_categories(db.session, community):
        db.session.commit()
    categories = setup.list_categories(db.session, community) if community else []
    page = queries.board(
        db.session,
        staff=current_user,
        filters=filters,
        now=now,
        page=request.args.get("page", 1, type=int),
    )
    buildings = (
        db.session.scalars(
            select(Building).where(Building.community_id == community.id).order_by(Building.code)
        ).all()
        if community
        else []
    )
    engineers = base.engineers_of(db.session, community.id) if community else []
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "tickets/board.html",
        page=page,
        scoped=scoped,
        community=community,
        filters=filters,
        categories=categories,
        buildings=buildings,
        engineers=engineers,
        statuses=list(TicketStatus),
        sla={t.id: _sla(t, now) for t in page.tickets},
        clocks={t.id: sla_clock(t, now) for t in page.tickets},
        args=args,
        can_manage=bool(community and "manager" in base.staff_roles_in(current_user, community.id)),
        can_dispatch=bool(
            community is None
            or base.staff_roles_in(current_user, community.id) & set(base.DISPATCH_ROLES)
        ),
        tasks=len(aftercare.open_service_tasks(db.session, staff=current_user)),
    )


@bp.route("/staff/tickets/acknowledge", methods=["POST"])
@roles_required("cs", "manager")
def bulk_acknowledge() -> ResponseReturnValue:
    ids = [int(v) for v in request.form.getlist("ticket_ids") if v.isdigit()]
    if not ids:
        flash(_("请先勾选工单"), "warning")
        return redirect(request.referrer or url_for(".board"))
    now = now_utc()
    try:
        count = workflow.bulk_acknowledge(db.session, ticket_ids=ids, actor=current_user, now=now)
    except DomainError as exc:
        _fail(exc)
    else:
        audit.record(
            db.session,
            actor_id=current_user.id,
            action="ticket.bulk_acknowledge",
            target_type="ticket",
            target_id=None,
            community_id=None,
            now=now,
            details={"ticket_ids": ids, "acknowledged": count},
        )
        db.session.commit()
        flash(ngettext("已受理 %(n)s 张工单", "已受理 %(n)s 张工单", count, n=count), "success")
    target = request.referrer if request.referrer and "/staff/tickets" in request.referrer else None
    return redirect(target or url_for(".board"))


@bp.route("/staff/tickets/mine")
@roles_required(*STAFF)
def queue() -> ResponseReturnValue:
    now = now_utc()
    rows = queries.engineer_queue(db.session, engineer=current_user)
    return render_template(
        "tickets/queue.html",
        tickets=rows,
        sla={t.id: _sla(t, now) for t in rows},
        clocks={t.id: sla_clock(t, now) for t in rows},
    )


def _staff_form_choices(form: StaffTicketForm, community: Community) -> None:
    form.category.choices = choices(
        [(c.code, setup.category_name(c)) for c in setup.list_categories(db.session, community)]
    )
    buildings = db.session.scalars(
        select(Building).where(Building.community_id == community.id).order_by(Building.code)
    ).all()
    form.building_id.choices = choices(
        [("", _("（不指定楼栋）"))] + [(str(b.id), b.name) for b in buildings]
    )


@bp.route("/staff/tickets/new", methods=["GET", "POST"])
@roles_required("cs", "manager")
def staff_new() -> ResponseReturnValue:
    scoped = _staff_communities(*base.DISPATCH_ROLES)
    code = request.values.get("community", "")
    community = next((c for c in scoped if c.code == code), scoped[0] if scoped else None)
    if community is None:
        abort(404)
    form = StaffTicketForm()
    _staff_form_choices(form, community)
    if form.validate_on_submit():
        try:
            unit = None
            if form.unit_code.data:
                unit = communities.find_unit(
                    db.session, community=community, code=form.unit_code.data.strip().upper()
                )
                if unit is None:
                    raise DomainError(_l("本小区没有这个房号"), field="unit_code")
            ticket = intake.create_ticket(
                db.session,
                community=community,
                actor=current_user,
                now=now_utc(),
                category_code=form.category.data,
                description=form.description.data,
                unit=unit,
                location_type=form.location_type.data,
                building_id=form.building_id.data,
                floor=form.floor.data,
                area=form.area.data or "",
                urgency=form.urgency.data,
                preferred_on=form.preferred_on.data,
                preferred_slot=form.preferred_slot.data,
                contact_phone=form.contact_phone.data or "",
                channel=form.channel.data,
                on_behalf=True,
                photos=_photos_from("photos"),
            )
        except DomainError as exc:
            db.session.rollback()
            if exc.field == "unit":
                exc.field = "unit_code"
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已登记工单 %(n)s", n=ticket.number), "success")
            return redirect(url_for(".staff_detail", ticket_id=ticket.id))
    else:
        db.session.commit()
    return render_template("tickets/staff_new.html", form=form, community=community, scoped=scoped)


def _scoped_or_404(ticket_id: int) -> Ticket:
    ticket = base.get_scoped_ticket(db.session, staff=current_user, ticket_id=ticket_id)
    if ticket is None:
        abort(404)
    return ticket


@bp.route("/staff/tickets/<int:ticket_id>")
@roles_required(*STAFF)
def staff_detail(ticket_id: int) -> ResponseReturnValue:
    _scoped_or_404(ticket_id)
    ticket = queries.load_detail(db.session, ticket_id)
    if ticket is None:
        abort(404)
    now = now_utc()
    roles = base.staff_roles_in(current_user, ticket.community_id)
    assign_form = AssignForm(data={"assignee_id": ticket.assignee_id})
    assign_form.assignee_id.choices = choices(
        [(str(u.id), u.display_name) for u in base.engineers_of(db.session, ticket.community_id)]
    )
    rating_form = RatingForm()
    rating_form.score.choices = choices(SCORE_CHOICES)  # type: ignore[arg-type]
    followups = db.session.scalars(
        select(TicketFollowup)
        .where(TicketFollowup.ticket_id == ticket.id)
        .order_by(TicketFollowup.id)
    ).all()
    return render_template(
        "tickets/staff_detail.html",
        ticket=ticket,
        events=queries.visible_events(ticket, for_owner=False),
        dispatch=bool(roles & set(base.DISPATCH_ROLES)),
        mine=ticket.assignee_id == current_user.id,
        ack_form=AcknowledgeForm(),
        assign_form=assign_form,
        resolve_form=ResolveForm(),
        reason_form=ReasonForm(),
        comment_form=CommentForm(),
        rating_form=rating_form,
        followup_form=FollowupForm(),
        followups=followups,
        sla=_sla(ticket, now),
        first_sla=sla_state(
            now, ticket.created_at, ticket.first_response_due_at, ticket.acknowledged_at
        ),
        now=now,
    )


STAFF_ACTIONS = (
    "acknowledge",
    "assign",
    "start",
    "resolve",
    "close",
    "cancel",
    "reopen",
    "comment",
    "rate",
)


@bp.route("/staff/tickets/<int:ticket_id>/<action>", methods=["POST"])
@roles_required(*STAFF)
def staff_action(ticket_id: int, action: str) -> ResponseReturnValue:
    if action not in STAFF_ACTIONS:
        abort(404)
    ticket = _scoped_or_404(ticket_id)
    now = now_utc()
    message = _("已保存")
    try:
        if action == "acknowledge":
            workflow.acknowledge(
                db.session,
                ticket=ticket,
                actor=current_user,
                now=now,
                note=request.form.get("note", ""),
            )
            message = _("已受理")
        elif action == "assign":
            assignee = db.session.get(User, request.form.get("assignee_id", type=int) or -1)
            if assignee is None:
                raise DomainError(_l("请选择工程人员"), field="assignee")
            workflow.assign(
                db.session,
                ticket=ticket,
                actor=current_user,
                assignee=assignee,
                now=now,
                note=request.form.get("note", ""),
            )
            message = _("已派给 %(name)s", name=assignee.display_name)
        elif action == "start":
            workflow.start_work(db.session, ticket=ticket, actor=current_user, now=now)
            message = _("已开始处理")
        elif action == "resolve":
            workflow.resolve(
                db.session,
                ticket=ticket,
                actor=current_user,
                now=now,
                note=request.form.get("note", ""),
                photos=_photos_from("photos"),
            )
            message = _("已标记为解决")
        elif action == "close":
            workflow.close(db.session, ticket=ticket, actor=current_user, now=now)
            message = _("已关闭")
        elif action == "cancel":
            workflow.cancel(
                db.session,
                ticket=ticket,
                actor=current_user,
                now=now,
                reason=request.form.get("reason", ""),
                by_owner=False,
            )
            message = _("已取消")
        elif action == "reopen":
            workflow.reopen(
                db.session,
                ticket=ticket,
                actor=current_user,
                now=now,
                reason=request.form.get("reason", ""),
                by_owner=False,
            )
            message = _("已重新打开")
        elif action == "comment":
            workflow.comment(
                db.session,
                ticket=ticket,
                actor=current_user,
                now=now,
                body=request.form.get("body", ""),
                internal=request.form.get("internal") in ("y", "1", "on", "true"),
            )
            message = _("已添加")
        elif action == "rate":
            score = request.form.get("score", "")
            aftercare.rate(
                db.session,
                ticket=ticket,
                actor=current_user,
                now=now,
                score=int(score) if score.isdigit() else score,
                comment_text=request.form.get("comment", ""),
                channel=RatingChannel.PHONE,
            )
            message = _("已记录电话回访评分")
    except DomainError as exc:
        _fail(exc)
        return _back(ticket, staff=True)
    if action not in ("comment",):
        audit.record(
            db.session,
            actor_id=current_user.id,
            action=f"ticket.{action}",
            target_type="ticket",
            target_id=ticket.id,
            community_id=ticket.community_id,
            now=now,
            details={"number": ticket.number, "status": ticket.status},
        )
    db.session.commit()
    flash(message, "success")
    if action in ("start", "resolve") and request.form.get("next") == "queue":
        return redirect(url_for(".queue"))
    return _back(ticket, staff=True)


@bp.route("/staff/tickets/followups")
@roles_required("cs", "manager")
def followup_list() -> ResponseReturnValue:
    return render_template(
        "tickets/followup_list.html",
        tasks=aftercare.open_service_tasks(db.session, staff=current_user),
        form=FollowupForm(),
    )


@bp.route("/staff/tickets/followups/<int:followup_id>", methods=["POST"])
@roles_required("cs", "manager")
def followup_done(followup_id: int) -> ResponseReturnValue:
    followup = aftercare.get_scoped_followup(
        db.session, staff=current_user, followup_id=followup_id
    )
    if followup is None:
        abort(404)
    form = FollowupForm()
    try:
        aftercare.complete_followup(
            db.session,
            followup=followup,
            actor=current_user,
            now=now_utc(),
            note=form.note.data or "",
        )
    except DomainError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(_("回访已完成"), "success")
    return redirect(safe_next(request.form.get("next")) or url_for(".followup_list"))


# ---------------------------------------------------------------- settings (manager)


@bp.route("/staff/tickets/settings/<code>", methods=["GET", "POST"])
@roles_required("manager")
def ticket_settings(code: str) -> ResponseReturnValue:
    community = communities.get_scoped_community(db.session, user=current_user, code=code)
    if community is None:
        abort(404)
    now = now_utc()
    categories = setup.list_categories(db.session, community, active_only=False)
    settings = setup.get_settings(db.session, community.id)
    category_form = CategoryForm(prefix="cat")
    sla_form = SlaForm(prefix="sla")
    sla_form.category_id.choices = choices(
        [("", _("全部类别（默认）"))]
        + [(str(c.id), setup.category_name(c)) for c in categories if c.active]
    )
    hours_form = WorkHoursForm(
        prefix="hours",
        data={
            "business_hours": settings.business_hours,
            "work_start": clock_of(settings.work_start_min),
            "work_end": clock_of(settings.work_end_min),
            "work_days": list(settings.work_days),
        },
    )
    kind = request.form.get("kind") if request.method == "POST" else None
    try:
        if kind == "category" and category_form.validate_on_submit():
            setup.save_category(
                db.session,
                community=community,
                actor=current_user,
                now=now,
                name=category_form.name.data,
                code=category_form.code.data,
                category_id=category_form.category_id.data,
                position=category_form.position.data or 0,
                active=category_form.active.data,
            )
        elif kind == "sla" and sla_form.validate_on_submit():
            first = sla_form.first_response_hours.data
            resolve = sla_form.resolution_hours.data
            setup.set_sla_target(
                db.session,
                community=community,
                actor=current_user,
                now=now,
                category_id=sla_form.category_id.data,
                urgency=sla_form.urgency.data,
                first_response_minutes=int(first * 60) if first is not None else None,
                resolution_minutes=int(resolve * 60) if resolve is not None else None,
            )
        elif kind == "hours" and hours_form.validate_on_submit():
            setup.update_settings(
                db.session,
                community=community,
                actor=current_user,
                now=now,
                business_hours=hours_form.business_hours.data,
                work_start_min=minutes_of(hours_form.work_start.data),
                work_end_min=minutes_of(hours_form.work_end.data),
                work_days="".join(hours_form.work_days.data or []),
            )
        elif kind is not None:
            raise DomainError(_l("请检查填写的内容"))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        if kind is not None:
            flash(_("已保存"), "success")
            return redirect(url_for(".ticket_settings", code=community.code))
    categories = setup.list_categories(db.session, community, active_only=False)
    targets = setup.sla_targets(db.session, community.id)
    return render_template(
        "tickets/ticket_settings.html",
        community=community,
        categories=categories,
        targets=targets,
        defaults=DEFAULT_TARGETS,
        settings=setup.get_settings(db.session, community.id),
        category_form=category_form,
        sla_form=sla_form,
        hours_form=hours_form,
        clock_of=clock_of,
    )


# ---------------------------------------------------------------- public statistics


@bp.route("/responsiveness")
@public
def responsiveness_index() -> ResponseReturnValue:
    visible = {c.id: c for c in communities.list_communities(db.session)}
    if current_user.is_authenticated:
        for unit in communities.units_of(db.session, current_user):
            visible.setdefault(unit.community_id, unit.community)
        if current_user.is_staff:
            for community in communities.staff_communities(db.session, current_user):
                visible.setdefault(community.id, community)
    return render_template(
        "tickets/responsiveness_index.html",
        communities=sorted(visible.values(), key=lambda c: c.code),
    )


@bp.route("/c/<code>/responsiveness")
@public
def responsiveness(code: str) -> ResponseReturnValue:
    community = communities.visible_community(db.session, code=code, user=current_user)
    if community is None:
        abort(404)
    months = max(1, min(stats.MAX_MONTHS, request.args.get("months", 12, type=int)))
    now = now_utc()

    def compute() -> tuple[Any, dict[str, Any]]:
        report = stats.responsiveness(
            db.session, community=community, months=months, now=now, detail=True
        )
        return report, figures.responsiveness_figures(report)

    def render() -> ResponseReturnValue:
        # The figures are the same for every reader (signed in or not): computed once per
        # data version, language and five minutes; only the page around them is per user.
        report, charts = pagecache.cached_value(
            db.session,
            community_id=community.id,
            parts=("responsiveness", months, pagecache.five_minutes(now)),
            compute=compute,
        )
        return render_template(
            "tickets/responsiveness.html",
            report=report,
            charts=charts,
            min_sample=stats.MIN_SAMPLE,
            month_options=(3, 6, 12, 24),
        )

    # Figures move with the tickets (the data version) and with the clock (SLA due times).
    return pagecache.cached_response(
        db.session,
        community_id=community.id,
        parts=("responsiveness", months, pagecache.five_minutes(now)),
        render=render,
    )
