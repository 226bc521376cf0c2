"""Public transparency pages (per community; public or owners-only), open data, the owner's
"where does my fee go" page. Staff pages live in staff.py on the same blueprint."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from portal import exports, pagecache, replica
from portal.communities import service as communities
from portal.communities import views as community_views
from portal.communities.models import Community
from portal.domains import NavItem
from portal.extensions import db
from portal.money import fen_to_yuan_str
from portal.notices import service as notices
from portal.publication import service as publication
from portal.security import public
from portal.timeutil import local_today, now_utc, zone
from portal.transparency import figures, funds, queries, statements, summary
from portal.transparency import service as spending
from portal.transparency.models import FundAccount, FundMovement, RecordStatus

bp = Blueprint("transparency", __name__)

NAV = [
    NavItem("transparency.my_share", _l("我的物业费去向"), ("owner",), order=30),
    NavItem("transparency.staff_home", _l("收支公开管理"), ("finance", "manager"), order=59),
]
KIND_LABELS = {
    "spending": _l("支出"),
    "budget": _l("预算"),
    "common_revenue": _l("公共收益"),
    "maintenance_fund": _l("维修资金"),
    "annual_statement": _l("年度收支报告"),
    "fee_standard": _l("收费标准"),
    "notice": _l("公告"),
}
STATUS_LABELS = {
    "over": _l("超出预算"),
    "ahead": _l("进度偏快"),
    "ok": _l("正常"),
    "unbudgeted": _l("无预算"),
}


def visible_or_404(code: str) -> Community:
    """The community if the viewer may see its public side (public, or a member)."""
    community = communities.visible_community(db.session, code=code, user=current_user)
    if community is None:
        abort(404)
    return community


def community_today(community: Community) -> date:
    return local_today(zone(community.timezone))


def requested_year(today: date) -> int:
    year = request.args.get("year", type=int)
    return year if year and 2000 <= year <= 2100 else today.year


def year_choices(community: Community, today: date, year: int) -> list[int]:
    years = set(spending.years_with_spending(db.session, community_id=community.id))
    years.update({today.year, year})
    return sorted(years, reverse=True)


def fee_regime_note(community: Community) -> str:
    if community.fee_regime == "commission":
        return _("物业费归全体业主所有，物业公司按约定比例提取酬金，年度收支须向业主公布。")
    return _("物业公司包干经营、自负盈亏；本平台仍逐项公开支出，供业主监督。")


def _notices_preview(community: Community) -> list[Any]:
    return notices.visible_notices(db.session, community_id=community.id, now=now_utc(), limit=3)


def rate_text(rate: Any) -> str:
    """A fee rate without trailing zeros but with at least two decimals: 2.8000 → 2.80."""
    try:
        value = Decimal(str(rate)).normalize()
    except InvalidOperation:
        return str(rate)
    if value == value.to_integral_value() or -value.as_tuple().exponent < 2:
        value = value.quantize(Decimal("0.01"))
    return f"{value:f}"


def render_community_page(community: Community) -> ResponseReturnValue:
    """The community's transparency page (what /c/<code> shows), cached for anonymous visitors
    (it reads the clock through the notices preview, hence the five-minute key part)."""
    return pagecache.cached_response(
        db.session,
        community_id=community.id,
        parts=("community", pagecache.five_minutes(now_utc())),
        render=lambda: _render_community_page(community),
    )


def _render_community_page(community: Community) -> ResponseReturnValue:
    """The page around its body. The body (figures, tables, charts: ~35 statements and
    ~100 ms) is the same for every reader of one kind, so signed-in owners share it too:
    it is kept per community data version, language, year and five minutes, and by the two
    things that differ by viewer (the staff edit link, the owners' survey-results link)."""
    today = community_today(community)
    year = requested_year(today)
    can_edit = current_user.is_authenticated and spending.can_edit(current_user, community.id)
    owns_here = current_user.is_authenticated and any(
        u.community_id == community.id for u in community_views.owned_units()
    )
    body = pagecache.cached_value(
        db.session,
        community_id=community.id,
        parts=(
            "community_body",
            pagecache.five_minutes(now_utc()),
            today,
            year,
            can_edit,
            owns_here,
        ),
        compute=lambda: render_template(
            "transparency/_community_body.html",
            **_community_context(community, today=today, year=year, can_edit=can_edit),
        ),
    )
    # The body is the output of an autoescaped template of ours, not user input.
    body_html = Markup(body)  # noqa: S704  # nosec B704
    return render_template("transparency/community.html", community=community, body=body_html)


def _community_context(
    community: Community, *, today: date, year: int, can_edit: bool
) -> dict[str, Any]:
    month = today.month if year == today.year else None
    totals = summary.spending_by_category(
        db.session, community_id=community.id, year=year, month=month
    )
    spent = [t for t in totals if t.total_fen]
    by_month = summary.spending_by_month(db.session, community_id=community.id, year=year)
    if year == today.year:
        by_month = [row for row in by_month if row["month"] <= f"{year}-{today.month:02d}"]
    budget_rows, budget = summary.budget_vs_actual(
        db.session, community_id=community.id, year=year, today=today, totals=totals
    )
    accounts = {
        account: funds.summary(db.session, community_id=community.id, account=account, year=year)
        for account in FundAccount
    }
    stats = queries.collection_stats(db.session, community_id=community.id)
    rate_months = [
        (row["month"], queries.as_percent(row["rate"])) for row in stats["collection_rate_by_month"]
    ][-12:]
    months_in_progress = [
        row["month"] for row in stats["collection_rate_by_month"] if row.get("in_progress")
    ]
    rate_buildings = [
        (row["building"], row["units"], queries.as_percent(row["rate"]))
        for row in stats["by_building"]
    ]
    charts: dict[str, Any] = {}
    if spent:
        charts["categories"] = figures.category_bar([(t.name, t.total_fen) for t in spent])
    if any(row["total_fen"] for row in by_month):
        charts["trend"] = figures.monthly_bar([(r["month"], r["total_fen"]) for r in by_month])
    if budget_rows:
        charts["budget"] = figures.budget_vs_actual(
            [(r.name, r.budget_fen, r.actual_fen, r.status) for r in budget_rows],
            budget_label=_("预算"),
            actual_label=_("实际"),
        )
    for account, account_summary in accounts.items():
        if account_summary.by_kind:
            charts[account] = figures.in_out_bar(
                [
                    (
                        str(funds.KIND_LABELS.get(r["kind"], r["kind"])),
                        r["total_fen"],
                        r["direction"],
                    )
                    for r in account_summary.by_kind
                ]
            )
    if any(rate is not None for _m, rate in rate_months):
        charts["rate_months"] = figures.rate_line(
            rate_months, in_progress=months_in_progress, in_progress_label=_("进行中，未到期")
        )
    shown_buildings = [(b, rate) for b, _u, rate in rate_buildings if rate is not None]
    if shown_buildings:
        charts["rate_buildings"] = figures.rate_bar(shown_buildings)
    entries = publication.count(db.session, community)
    chain = publication.recent(db.session, community, limit=1)
    return {
        "community": community,
        "counts": communities.community_counts(db.session, community),
        "regime_note": fee_regime_note(community),
        "year": year,
        "years": year_choices(community, today, year),
        "month": month,
        "today": today,
        "totals": spent,
        "year_total": sum(t.total_fen for t in totals),
        "month_total": sum(t.month_fen for t in totals),
        "by_month": by_month,
        "budget": budget,
        "budget_rows": budget_rows,
        "budget_total": sum(r.budget_fen or 0 for r in budget_rows),
        "status_labels": STATUS_LABELS,
        "accounts": accounts,
        "account_labels": funds.ACCOUNT_LABELS,
        "kind_labels": funds.KIND_LABELS,
        "standards": queries.fee_standards_in_force(
            db.session, community_id=community.id, on=today
        ),
        "rate_months": rate_months,
        "months_in_progress": months_in_progress,
        "rate_buildings": rate_buildings,
        "k": queries.K_ANONYMITY,
        "statement": statements.current_statement(db.session, community_id=community.id, year=year),
        "statements": statements.list_statements(db.session, community_id=community.id),
        "notices": _notices_preview(community),
        "charts": charts,
        "percent": summary.percent,
        "rate_text": rate_text,
        "entries": entries,
        "last_entry": chain[0] if chain else None,
        "can_edit": can_edit,
    }


@bp.record_once
def _install_community_page(state: BlueprintSetupState) -> None:
    # /c/<code> (communities.community_public) shows this page as the community's public
    # face; communities sits below transparency in DOMAINS, so it finds the page here.
    state.app.extensions[community_views.PUBLIC_PAGE] = render_community_page


@bp.route("/c/<code>/transparency")
@public
def community_page(code: str) -> ResponseReturnValue:
    return render_community_page(visible_or_404(code))


@bp.route("/c/<code>/spending")
@public
def spending_list(code: str) -> ResponseReturnValue:
    community = visible_or_404(code)
    return pagecache.cached_response(
        db.session,
        community_id=community.id,
        parts=("spending_list", community_today(community)),
        render=lambda: _spending_list(community),
    )


def _spending_list(community: Community) -> ResponseReturnValue:
    today = community_today(community)
    year = requested_year(today)
    tops = spending.top_categories(db.session, community_id=community.id)
    category_id = request.args.get("category", type=int)
    if category_id not in {c.id for c in tops}:
        category_id = None
    page = spending.list_items(
        db.session,
        community_id=community.id,
        year=year,
        top_category_id=category_id,
        page=request.args.get("page", 1, type=int),
    )
    ids = [item.id for item in page.items]
    return render_template(
        "transparency/spending_list.html",
        community=community,
        year=year,
        years=year_choices(community, today, year),
        tops=tops,
        category_id=category_id,
        page=page,
        entries=publication.latest_for(
            db.session, community_id=community.id, kind=spending.KIND_SPENDING, record_ids=ids
        ),
        replaced=spending.superseded_by(db.session, ids),
    )


@bp.route("/c/<code>/spending/<int:item_id>")
@public
def spending_detail(code: str, item_id: int) -> ResponseReturnValue:
    community = visible_or_404(code)
    return pagecache.cached_response(
        db.session,
        community_id=community.id,
        parts=("spending_detail", community_today(community)),
        render=lambda: _spending_detail(community, item_id),
    )


def _spending_detail(community: Community, item_id: int) -> ResponseReturnValue:
    item = spending.get_published_item(db.session, community_id=community.id, item_id=item_id)
    if item is None:
        abort(404)
    chain = [i for i in spending.correction_chain(db.session, item) if i.status == "published"]
    entries = publication.latest_for(
        db.session,
        community_id=community.id,
        kind=spending.KIND_SPENDING,
        record_ids=[i.id for i in chain],
    )
    return render_template(
        "transparency/spending_detail.html",
        community=community,
        item=item,
        chain=chain,
        entries=entries,
        replaced=spending.superseded_by(db.session, [item.id]).get(item.id),
    )


def _may_see_drafts(community: Community) -> bool:
    return current_user.is_authenticated and spending.can_edit(current_user, community.id)


@bp.route("/c/<code>/spending/<int:item_id>/evidence/<int:evidence_id>")
@public
def spending_evidence(code: str, item_id: int, evidence_id: int) -> ResponseReturnValue:
    from portal.uploads import service as uploads

    community = visible_or_404(code)
    item = db.session.get(spending.SpendingItem, item_id)
    if item is None or item.community_id != community.id:
        abort(404)
    if item.status != RecordStatus.PUBLISHED and not _may_see_drafts(community):
        abort(404)
    stored = spending.evidence_file(db.session, item=item, evidence_id=evidence_id)
    if stored is None:
        abort(404)
    return uploads.send_stored(
        stored,
        download_name=f"spending-{item.id}-{stored.original_name}",
        public=item.status == RecordStatus.PUBLISHED,  # drafts are staff-only: not cached
    )


@bp.route("/c/<code>/funds")
@public
def fund_list(code: str) -> ResponseReturnValue:
    community = visible_or_404(code)
    return pagecache.cached_response(
        db.session,
        community_id=community.id,
        parts=("fund_list", community_today(community)),
        render=lambda: _fund_list(community),
    )


def _fund_list(community: Community) -> ResponseReturnValue:
    today = community_today(community)
    year = requested_year(today)
    account = request.args.get("account", FundAccount.COMMON_REVENUE)
    if account not in set(FundAccount):
        abort(404)
    movements = funds.list_movements(
        db.session, community_id=community.id, account=account, year=year
    )
    account_summary = funds.summary(
        db.session, community_id=community.id, account=account, year=year
    )
    return render_template(
        "transparency/fund_list.html",
        community=community,
        year=year,
        years=year_choices(community, today, year),
        account=account,
        account_labels=funds.ACCOUNT_LABELS,
        kind_labels=funds.KIND_LABELS,
        direction_labels=funds.DIRECTION_LABELS,
        summary=account_summary,
        movements=movements,
        replaced=funds.superseded_by(db.session, [m.id for m in movements]),
        entries=publication.latest_for(
            db.session,
            community_id=community.id,
            kind=account,
            record_ids=[m.id for m in movements],
        ),
    )


@bp.route("/c/<code>/funds/<int:movement_id>/evidence/<int:evidence_id>")
@public
def fund_evidence(code: str, movement_id: int, evidence_id: int) -> ResponseReturnValue:
    from portal.uploads import service as uploads

    community = visible_or_404(code)
    movement = db.session.get(FundMovement, movement_id)
    if movement is None or movement.community_id != community.id:
        abort(404)
    if movement.status != RecordStatus.PUBLISHED and not _may_see_drafts(community):
        abort(404)
    evidence = next((e for e in movement.evidence if e.id == evidence_id), None)
    if evidence is None:
        abort(404)
    return uploads.send_stored(evidence.file, public=movement.status == RecordStatus.PUBLISHED)


@bp.route("/c/<code>/statements/<int:year>")
@public
def statement_detail(code: str, year: int) -> ResponseReturnValue:
    community = visible_or_404(code)
    return pagecache.cached_response(
        db.session,
        community_id=community.id,
        parts=("statement_detail", community_today(community)),
        render=lambda: _statement_detail(community, year),
    )


def _statement_detail(community: Community, year: int) -> ResponseReturnValue:
    statement = statements.current_statement(db.session, community_id=community.id, year=year)
    if statement is None:
        abort(404)
    versions = [
        s
        for s in statements.list_statements(db.session, community_id=community.id)
        if s.year == year
    ]
    entry = publication.latest_for(
        db.session,
        community_id=community.id,
        kind=statements.KIND_STATEMENT,
        record_ids=[statement.id],
    ).get(statement.id)
    return render_template(
        "transparency/statement_detail.html",
        community=community,
        statement=statement,
        versions=versions,
        entry=entry,
    )


@bp.route("/c/<code>/publication-log")
@public
def publication_log(code: str) -> ResponseReturnValue:
    community = visible_or_404(code)
    chain = publication.recent(db.session, community, limit=100)
    return render_template(
        "transparency/publication_log.html",
        community=community,
        chain=chain,
        total=publication.count(db.session, community),
        last=chain[0] if chain else None,
        kind_labels=KIND_LABELS,
    )


@bp.route("/c/<code>/publication-log.json")
@public
def publication_log_download(code: str) -> ResponseReturnValue:
    community = visible_or_404(code)
    body = {"community": community.code, "entries": publication.entries(db.session, community)}
    return Response(
        json.dumps(body, ensure_ascii=False, indent=1),
        mimetype="application/json",
        headers={
            "Content-Disposition": f"attachment; filename=publication-log-{community.code}.json"
        },
    )


CSV_COLUMNS = [
    "id", "date", "top_category", "category", "category_name", "amount_yuan", "amount_fen",
    "vendor", "description", "evidence_sha256", "supersedes", "superseded_by",
    "correction_reason", "seq", "hash",
]  # fmt: skip


@bp.route("/c/<code>/spending.<fmt>")
@public
def spending_download(code: str, fmt: str) -> ResponseReturnValue:
    community = visible_or_404(code)
    if fmt not in ("csv", "json"):
        abort(404)
    year = requested_year(community_today(community))
    # An export: read-only, from the replica when one is set.
    document = summary.spending_document(replica.read_session(), community=community, year=year)
    filename = f"spending-{community.code}-{year}.{fmt}"
    headers = {"Content-Disposition": f"attachment; filename={filename}"}
    if fmt == "json":
        return Response(
            json.dumps(document, ensure_ascii=False, indent=1),
            mimetype="application/json",
            headers=headers,
        )
    rows = []
    for item in document["items"]:
        row = dict(item)
        row["amount_yuan"] = fen_to_yuan_str(item["amount_fen"])
        row["evidence_sha256"] = ";".join(item["evidence"])
        rows.append([row.get(col) for col in CSV_COLUMNS])
    return exports.csv_response(filename, CSV_COLUMNS, rows)


@bp.route("/my/fee-share")
def my_share() -> ResponseReturnValue:
    units = communities.units_of(db.session, current_user)
    if not units:
        return render_template("transparency/my_share.html", units=[], unit=None, share_chart=None)
    unit_id = request.args.get("unit", type=int)
    unit = next((u for u in units if u.id == unit_id), units[0])
    if unit_id is not None and unit.id != unit_id:
        abort(404)  # not one of the owner's units
    community = unit.community
    today = community_today(community)
    year = requested_year(today)
    fee = queries.owner_fee_for_year(db.session, unit_id=unit.id, year=year)
    rows = summary.owner_share(db.session, community=community, year=year, fee_fen=fee or 0)
    named = [(_("物业服务企业酬金") if row.code == "commission" else row.name, row) for row in rows]
    share_chart = (
        figures.share_pie([(name, row.share_fen) for name, row in named if row.share_fen])
        if fee
        else None
    )
    return render_template(
        "transparency/my_share.html",
        units=units,
        unit=unit,
        community=community,
        year=year,
        years=year_choices(community, today, year),
        fee=fee,
        rows=named,
        share_chart=share_chart,
        billing_missing=fee is None,
    )


from portal.transparency import staff  # noqa: E402,F401  (staff routes register on bp)
