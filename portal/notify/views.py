"""Owner inbox and 通知设置; staff outbox, letters and templates; provider receipts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape

from portal import requestmemo
from portal.accounts.models import User
from portal.communities import service as communities
from portal.communities.models import Building, Community, Unit
from portal.domains import NavItem
from portal.errors import DomainError, json_error
from portal.extensions import csrf, db
from portal.forms import attach_error, choices
from portal.notify import inbox as notify_inbox
from portal.notify import outbox as notify_outbox
from portal.notify import sending, service
from portal.notify import templates as tpl
from portal.notify.channels import verify_signature
from portal.notify.forms import SettingsForm, TemplateForm
from portal.notify.letters import Letter, render_letters_pdf
from portal.notify.models import ChannelName, Message, MessageStatus, Reason
from portal.security import public, roles_required
from portal.timeutil import now_utc

bp = Blueprint("notify", __name__, url_prefix="/notify")

STAFF = ("cs", "manager", "finance", "collector")
LETTER_ROLES = ("cs", "manager")


def unread_messages() -> int:
    """The owner's unread inbox count, once per request (menu badge and tab bar)."""
    if not current_user.is_authenticated:
        return 0
    return requestmemo.memo(
        ("unread_messages", current_user.id),
        lambda: notify_inbox.unread_count(db.session, current_user),
    )


NAV = [
    NavItem("notify.inbox", _l("消息"), ("owner",), order=15, badge=unread_messages),
    NavItem("notify.staff_home", _l("通知发送"), STAFF, order=66),
]

REASON_LABELS: dict[str, Any] = {
    Reason.BILL_ISSUED: _l("账单已出"),
    Reason.DUE_SOON: _l("即将到期"),
    Reason.OVERDUE_L1: _l("缴费提醒"),
    Reason.AUTODEBIT_SUCCEEDED: _l("代扣成功"),
    Reason.AUTODEBIT_FAILED: _l("代扣未成功"),
    Reason.NOTICE_PUBLISHED: _l("小区公告"),
    Reason.TICKET_UPDATED: _l("报修进度"),
    Reason.DISPUTE_ANSWERED: _l("异议答复"),
    Reason.SURVEY_INVITE: _l("满意度调查"),
    Reason.VOTE_INVITE: _l("业主表决"),
    Reason.COLLECTIONS_TIER: _l("欠费提醒"),
    Reason.WRITTEN_NOTICE: _l("书面通知"),
    Reason.RECEIPT: _l("缴费收据"),
    Reason.PLAN_PROPOSED: _l("分期方案"),
    Reason.ACCOUNT: _l("账户"),
}
CHANNEL_LABELS: dict[str, Any] = {
    ChannelName.INBOX: _l("站内信"),
    ChannelName.SMS: _l("短信"),
    ChannelName.WECHAT: _l("微信"),
    ChannelName.EMAIL: _l("电子邮件"),
    ChannelName.LETTER: _l("书面信件"),
}
STATUS_LABELS: dict[str, Any] = {
    MessageStatus.QUEUED: _l("排队中"),
    MessageStatus.DEFERRED: _l("已推迟"),
    MessageStatus.SENDING: _l("发送中"),
    MessageStatus.SENT: _l("已发出"),
    MessageStatus.DELIVERED: _l("已送达"),
    MessageStatus.FAILED: _l("失败"),
    MessageStatus.CANCELLED: _l("已取消"),
    MessageStatus.SUPPRESSED: _l("未发送"),
}
WHY_LABELS: dict[str, Any] = {
    "quiet_hours": _l("免打扰时段（21:00–08:00），推迟到 08:00"),
    "cap_channel": _l("同一渠道 3 天内已联系过该户（欠费类）"),
    "cap_weekly": _l("7 天内已联系该户 7 次（欠费类）"),
    "disputed": _l("金额在异议处理中，暂停提醒"),
    "opted_out": _l("业主已退订该渠道"),
    "no_address": _l("业主未登记该渠道的联系方式"),
    "channel_unavailable": _l("该渠道未开通"),
}
KIND_LABELS: dict[str, Any] = {
    service.KIND_MONEY: _l("账单与缴费"),
    service.KIND_SERVICE: _l("报修与异议进度"),
    service.KIND_NOTICE: _l("小区公告"),
    service.KIND_LEGAL: _l("书面通知（催缴通知书）"),
}
TEMPLATE_LABELS: dict[str, Any] = {
    **{str(k): v for k, v in REASON_LABELS.items()},
    "welcome": _l("欢迎与信息核对"),
}


@bp.app_template_filter("notify_label")
def _label(value: str | None, table: str = "status") -> str:
    tables = {
        "status": STATUS_LABELS,
        "reason": REASON_LABELS,
        "channel": CHANNEL_LABELS,
        "why": WHY_LABELS,
        "kind": KIND_LABELS,
        "template": TEMPLATE_LABELS,
    }
    return str(tables[table].get(value or "", value or ""))


