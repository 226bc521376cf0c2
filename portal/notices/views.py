"""The notice board (per community), read receipts, the Atom feed, and staff notice pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.communities import service as communities
from portal.communities.forms import ITEM_CHOICES, TYPE_CHOICES
from portal.communities.models import Community
from portal.domains import NavItem
from portal.errors import DomainError
from portal.extensions import db
from portal.forms import attach_error, choices
from portal.notices import feed, service
from portal.notices.forms import NoticeForm
from portal.notices.models import Notice, NoticeCategory, NoticeStatus
from portal.security import public, roles_required
from portal.timeutil import now_utc, to_local, zone
from portal.uploads import service as uploads

bp = Blueprint("notices", __name__)

STAFF_ROLES = ("cs", "manager")
NAV = [
    NavItem("notices.my_notices", _l("公告"), ("owner",), order=20),
    NavItem("notices.staff_home", _l("公告管理"), STAFF_ROLES, order=65),
]


def _visible(code: str) -> Community:
    community = communities.visible_community(db.session, code=code, user=current_user)
    if community is None:
        abort(404)
    return community


def _release(community: Community) -> None:
    """Scheduled notices whose time has come go live before anyone looks."""
    if service.release_due(db.session, now=now_utc(), community_id=community.id):
        db.session.commit()


def category_label(value: str) -> str:
    return str(service.CATEGORY_LABELS.get(value, value))


@bp.app_template_filter("notice_category")
def _notice_category(value: str) -> str:
    return category_label(value)


@bp.app_template_filter("outage_type")
def _outage_type(value: str | None) -> str:
    return str(service.OUTAGE_LABELS.get(value or "", value or ""))


@bp.app_template_filter("fee_item")
def _fee_item(value: str | None) -> str:
    return str(dict(ITEM_CHOICES).get(value or "", value or ""))


bp.add_app_template_filter(service.plain_rate, "plain_rate")


@bp.route("/notices")
def my_notices() -> ResponseReturnValue:
    units = communities.units_of(db.session, current_user)
    mine = {u.community.code: u.community for u in units}
    if len(mine) == 1:
        return redirect(url_for(".board", code=next(iter(mine))))
    now = now_utc()
    rows = [
        (c, service.unread_count(db.session, user=current_user, community_id=c.id, now=now))
        for c in mine.values()
    ]
    return render_template("notices/my_notices.html", rows=rows)


@bp.route("/c/<code>/notices")
@public
def board(code: str) -> ResponseReturnValue:
    community = _visible(code)
    _release(community)
    now = now_utc()
    show_all = request.args.get("all") == "1"
    category = request.args.get("category")
    if category not in set(NoticeCategory):
        category = None
    page = service.visible_notices_page(
        db.session,
        community_id=community.id,
        now=now,
        include_expired=show_all,
        category=category,
        page=request.args.get("page", 1, type=int) or 1,
    )
    notices = page.items
    member = service.is_member(db.session, user=current_user, community_id=community.id)
    read = (
        service.receipts(db.session, user=current_user, notice_ids=[n.id for n in notices])
        if member
        else {}
    )
    return render_template(
        "notices/board.html",
        community=community,
        notices=notices,
        page=page,
        read=read,
        member=member,
        show_all=show_all,
        category=category,
        categories=service.CATEGORY_LABELS,
        now=now,
        can_manage=current_user.is_authenticated and service.can_manage(current_user, community.id),
    )


@bp.route("/c/<code>/notices/<int:notice_id>")
@public
def notice_detail(code: str, notice_id: int) -> ResponseReturnValue:
    community = _visible(code)
    _release(community)
    notice = service.get_visible_notice(db.session, community_id=community.id, notice_id=notice_id)
    if notice is None:
        abort(404)
    receipt = None
    member = service.is_member(db.session, user=current_user, community_id=community.id)
    if member:
        receipt = service.mark_read(db.session, notice=notice, user=current_user, now=now_utc())
        db.session.commit()
    return render_template(
        "notices/notice_detail.html",
        community=community,
        notice=notice,
        receipt=receipt,
        member=member,
        now=now_utc(),
    )


@bp.route("/c/<code>/notices/<int:notice_id>/ack", methods=["POST"])
def notice_ack(code: str, notice_id: int) -> ResponseReturnValue:
    community = _visible(code)
    notice = service.get_visible_notice(db.session, community_id=community.id, notice_id=notice_id)
    if notice is None or not service.is_member(
        db.session, user=current_user, community_id=community.id
    ):
        abort(404)
    try:
        service.acknowledge(db.session, notice=notice, user=current_user, now=now_utc())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("已确认阅读，谢谢"), "success")
    return redirect(url_for(".notice_detail", code=code, notice_id=notice_id))


@bp.route("/c/<code>/notices/<int:notice_id>/files/<int:attachment_id>")
@public
def notice_file(code: str, notice_id: int, attachment_id: int) -> ResponseReturnValue:
    community = _visible(code)
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.community_id != community.id:
        abort(404)
    staff = current_user.is_authenticated and service.can_manage(current_user, community.id)
    if notice.status != NoticeStatus.PUBLISHED and not staff:
        abort(404)
    attachment = next((a for a in notice.attachments if a.id == attachment_id), None)
    if attachment is None:
        abort(404)
    return uploads.send_stored(attachment.file, public=notice.status == NoticeStatus.PUBLISHED)


@bp.route("/c/<code>/notices.atom")
@public
def atom(code: str) -> ResponseReturnValue:
    community = _visible(code)
    _release(community)
    now = now_utc()
    notices = service.visible_notices(db.session, community_id=community.id, now=now, limit=50)
    notices.sort(key=lambda n: n.published_at or now, reverse=True)
    body = feed.atom_feed(
        community,
        notices,
        feed_url=url_for(".atom", code=code, _external=True),
        board_url=url_for(".board", code=code, _external=True),
        notice_url=lambda n: url_for(".notice_detail", code=code, notice_id=n.id, _external=True),
        title=_("%(name)s · 公告", name=community.name),
        updated=now,
        category_label=category_label,
    )
    return Response(body, mimetype="application/atom+xml")


# --- staff ------------------------------------------------------------------------------


def _staff_community(code: str) -> Community:
    community = communities.get_scoped_community(
        db.session, user=current_user, code=code, roles=service.MANAGE_ROLES
    )
    if community is None:
        abort(404)
    return community


def _scoped(notice_id: int) -> Notice:
    notice = service.get_scoped_notice(db.session, user=current_user, notice_id=notice_id)
    if notice is None:
        abort(404)
    return notice


@bp.route("/staff/notices")
@roles_required(*STAFF_ROLES)
def staff_home() -> ResponseReturnValue:
    mine = communities.staff_communities(db.session, current_user, *service.MANAGE_ROLES)
    if len(mine) == 1:
        return redirect(url_for(".staff_list", code=mine[0].code))
    return render_template("notices/staff_home.html", communities=mine)


@bp.route("/staff/notices/<code>")
@roles_required(*STAFF_ROLES)
def staff_list(code: str) -> ResponseReturnValue:
    community = _staff_community(code)
    _release(community)
    notices = service.staff_notices(db.session, community_id=community.id)
    stats = service.read_stats(
        db.session,
        community_id=community.id,
        notice_ids=[n.id for n in notices if n.published_at is not None],
    )
    return render_template(
        "notices/staff_list.html",
        community=community,
        notices=notices,
        stats=stats,
        status_labels=service.STATUS_LABELS,
        now=now_utc(),
    )


def _form(community: Community, obj: Notice | None = None) -> NoticeForm:
    form = NoticeForm(obj=obj)
    form.category.choices = choices(list(service.CATEGORY_LABELS.items()))
    form.outage_type.choices = choices([("", _("（不适用）")), *service.OUTAGE_LABELS.items()])
    form.building_ids.choices = choices([(b.id, b.name) for b in community.buildings])
    form.fee_property_type.choices = choices([("", _("（不适用）")), *TYPE_CHOICES])
    form.fee_item_code.choices = choices([("", _("（不适用）")), *ITEM_CHOICES])
    return form


def _local(value: datetime | None, community: Community) -> datetime | None:
    """A naive local time typed in the form, as an aware instant in the community's zone."""
    return None if value is None else value.replace(tzinfo=zone(community.timezone))


