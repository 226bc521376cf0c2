"""KPI pages: the definitions page of a community, the management dashboard (managers: their
communities; admins: the whole company) and the committee's read-only dashboard."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal import exports
from portal.communities import service as communities
from portal.communities.models import Community
from portal.domains import NavItem
from portal.extensions import db
from portal.reports import dashboard, figures, kpis
from portal.security import roles_required
from portal.timeutil import now_utc

bp = Blueprint("reports", __name__, url_prefix="/reports")
NAV = [
    NavItem("reports.management_dashboard", _l("经营看板"), ("manager",), order=41),
    NavItem("reports.committee_dashboard", _l("监督看板"), ("committee",), order=41),
]
DEFINITION_ROLES = ("manager", "cs", "finance")
FORMATS = ("csv", "xlsx")


def _months() -> int:
    return min(max(request.args.get("months", 12, type=int), 3), 36)


def _selection(role: str) -> tuple[list[Community], list[Community], str]:
    """(communities shown, communities the user may pick, the chosen code or "")."""
    scoped = communities.staff_communities(db.session, current_user, role)
    if not scoped:
        abort(404)
    code = request.args.get("community", "")
    if not code:
        return scoped, scoped, ""
    chosen = [c for c in scoped if c.code == code]
    if not chosen:
        abort(404)  # another company's or another manager's community looks absent
    return chosen, scoped, code


def _board(role: str, *, public: bool) -> tuple[dashboard.Board, list[Community], str]:
    shown, scoped, code = _selection(role)
    board = dashboard.cached(
        db.session, communities=shown, now=now_utc(), months=_months(), public=public
    )
    return board, scoped, code


def _render(board: dashboard.Board, scoped: list[Community], code: str, endpoint: str) -> Any:
    return render_template(
        "reports/dashboard.html",
        board=board,
        charts=figures.all_figures(board),
        tables={name: dashboard.table(board, name) for name in dashboard.TABLES},
        titles=dashboard.TABLE_TITLES,
        definitions=kpis.BY_KEY,
        scoped=scoped,
        code=code,
        months=_months(),
        export_endpoint=endpoint.replace("_dashboard", "_export"),
    )


def _export(board: dashboard.Board, name: str, fmt: str) -> ResponseReturnValue:
    if name not in dashboard.TABLES or fmt not in FORMATS:
        abort(404)
    header, rows = dashboard.table(board, name)
    filename = f"kpi-{name}"
    if fmt == "csv":
        return exports.csv_response(f"{filename}.csv", header, rows)
    return exports.xlsx_response(
        f"{filename}.xlsx", str(dashboard.TABLE_TITLES[name]), header, rows
    )


@bp.route("/dashboard")
@roles_required("manager")
def management_dashboard() -> ResponseReturnValue:
    board, scoped, code = _board("manager", public=False)
    return _render(board, scoped, code, "reports.management_dashboard")


@bp.route("/dashboard/<name>.<fmt>")
@roles_required("manager")
def management_export(name: str, fmt: str) -> ResponseReturnValue:
    board, _scoped, _code = _board("manager", public=False)
    return _export(board, name, fmt)


@bp.route("/committee")
@roles_required("committee")
def committee_dashboard() -> ResponseReturnValue:
    board, scoped, code = _board("committee", public=True)
    return _render(board, scoped, code, "reports.committee_dashboard")


@bp.route("/committee/<name>.<fmt>")
@roles_required("committee")
def committee_export(name: str, fmt: str) -> ResponseReturnValue:
    board, _scoped, _code = _board("committee", public=True)
    return _export(board, name, fmt)


def may_read_definitions(community: Community) -> bool:
    """Managers, customer service and finance of the community, and admins."""
    return current_user.is_admin or community.id in current_user.community_ids(*DEFINITION_ROLES)


@bp.route("/kpis/<code>")
@roles_required(*DEFINITION_ROLES)
def kpi_definitions(code: str) -> ResponseReturnValue:
    community = communities.get_community(db.session, code)
    if community is None or not may_read_definitions(community):
        abort(404)
    board = dashboard.cached(db.session, communities=[community], now=now_utc(), months=_months())
    latest = board.latest
    scored = [r for r in board.months if r.satisfaction is not None]
    values: dict[str, Any] = {
        "collection_rate": latest.collection_rate if latest else None,
        "arrears_recovery_rate": latest.arrears_recovery_rate if latest else None,
        "arrears": sum(c["amount_fen"] for c in board.aging.values()),
        "arrears_units": sum(c["units"] for c in board.aging.values()),
        "complaint_rate": latest.complaint_rate if latest else None,
        "satisfaction": scored[-1].satisfaction if scored else None,
        "satisfaction_month": scored[-1].month if scored else None,
        "sla_compliance": latest.sla_compliance if latest else None,
        "online_payment_share": latest.online_payment_share if latest else None,
        "dispute_median_days": latest.dispute_median_days if latest else None,
        "digital_reach": board.reach_rate,
    }
    return render_template(
        "reports/kpi_definitions.html",
        community=community,
        board=board,
        latest=latest,
        values=values,
        definitions=kpis.DEFINITIONS,
        table=dashboard.table(board, "months"),
        months=_months(),
    )