@bp.app_template_filter("linkify")
def _linkify(text: str) -> Markup:
    """Escape a message's text and make its http(s) links clickable."""
    out: list[str] = []
    for line in (text or "").split("\n"):
        words = []
        for word in line.split(" "):
            if word.startswith(("http://", "https://")):
                words.append(f'<a href="{escape(word)}">{escape(word)}</a>')
            else:
                words.append(str(escape(word)))
        out.append(" ".join(words))
    # Bandit B704: every part is escaped above, so the markup is ours.
    return Markup("<br>".join(out))  # noqa: S704  # nosec


# ---------------------------------------------------------------- owners


@bp.route("/inbox")
def inbox() -> ResponseReturnValue:
    page = notify_inbox.inbox(db.session, current_user, page=request.args.get("page", 1, type=int))
    return render_template(
        "notify/inbox.html", page=page, unread=notify_inbox.unread_count(db.session, current_user)
    )


@bp.route("/inbox/<int:message_id>")
def inbox_detail(message_id: int) -> ResponseReturnValue:
    message = notify_inbox.mark_read(
        db.session, user=current_user, message_id=message_id, now=now_utc()
    )
    if message is None:
        abort(404)
    db.session.commit()
    return render_template("notify/inbox_detail.html", message=message)


@bp.route("/inbox/read-all", methods=["POST"])
def inbox_read_all() -> ResponseReturnValue:
    notify_inbox.mark_all_read(db.session, user=current_user, now=now_utc())
    db.session.commit()
    return redirect(url_for(".inbox"))


def _fill_settings(form: SettingsForm, user: User) -> None:
    prefs = service.preferences(db.session, user)
    form.phone.data = user.phone or ""
    form.email.data = user.email or ""
    form.wechat_openid.data = user.wechat_openid or ""
    form.language.data = service.language_of(db.session, user.id)
    for kind, pref in prefs.items():
        getattr(form, f"{kind}_channels").data = list(pref.channels)
        getattr(form, f"{kind}_opted_out").data = pref.opted_out


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> ResponseReturnValue:
    form = SettingsForm()
    if request.method == "GET":
        _fill_settings(form, current_user)
    elif form.validate_on_submit():
        now = now_utc()
        try:
            service.update_contact(
                db.session,
                user=current_user,
                phone=form.phone.data or "",
                email=form.email.data or "",
                wechat_openid=form.wechat_openid.data or "",
                language=form.language.data,
                now=now,
            )
            service.set_preferences(
                db.session,
                user=current_user,
                choices={
                    kind: (
                        getattr(form, f"{kind}_channels").data or [],
                        bool(getattr(form, f"{kind}_opted_out").data),
                    )
                    for kind in service.KINDS
                },
                now=now,
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("通知设置已保存"), "success")
            return redirect(url_for(".settings"))
    available = service.available_channels()
    return render_template(
        "notify/settings.html",
        form=form,
        kinds=service.KINDS,
        available=set(available),
        prefs=service.preferences(db.session, current_user),
    )


# ---------------------------------------------------------------- staff


def _staff_community(code: str) -> Community:
    community = communities.get_scoped_community(
        db.session, user=current_user, code=code, roles=STAFF
    )
    if community is None:
        abort(404)
    return community


@bp.route("/staff")
@roles_required(*STAFF)
def staff_home() -> ResponseReturnValue:
    mine = communities.staff_communities(db.session, current_user, *STAFF)
    if len(mine) == 1:
        return redirect(url_for(".outbox", code=mine[0].code))
    return render_template("notify/staff_home.html", communities=mine)


@bp.route("/staff/<code>/outbox")
@roles_required(*STAFF)
def outbox(code: str) -> ResponseReturnValue:
    community = _staff_community(code)
    args = request.args
    status = args.get("status") if args.get("status") in set(MessageStatus) else None
    channel = args.get("channel") if args.get("channel") in set(ChannelName) else None
    reason = args.get("reason") if args.get("reason") in set(Reason) else None
    building_id = args.get("building", type=int)
    page = notify_outbox.outbox(
        db.session,
        community_id=community.id,
        status=status,
        channel=channel,
        reason=reason,
        building_id=building_id,
        page=args.get("page", 1, type=int),
    )
    now = now_utc()
    rates = notify_outbox.delivery_rates(
        db.session, community_id=community.id, since=now - timedelta(days=30)
    )
    units = {
        u.id: u
        for u in db.session.query(Unit).filter(
            Unit.id.in_({m.unit_id for m in page.items if m.unit_id} or {-1})
        )
    }
    return render_template(
        "notify/outbox.html",
        community=community,
        page=page,
        rates=rates,
        units=units,
        buildings=community.buildings,
        filters={"status": status, "channel": channel, "reason": reason, "building": building_id},
        query_args={
            k: v
            for k, v in {
                "status": status,
                "channel": channel,
                "reason": reason,
                "building": building_id,
            }.items()
            if v
        },
        status_choices=[(k, str(v)) for k, v in STATUS_LABELS.items()],
        channel_choices=[(k, str(v)) for k, v in CHANNEL_LABELS.items()],
        reason_choices=[(k, str(v)) for k, v in REASON_LABELS.items()],
        mask=service.mask_address,
    )


