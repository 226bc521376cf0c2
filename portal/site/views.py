"""Landing page, the owner's 我的 page and phone tab bar, health check and language switch."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal.billing import dues, ledger
from portal.collections import cases as collections_cases
from portal.collections import dashboard as collections_dashboard
from portal.communities import service as communities
from portal.communities.views import owned_units
from portal.domains import NavItem
from portal.extensions import LOCALES, db
from portal.feedback import community as feedback_community
from portal.feedback import surveys as feedback_surveys
from portal.notify.views import unread_messages
from portal.reports import dashboard as reports_dashboard
from portal.security import public, safe_next
from portal.timeutil import DEFAULT_TZ, local_today, now_utc

bp = Blueprint("site", __name__)
NAV = [NavItem("site.me", _l("我的"), ("owner",), order=95)]
# Menu entries that are tabs of the owner's phone tab bar, so 我的 need not list them again.
TAB_ENDPOINTS = ("billing.bill_list", "tickets.ticket_list", "site.me")


def _tab(icon: str, href: str, label: Any, *prefixes: str, badge: int = 0) -> dict[str, Any]:
    here = request.path == href if href == "/" else request.path.startswith((href, *prefixes))
    return {"icon": icon, "href": href, "label": label, "current": here, "badge": badge}


@bp.app_template_global()
def owner_tabs() -> list[dict[str, Any]]:
    """首页 / 账单 / 报修 / 公示 / 我的 for owners (shown as a bottom tab bar on phones)."""
    if not (current_user.is_authenticated and current_user.is_owner):
        return []
    try:
        units = owned_units()
        unread = unread_messages()
    except SQLAlchemyError:  # an error page after a failed query still renders
        return []
    public_href = (
        url_for("communities.community_public", code=units[0].community.code)
        if units
        else url_for("site.index")
    )
    return [
        _tab("home", url_for("site.index"), _l("首页")),
        _tab("bill", url_for("billing.bill_list"), _l("账单"), "/units/", "/pay"),
        _tab("repair", url_for("tickets.ticket_list"), _l("报修")),
        _tab("public", public_href, _l("公示"), "/c/"),
        _tab(
            "me",
            url_for("site.me"),
            _l("我的"),
            "/notify/",
            "/disputes",
            "/notices",
            "/my/",
            "/account/",
            badge=unread,
        ),
    ]


@bp.route("/")
@public
def index() -> ResponseReturnValue:
    public_list = communities.list_communities(db.session)
    my_units = []
    unit_dues: dict[int, dues.UnitDues] = {}
    credits: dict[int, int] = {}
    to_answer: list[Any] = []
    survey_results: list[Any] = []
    if current_user.is_authenticated and current_user.is_owner:
        my_units = owned_units()
        # Open surveys a unit has not answered, and each community's latest published results.
        to_answer = [
            o
            for o in feedback_surveys.owner_surveys(db.session, owner=current_user, now=now_utc())
            if not o.answered
        ]
        for community_id in sorted({u.community_id for u in my_units}):
            latest = feedback_community.latest_published_survey(
                db.session, community_id=community_id
            )
            if latest is not None:
                survey_results.append(latest)
        unit_dues = dues.unit_dues(db.session, unit_ids=[u.id for u in my_units], now=now_utc())
        credits = {
            u.id: ledger.prepayment_balance(db.session, unit_id=u.id, community_id=u.community_id)
            for u in my_units
        }
    unread = unread_messages()
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
    headline = None
    if current_user.is_authenticated and current_user.has_role("manager"):
        # A manager's home opens on last month's figures for their communities.
        headline = reports_dashboard.cached_headline(
            db.session,
            communities=communities.staff_communities(db.session, current_user, "manager"),
            now=now_utc(),
        )
    return render_template(
        "site/index.html",
        headline=headline,
        collections_todo=collections_todo,
        to_answer=to_answer,
        survey_results=survey_results,
        communities=public_list,
        my_units=my_units,
        staff_communities=staff_list,
        unit_dues=unit_dues,
        credits=credits,
        unread=unread,
    )


@bp.route("/me")
@login_required
def me() -> ResponseReturnValue:
    """我的: everything of an owner's that is not a tab — messages, notices, disputes,
    receipts, settings, developer keys — and log-out."""
    skip = {url_for(endpoint) for endpoint in TAB_ENDPOINTS} | {url_for("site.index")}
    roles = current_user.role_names()
    menu = [
        (url_for(item.endpoint), item.label)
        for item in current_app.extensions.get("clearfee_nav", [])
        if "*" in item.roles or ("owner" in item.roles and "owner" in roles)
    ]
    units = communities.units_of(db.session, current_user) if current_user.is_owner else []
    return render_template(
        "site/me.html",
        menu=[(href, text) for href, text in menu if href not in skip],
        units=units,
        unread=unread_messages(),
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


@public
def bench_baseline() -> ResponseReturnValue:
    """The benchmark's yardstick: one indexed query and the base template, nothing else."""
    community = communities.get_community(db.session, request.args.get("code", "DEMO1"))
    return render_template("site/bench_baseline.html", community=community)


@bp.record_once
def _bench_route(state: Any) -> None:
    # Only `make bench` (BENCH_ROUTES, refused in production by config.check) has this route.
    if state.app.config.get("BENCH_ROUTES") and state.app.config.get("CLEARFEE_ENV") != (
        "production"
    ):
        state.app.add_url_rule(
            "/_bench/baseline", endpoint="site.bench_baseline", view_func=bench_baseline
        )


@bp.route("/lang/<locale>")
@public
def set_language(locale: str) -> ResponseReturnValue:
    target = safe_next(request.args.get("next")) or url_for(".index")
    response = make_response(redirect(target))
    if locale in LOCALES:
        response.set_cookie("lang", locale, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