def _naive_local(value: datetime | None, community: Community) -> datetime | None:
    if value is None:
        return None
    return to_local(value, zone(community.timezone)).replace(tzinfo=None)


def _input(form: NoticeForm, community: Community) -> service.NoticeInput:
    return service.NoticeInput(
        category=form.category.data,
        title=form.title.data or "",
        body=form.body.data or "",
        important=form.important.data,
        pinned=form.pinned.data,
        publish_at=_local(form.publish_at.data, community),
        expires_at=_local(form.expires_at.data, community),
        outage_type=form.outage_type.data or None,
        outage_starts_at=_local(form.outage_starts_at.data, community),
        outage_ends_at=_local(form.outage_ends_at.data, community),
        building_ids=tuple(form.building_ids.data or ()),
        fee_property_type=form.fee_property_type.data or None,
        fee_item_code=form.fee_item_code.data or None,
        fee_rate=form.fee_rate.data,
    )


def _attach(notice: Notice, now: datetime) -> None:
    for file in request.files.getlist("files"):
        if not file or not file.filename:
            continue
        try:
            data = uploads.read_upload(file)
            service.add_attachment(
                db.session,
                notice=notice,
                data=data,
                filename=file.filename,
                actor=current_user,
                now=now,
            )
        except DomainError as exc:
            raise DomainError(
                _("%(name)s：%(error)s", name=file.filename, error=exc.message),
                field="files",
                code=exc.code,
            ) from exc