@bp.route("/staff/messages/<int:message_id>")
@roles_required(*STAFF)
def staff_message(message_id: int) -> ResponseReturnValue:
    message = notify_outbox.get_scoped_message(
        db.session, staff=current_user, message_id=message_id
    )
    if message is None:
        abort(404)
    unit = db.session.get(Unit, message.unit_id) if message.unit_id else None
    attempts = (
        service.recent_attempts(
            db.session, unit_id=message.unit_id, since=message.created_at - timedelta(days=14)
        )
        if message.unit_id
        else []
    )
    return render_template(
        "notify/staff_message.html",
        message=message,
        unit=unit,
        attempts=attempts,
        mask=service.mask_address,
        resendable=message.status in notify_outbox.RESENDABLE,
    )


@bp.route("/staff/messages/<int:message_id>/resend", methods=["POST"])
@roles_required(*STAFF)
def staff_resend(message_id: int) -> ResponseReturnValue:
    message = notify_outbox.get_scoped_message(
        db.session, staff=current_user, message_id=message_id
    )
    if message is None:
        abort(404)
    try:
        notify_outbox.resend(db.session, message=message, actor=current_user, now=now_utc())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("已重新排队，下次发送时会再次检查免打扰与频次规则"), "success")
    return redirect(url_for(".staff_message", message_id=message_id))


@bp.route("/staff/<code>/letters")
@roles_required(*LETTER_ROLES)
def letters(code: str) -> ResponseReturnValue:
    community = _staff_community(code)
    groups = notify_outbox.letters_by_building(db.session, community_id=community.id)
    buildings = {b.id: b for b in community.buildings}
    units = {
        u.id: u
        for u in db.session.query(Unit).filter(
            Unit.id.in_({m.unit_id for ms in groups.values() for m in ms if m.unit_id} or {-1})
        )
    }
    return render_template(
        "notify/letters.html",
        community=community,
        groups=groups,
        buildings=buildings,
        units=units,
    )


@bp.route("/staff/<code>/letters/<int:building_id>.pdf")
@roles_required(*LETTER_ROLES)
def letters_pdf(code: str, building_id: int) -> ResponseReturnValue:
    community = _staff_community(code)
    building = db.session.get(Building, building_id)
    if building is None or building.community_id != community.id:
        abort(404)
    batch = notify_outbox.letters_by_building(db.session, community_id=community.id).get(
        building_id, []
    )
    units = {u.id: u for u in db.session.query(Unit).filter(Unit.building_id == building_id)}
    now = now_utc()
    pdf = render_letters_pdf(
        [
            Letter(
                message_id=m.id,
                community_name=community.name,
                recipient_name=m.recipient.display_name,
                unit_code=units[m.unit_id].code if m.unit_id in units else "",
                subject=m.subject,
                text=m.text,
                dated=m.sent_at or now,
            )
            for m in batch
        ]
    )
    notify_outbox.mark_printed(db.session, messages=batch, now=now)
    db.session.commit()
    name = f"letters-{community.code}-{building.code}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@bp.route("/staff/messages/<int:message_id>/delivered", methods=["POST"])
@roles_required(*LETTER_ROLES)
def letter_delivered(message_id: int) -> ResponseReturnValue:
    message = notify_outbox.get_scoped_message(
        db.session, staff=current_user, message_id=message_id
    )
    if message is None:
        abort(404)
    try:
        notify_outbox.mark_posted(
            db.session,
            message=message,
            actor=current_user,
            how=request.form.get("how", ""),
            now=now_utc(),
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("已登记送达"), "success")
    community = db.session.get(Community, message.community_id)
    return redirect(url_for(".letters", code=community.code if community else ""))


@bp.route("/staff/templates")
@roles_required("cs", "manager")
def template_list() -> ResponseReturnValue:
    rows = [(key, tpl.current(db.session, key)) for key in tpl.BUILTIN]
    return render_template("notify/template_list.html", rows=rows)


