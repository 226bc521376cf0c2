"""Landing page, health check and language switch."""

from __future__ import annotations

from flask import Blueprint, jsonify, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import text

from portal.billing import dues, ledger
from portal.communities import service as communities
from portal.extensions import LOCALES, db
from portal.notify import inbox as notify_inbox
from portal.security import public, safe_next
from portal.timeutil import now_utc

bp = Blueprint("site", __name__)


@bp.route("/")
@public
def index() -> ResponseReturnValue:
    public_list = communities.list_communities(db.session)
    my_units = []
    unit_dues: dict[int, dues.UnitDues] = {}
    credits: dict[int, int] = {}
    if current_user.is_authenticated and current_user.is_owner:
        my_units = communities.units_of(db.session, current_user)
        unit_dues = dues.unit_dues(db.session, unit_ids=[u.id for u in my_units], now=now_utc())
        credits = {u.id: ledger.prepayment_balance(db.session, unit_id=u.id) for u in my_units}
    unread = (
        notify_inbox.unread_count(db.session, current_user) if current_user.is_authenticated else 0
    )
    staff_list = []
    if current_user.is_authenticated and current_user.is_staff:
        staff_list = communities.staff_communities(db.session, current_user)
    return render_template(
        "site/index.html",
        communities=public_list,
        my_units=my_units,
        staff_communities=staff_list,
        unit_dues=unit_dues,
        credits=credits,
        unread=unread,
    )


@bp.route("/healthz")
@public
def healthz() -> ResponseReturnValue:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok"})


@bp.route("/lang/<locale>")
@public
def set_language(locale: str) -> ResponseReturnValue:
    target = safe_next(request.args.get("next")) or url_for(".index")
    response = make_response(redirect(target))
    if locale in LOCALES:
        response.set_cookie("lang", locale, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
