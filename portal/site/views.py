"""Landing page, health check and language switch."""

from __future__ import annotations

from flask import Blueprint, jsonify, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import text

from portal.billing import ledger
from portal.collections import cases as collections_cases
from portal.collections import dashboard as collections_dashboard
from portal.communities import service as communities
from portal.extensions import LOCALES, db
from portal.notify import service as notify
from portal.security import public, safe_next
from portal.timeutil import DEFAULT_TZ, local_today, now_utc

bp = Blueprint("site", __name__)


@bp.route("/")
@public
def index() -> ResponseReturnValue:
    public_list = communities.list_communities(db.session)
    my_units = []
    balances: dict[int, int] = {}
    if current_user.is_authenticated and current_user.is_owner:
        my_units = communities.units_of(db.session, current_user)
        balances = {u.id: ledger.unit_balance(db.session, unit_id=u.id) for u in my_units}
    unread = notify.unread_count(db.session, current_user) if current_user.is_authenticated else 0
    staff_list = []
    if current_user.is_authenticated and current_user.is_staff:
        staff_list = communities.staff_communities(db.session, current_user)
    collections_todo = None
    if current_user.is_authenticated and current_user.has_role("collector", "manager"):
        # A collector's and a manager's home opens on their to-do counts.
        collections_todo = collections_dashboard.todo_counts(
            db.session,
            community_ids=collections_cases.community_ids(current_user),
            day=local_today(DEFAULT_TZ, now=now_utc()),
        )
    return render_template(
        "site/index.html",
        collections_todo=collections_todo,
        communities=public_list,
        my_units=my_units,
        staff_communities=staff_list,
        balances=balances,
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