def _preview_owners(user: User) -> list[tuple[Unit, User]]:
    """Owners of the staff member's communities to preview with (the first few units)."""
    from sqlalchemy import select

    from portal.communities.models import Ownership

    ids = [c.id for c in communities.staff_communities(db.session, user, "cs", "manager")]
    rows = db.session.execute(
        select(Unit, User)
        .join(Ownership, Ownership.unit_id == Unit.id)
        .join(User, User.id == Ownership.user_id)
        .where(Unit.community_id.in_(ids or [-1]), Ownership.ended_on.is_(None))
        .order_by(Unit.community_id, Unit.code)
        .limit(30)
    ).all()
    return [(unit, owner) for unit, owner in rows]


@bp.route("/staff/templates/<key>", methods=["GET", "POST"])
@roles_required("cs", "manager")
def template_edit(key: str) -> ResponseReturnValue:
    if key not in tpl.BUILTIN:
        abort(404)
    current = tpl.current(db.session, key)
    form = TemplateForm()
    owners = _preview_owners(current_user)
    form.preview_unit.choices = choices(
        [(f"{u.id}:{o.id}", f"{u.code} · {o.display_name}") for u, o in owners]
    )
    if request.method == "GET":
        form.subject_zh.data, form.body_zh.data = current.subject_zh, current.body_zh
        form.subject_en.data, form.body_en.data = current.subject_en, current.body_en
    preview: dict[str, tuple[str, str]] | None = None
    can_save = current_user.has_role("manager")
    if request.method == "POST" and form.validate_on_submit():
        candidate = tpl.TemplateText(
            key,
            current.version + 1,
            form.subject_zh.data or "",
            form.body_zh.data or "",
            form.subject_en.data or "",
            form.body_en.data or "",
        )
        try:
            for name in ("subject_zh", "body_zh", "subject_en", "body_en"):
                tpl.check_text(key, getattr(form, name).data or "", field=name)
            if request.form.get("action") == "save":
                if not can_save:
                    abort(403)
                tpl.save_version(
                    db.session,
                    key=key,
                    subject_zh=candidate.subject_zh,
                    body_zh=candidate.body_zh,
                    subject_en=candidate.subject_en,
                    body_en=candidate.body_en,
                    note=form.note.data or "",
                    actor_id=current_user.id,
                    now=now_utc(),
                )
                db.session.commit()
                flash(_("已保存为新版本"), "success")
                return redirect(url_for(".template_edit", key=key))
            context = _preview_context(key, form.preview_unit.data, owners)
            preview = {lang: tpl.render(candidate, context, lang) for lang in tpl.LANGUAGES}
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
    return render_template(
        "notify/template_edit.html",
        key=key,
        form=form,
        current=current,
        history=tpl.history(db.session, key),
        placeholders=tpl.allowed_placeholders(key),
        preview=preview,
        can_save=can_save,
    )


def _preview_context(key: str, choice: str | None, owners: list[tuple[Unit, User]]) -> dict:
    for unit, owner in owners:
        if choice == f"{unit.id}:{owner.id}":
            community = db.session.get(Community, unit.community_id)
            return tpl.sample_context(
                key,
                name=owner.display_name,
                unit=unit.code,
                community=community.name if community else "",
                hotline=community.hotline if community else "",
            )
    return tpl.sample_context(key)


# ---------------------------------------------------------------- provider receipts


@bp.route("/receipts/<channel>", methods=["POST"])
@public
@csrf.exempt
def receipt(channel: str) -> ResponseReturnValue:
    secret = current_app.config.get("NOTIFY_WEBHOOK_SECRET")
    if channel not in (ChannelName.SMS, ChannelName.WECHAT, ChannelName.EMAIL) or not secret:
        return json_error(404, "unknown_channel", "未启用的通知渠道")
    body = request.get_data()
    now = now_utc()
    problem = verify_signature(
        str(secret),
        timestamp=request.headers.get("X-Notify-Timestamp"),
        signature=request.headers.get("X-Notify-Signature"),
        body=body,
        now=now,
    )
    if problem:
        current_app.logger.warning("refused %s receipt: %s", channel, problem)
        return json_error(400, "bad_signature", problem)
    try:
        data = json.loads(body)
    except ValueError:
        return json_error(400, "bad_request", "请求体必须是 JSON 对象")
    if not isinstance(data, dict):
        return json_error(400, "bad_request", "请求体必须是 JSON 对象")
    try:
        message: Message = sending.record_delivery_receipt(
            db.session,
            channel=channel,
            message_id=data.get("message_id"),
            provider_id=data.get("provider_id"),
            status=str(data.get("status", "")),
            error=str(data.get("error") or ""),
            now=now,
        )
    except DomainError as exc:
        db.session.rollback()
        return json_error(exc.status if exc.status != 422 else 400, exc.code, exc.message)
    db.session.commit()
    return jsonify({"ok": True, "id": message.id, "status": message.status})