@bp.route("/staff/notices/<code>/new", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def staff_new(code: str) -> ResponseReturnValue:
    community = _staff_community(code)
    form = _form(community)
    if request.method == "GET" and request.args.get("category") in set(NoticeCategory):
        form.category.data = request.args["category"]
    if form.validate_on_submit():
        now = now_utc()
        try:
            notice = service.create_notice(
                db.session,
                community=community,
                data=_input(form, community),
                actor=current_user,
                now=now,
            )
            _attach(notice, now)
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("草稿已保存。预览无误后点击“发布”。"), "success")
            return redirect(url_for(".staff_detail", notice_id=notice.id))
    return render_template("notices/staff_form.html", community=community, form=form, notice=None)


@bp.route("/staff/notices/n/<int:notice_id>")
@roles_required(*STAFF_ROLES)
def staff_detail(notice_id: int) -> ResponseReturnValue:
    notice = _scoped(notice_id)
    community = db.session.get(Community, notice.community_id)
    stats = service.read_stats(
        db.session, community_id=notice.community_id, notice_ids=[notice.id]
    )[notice.id]
    return render_template(
        "notices/staff_detail.html",
        community=community,
        notice=notice,
        stats=stats,
        status_labels=service.STATUS_LABELS,
        now=now_utc(),
    )


@bp.route("/staff/notices/n/<int:notice_id>/edit", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def staff_edit(notice_id: int) -> ResponseReturnValue:
    notice = _scoped(notice_id)
    community = db.session.get(Community, notice.community_id)
    assert community is not None  # noqa: S101
    if notice.status not in (NoticeStatus.DRAFT, NoticeStatus.SCHEDULED):
        flash(_("已发布的公告不能修改正文；如需更正，请发布更正公告"), "error")
        return redirect(url_for(".staff_detail", notice_id=notice.id))
    form = _form(community, obj=notice)
    if request.method == "GET":
        form.body.data = notice.body_markdown
        form.building_ids.data = [b.id for b in notice.buildings]
        for name in ("publish_at", "expires_at", "outage_starts_at", "outage_ends_at"):
            getattr(form, name).data = _naive_local(getattr(notice, name), community)
        form.outage_type.data = notice.outage_type or ""
        form.fee_property_type.data = notice.fee_property_type or ""
        form.fee_item_code.data = notice.fee_item_code or ""
    if form.validate_on_submit():
        now = now_utc()
        try:
            service.update_notice(
                db.session,
                notice=notice,
                data=_input(form, community),
                actor=current_user,
                now=now,
            )
            _attach(notice, now)
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存"), "success")
            return redirect(url_for(".staff_detail", notice_id=notice.id))
    return render_template("notices/staff_form.html", community=community, form=form, notice=notice)


ACTIONS: dict[str, Any] = {
    "publish": lambda n, now: service.publish_notice(
        db.session, notice=n, actor=current_user, now=now
    ),
    "unschedule": lambda n, now: service.unschedule_notice(
        db.session, notice=n, actor=current_user, now=now
    ),
    "withdraw": lambda n, now: service.withdraw_notice(
        db.session, notice=n, actor=current_user, now=now
    ),
    "pin": lambda n, now: service.set_pinned(
        db.session, notice=n, pinned=True, actor=current_user, now=now
    ),
    "unpin": lambda n, now: service.set_pinned(
        db.session, notice=n, pinned=False, actor=current_user, now=now
    ),
}


@bp.route("/staff/notices/n/<int:notice_id>/<action>", methods=["POST"])
@roles_required(*STAFF_ROLES)
def staff_action(notice_id: int, action: str) -> ResponseReturnValue:
    notice = _scoped(notice_id)
    community = db.session.get(Community, notice.community_id)
    assert community is not None  # noqa: S101
    now = now_utc()
    try:
        if action == "delete":
            service.delete_draft(db.session, notice=notice, actor=current_user, now=now)
            db.session.commit()
            flash(_("草稿已删除"), "success")
            return redirect(url_for(".staff_list", code=community.code))
        if action.startswith("detach-") and action[7:].isdigit():
            service.remove_attachment(
                db.session,
                notice=notice,
                attachment_id=int(action[7:]),
                actor=current_user,
                now=now,
            )
        elif action in ACTIONS:
            ACTIONS[action](notice, now)
        else:
            abort(404)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        messages = {
            "publish": _("已定时，将在设定时间自动发布")
            if notice.status == NoticeStatus.SCHEDULED
            else _("已发布"),
            "unschedule": _("已取消定时，回到草稿"),
            "withdraw": _("已撤回"),
            "pin": _("已置顶"),
            "unpin": _("已取消置顶"),
        }
        flash(messages.get(action, _("已保存")), "success")
    return redirect(url_for(".staff_detail", notice_id=notice_id))
