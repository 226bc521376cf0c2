"""Disputes: the owner's pages, the staff queue and case page, settings, the mediation list
export, and the public (anonymised) objections and statistics of a community."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from werkzeug.datastructures import FileStorage

from portal import exports, replica
from portal.accounts.models import Role
from portal.audit import service as audit
from portal.billing import holds
from portal.billing import queries as billing_queries
from portal.billing import standards as billing_standards
from portal.billing.models import BillLine, FeeStandard
from portal.communities import service as communities
from portal.communities.models import Community
from portal.disputes import base, decisions, intake, lifecycle, overview
from portal.disputes.forms import (
    CloseForm,
    CommentForm,
    DisputeForm,
    EscalateForm,
    EvidenceForm,
    MessageForm,
    OpinionForm,
    ProposalDecisionForm,
    ProposalForm,
    SettingsForm,
    WithdrawForm,
)
from portal.disputes.models import (
    OPEN_STATUSES,
    Dispute,
    DisputeEvidence,
    DisputeStatus,
    TargetType,
)
from portal.domains import NavItem
from portal.errors import DomainError
from portal.extensions import db
from portal.forms import attach_error, choices
from portal.money import fen_to_yuan_str
from portal.security import public, roles_required
from portal.tickets import queries as tickets_queries
from portal.timeutil import DEFAULT_TZ, local_today, now_utc, zone
from portal.transparency import service as spending
from portal.transparency.models import SpendingItem

bp = Blueprint("disputes", __name__)

STAFF = tuple(str(r) for r in base.READ_ROLES)
NAV = [
    NavItem("disputes.dispute_list", _l("我的异议"), ("owner",), order=35),
    NavItem("disputes.staff_queue", _l("异议处理"), STAFF, order=33),
]

STATUS_LABELS: dict[str, Any] = {
    "submitted": _l("已提交"),
    "acknowledged": _l("已受理"),
    "under_review": _l("核查中"),
    "proposed": _l("待您确认"),
    "rejected": _l("业主未接受"),
    "escalated": _l("已升级调解"),
    "closed": _l("已结案"),
}
STAFF_STATUS_LABELS: dict[str, Any] = {**STATUS_LABELS, "proposed": _l("已答复，待业主确认")}
OUTCOME_LABELS: dict[str, Any] = {
    "upheld": _l("支持业主"),
    "partly_upheld": _l("部分支持"),
    "explained": _l("已说明"),
    "not_upheld": _l("未予支持"),
    "withdrawn": _l("业主撤回"),
}
PUBLIC_OUTCOME_LABELS: dict[str, Any] = {
    "upheld": _l("已采纳"),
    "partly_upheld": _l("部分采纳"),
    "explained": _l("已答复说明"),
    "not_upheld": _l("未采纳"),
    "withdrawn": _l("已撤回"),
}
REQUESTED_LABELS: dict[str, Any] = {
    "credit": _l("退还或减免"),
    "correction": _l("更正"),
    "explanation": _l("说明"),
}
PROPOSAL_LABELS: dict[str, Any] = {
    "explanation": _l("说明"),
    "correction": _l("更正"),
    "credit": _l("减免"),
}
PROPOSAL_STATUS_LABELS: dict[str, Any] = {
    "awaiting_approval": _l("待审批"),
    "offered": _l("待业主确认"),
    "accepted": _l("业主已接受"),
    "rejected": _l("业主未接受"),
    "declined": _l("审批退回"),
    "superseded": _l("已失效"),
}
ESCALATION_LABELS: dict[str, Any] = {
    "committee": _l("业主委员会"),
    "mediator": _l("调解组织"),
}
EVENT_TEXT: dict[str, Any] = {
    "submitted": _l("提交异议"),
    "acknowledged": _l("已受理"),
    "review_started": _l("开始核查"),
    "proposal_drafted": _l("拟定方案（待审批）"),
    "proposal_approved": _l("方案已审批"),
    "proposal_declined": _l("方案被退回"),
    "proposed": _l("物业提出答复方案"),
    "accepted": _l("业主接受方案"),
    "rejected": _l("业主不接受方案"),
    "escalated": _l("升级"),
    "credit_posted": _l("已入账"),
    "closed": _l("结案"),
    "withdrawn": _l("业主撤回"),
    "comment": _l("留言"),
    "note": _l("内部备注"),
    "opinion": _l("业委会意见"),
    "evidence_added": _l("补充材料"),
}
SLA_LABELS: dict[str, Any] = {
    "ok": _l("未到期"),
    "due_today": _l("今天到期"),
    "overdue": _l("已逾期"),
    "met": _l("按时"),
    "breached": _l("超时"),
    "none": "",
}


@bp.app_template_filter("dispute_status")
def dispute_status_filter(value: str, staff: bool = False) -> str:
    return str((STAFF_STATUS_LABELS if staff else STATUS_LABELS).get(value, value))


@bp.app_template_filter("dispute_label")
def dispute_label_filter(value: Any, kind: str) -> str:
    table = {
        "outcome": OUTCOME_LABELS,
        "public_outcome": PUBLIC_OUTCOME_LABELS,
        "requested": REQUESTED_LABELS,
        "proposal": PROPOSAL_LABELS,
        "proposal_status": PROPOSAL_STATUS_LABELS,
        "escalation": ESCALATION_LABELS,
        "event": EVENT_TEXT,
        "sla": SLA_LABELS,
        "target": base.TARGET_LABELS,
    }[kind]
    return str(table.get(str(value), value or ""))


@bp.app_template_filter("dispute_reason")
def dispute_reason_filter(dispute: Dispute) -> str:
    return str(base.REASONS.get(dispute.target_type, {}).get(dispute.reason, dispute.reason))


@bp.app_template_global("objection_badge")
def objection_badge(target_type: str, target_id: Any) -> Markup:
    """An anonymised "1 objection under review" badge for a published record (spending item
    or fee standard), for the transparency pages; empty when nobody objected."""
    if isinstance(target_id, bool) or not isinstance(target_id, int):
        return Markup("")  # e.g. a record not from the database (a preview or a test double)
    record = _public_record(target_type, target_id)
    if record is None:
        return Markup("")
    cache: dict[tuple[str, int], dict[int, dict[str, Any]]] = g.setdefault("_objection_counts", {})
    key = (target_type, record.community_id)
    if key not in cache:
        cache[key] = overview.public_objections(
            db.session, community_id=record.community_id, target_type=target_type
        )
    counts = cache[key].get(target_id)
    if not counts:
        return Markup("")
    parts = []
    if counts["open"]:
        parts.append(_("%(n)s 条异议处理中", n=counts["open"]))
    if counts["closed"]:
        latest = PUBLIC_OUTCOME_LABELS.get(counts["latest_outcome"] or "", "")
        parts.append(_("%(n)s 条已答复", n=counts["closed"]) + (f"（{latest}）" if latest else ""))
    css = "dp-objection dp-objection-open" if counts["open"] else "dp-objection"
    return Markup('<span class="{}">{}</span>').format(css, "；".join(parts))


@bp.app_template_global("dispute_stats_for")
def dispute_stats_for(community_id: int) -> dict[str, Any]:
    """Aggregated dispute figures for a community page (see disputes/_community_section.html)."""
    cache: dict[int, dict[str, Any]] = g.setdefault("_dispute_stats", {})
    if community_id not in cache:
        cache[community_id] = overview.dispute_stats(db.session, community_id=community_id)
    return cache[community_id]


class _LineDisputes:
    """`line_disputes.get(line_id)`: the latest dispute on a bill line, for the bill page
    (billing/bill_detail.html). Billing sits below disputes in DOMAINS, so instead of its view
    asking up, the page reads this template global (one query per line; bills have few)."""

    def get(self, line_id: int) -> Dispute | None:
        return intake.line_disputes(db.session, line_ids=[line_id]).get(line_id)


bp.add_app_template_global(_LineDisputes(), "line_disputes")


def _public_record(target_type: str, target_id: int) -> Any:
    if target_type == TargetType.FEE_STANDARD:
        return db.session.get(FeeStandard, target_id)
    if target_type == TargetType.SPENDING:
        return db.session.get(SpendingItem, target_id)
    return None


def _today(community: Community | None = None) -> date:
    return local_today(zone(community.timezone) if community else DEFAULT_TZ)


def _uploads(field: str = "evidence") -> list[base.Upload]:
    from portal.uploads import service as uploads

    files: list[FileStorage] = [f for f in request.files.getlist(field) if f and f.filename]
    return [
        base.Upload(data=uploads.read_upload(f), filename=f.filename or "evidence") for f in files
    ]


def _fail(exc: DomainError) -> None:
    db.session.rollback()
    flash(exc.message, "error")


# ---------------------------------------------------------------- owner pages


@bp.route("/disputes/")
@roles_required("owner")
def dispute_list() -> ResponseReturnValue:
    page = intake.owner_disputes_page(
        db.session, owner=current_user, page=request.args.get("page", 1, type=int) or 1
    )
    disputes = page.items
    return render_template(
        "disputes/dispute_list.html",
        disputes=disputes,
        page=page,
        labels=intake.target_labels(db.session, disputes),
        today=_today(),
    )


def _target_options(target_type: str) -> list[tuple[str, str]]:
    """What this owner may dispute, loaded from scoped queries."""
    units = communities.units_of(db.session, current_user)
    options: list[tuple[str, str]] = []
    if target_type == TargetType.BILL_LINE:
        bills = billing_queries.bills_for_units(
            db.session, unit_ids=[u.id for u in units], limit=36
        )
        for bill in bills:
            for line in bill.lines:
                if base.creditable_fen(line) > 0:
                    options.append(
                        (
                            str(line.id),
                            f"{bill.period_label} {line.item_name} "
                            f"¥{fen_to_yuan_str(line.amount_fen)} · {bill.unit.code}",
                        )
                    )
    elif target_type == TargetType.SPENDING:
        for community_id in sorted({u.community_id for u in units}):
            page = spending.list_items(db.session, community_id=community_id, per_page=100)
            for item in page.items:
                options.append(
                    (
                        str(item.id),
                        f"{item.spent_on} {item.description} ¥{fen_to_yuan_str(item.amount_fen)}",
                    )
                )
    elif target_type == TargetType.FEE_STANDARD:
        for community_id in sorted({u.community_id for u in units}):
            for s in billing_standards.standard_history(db.session, community_id=community_id):
                options.append(
                    (
                        str(s.id),
                        f"{s.item_name} · {_type_label(s.property_type)} · "
                        f"{s.rate.normalize():f} {s.unit_label} · "
                        + _("%(d)s 起", d=s.effective_from.isoformat()),
                    )
                )
    elif target_type == TargetType.SERVICE:
        options.append(("general", _("物业服务（总体）")))
        for t in tickets_queries.owner_tickets(db.session, user=current_user, limit=50):
            options.append((str(t.id), _("报修 %(n)s", n=t.number)))
    return options


def _with_linked_target(
    target_type: str, options: list[tuple[str, str]], selected: Any
) -> list[tuple[str, str]]:
    """The choosers list the recent bills and spending items; the one a page linked to (a
    bill line from its bill page, an item from the spending page) is always among them,
    however old, as long as the owner may dispute it."""
    if not selected or str(selected) in {value for value, _label in options}:
        return options
    if target_type == TargetType.BILL_LINE:
        line = _owned_line(selected)
        if line is not None and base.creditable_fen(line) > 0:
            bill = line.bill
            label = (
                f"{bill.period_label} {line.item_name} "
                f"¥{fen_to_yuan_str(line.amount_fen)} · {bill.unit.code}"
            )
            return [(str(line.id), label), *options]
    elif target_type == TargetType.SPENDING and str(selected).isdigit():
        for community_id in sorted(
            {u.community_id for u in communities.units_of(db.session, current_user)}
        ):
            item = spending.get_published_item(
                db.session, community_id=community_id, item_id=int(selected)
            )
            if item is not None:
                label = f"{item.spent_on} {item.description} ¥{fen_to_yuan_str(item.amount_fen)}"
                return [(str(item.id), label), *options]
    return options


def _type_label(value: str) -> str:
    from portal.jinja import label

    return label(value)


@bp.route("/disputes/new", methods=["GET", "POST"])
@roles_required("owner")
def dispute_new() -> ResponseReturnValue:
    target_type = request.values.get("target_type") or request.values.get("type") or ""
    if target_type not in set(TargetType):
        return render_template("disputes/dispute_choose.html")
    form = DisputeForm(
        data={
            "target_type": target_type,
            "target_id": request.args.get("target", ""),
            "requested_outcome": "credit"
            if target_type in (TargetType.BILL_LINE, TargetType.SERVICE)
            else "explanation",
        }
    )
    options = _target_options(target_type)
    options = _with_linked_target(target_type, options, form.target_id.data)
    form.target_id.choices = choices(options)
    form.reason.choices = choices(list(base.REASONS[target_type].items()))
    allowed = set(base.OUTCOMES_FOR[target_type])
    form.requested_outcome.choices = [
        c for c in form.requested_outcome.choices if c.value in allowed
    ]
    line = None
    if target_type == TargetType.BILL_LINE and form.target_id.data:
        line = _owned_line(form.target_id.data)
        if line is not None and not form.is_submitted() and line.kind == "late_fee":
            form.reason.data = "late_fee"
    if form.validate_on_submit():
        target_id = None if form.target_id.data == "general" else form.target_id.data
        try:
            dispute = intake.open_dispute(
                db.session,
                owner=current_user,
                target_type=target_type,
                target_id=target_id,
                reason=form.reason.data,
                statement=form.statement.data,
                requested_outcome=form.requested_outcome.data,
                requested_amount_fen=form.requested_amount.fen,
                now=now_utc(),
                uploads=_uploads(),
            )
        except DomainError as exc:
            db.session.rollback()
            if exc.field == "file":  # the uploads service names its field "file"
                exc.field = "evidence"
            attach_error(form, exc)
        else:
            db.session.commit()
            settings = intake.get_settings(db.session, dispute.community_id)
            flash(
                _(
                    "异议已提交（编号 %(ref)s）。我们会在 %(n)s 个工作日内首次答复；"
                    "处理期间有异议的金额暂停计收违约金和催缴。",
                    ref=dispute.reference,
                    n=settings.first_response_days,
                ),
                "success",
            )
            return redirect(url_for(".dispute_detail", dispute_id=dispute.id))
    return render_template(
        "disputes/dispute_new.html",
        form=form,
        target_type=target_type,
        has_options=bool(options),
        line=line,
    )


def _owned_line(value: Any) -> BillLine | None:
    try:
        line_id = int(value)
    except (TypeError, ValueError):
        return None
    line = db.session.get(BillLine, line_id)
    if line is None:
        return None
    bill = billing_queries.get_owned_bill(db.session, owner=current_user, bill_id=line.bill_id)
    return line if bill is not None else None


def _owned_or_404(dispute_id: int) -> Dispute:
    dispute = intake.get_owned_dispute(db.session, owner=current_user, dispute_id=dispute_id)
    if dispute is None:
        abort(404)
    return dispute


def _detail_context(dispute: Dispute, *, for_owner: bool) -> dict[str, Any]:
    today = _today(dispute.community)
    line = db.session.get(BillLine, dispute.bill_line_id) if dispute.bill_line_id else None
    return {
        "dispute": dispute,
        "events": intake.visible_events(dispute, for_owner=for_owner),
        "label": intake.target_labels(db.session, [dispute]).get(dispute.id, ""),
        "sla": lifecycle.sla_state(dispute, today=today),
        "line": line,
        "held_fen": holds.held_amounts(db.session, unit_ids=[dispute.unit_id]).get(
            dispute.bill_line_id or 0, 0
        ),
        "settings": intake.get_settings(db.session, dispute.community_id),
        "tz": dispute.community.timezone,
        "today": today,
    }


@bp.route("/disputes/<int:dispute_id>")
@roles_required("owner")
def dispute_detail(dispute_id: int) -> ResponseReturnValue:
    dispute = _owned_or_404(dispute_id)
    context = _detail_context(dispute, for_owner=True)
    can_escalate = dispute.status == DisputeStatus.REJECTED or (
        dispute.status in OPEN_STATUSES
        and dispute.status not in (DisputeStatus.ESCALATED, DisputeStatus.PROPOSED)
        and context["sla"]["worst"] == "overdue"
    )
    return render_template(
        "disputes/dispute_detail.html",
        **context,
        decision_form=ProposalDecisionForm(),
        escalate_form=EscalateForm(data={"to": "committee"}),
        withdraw_form=WithdrawForm(),
        comment_form=CommentForm(),
        evidence_form=EvidenceForm(),
        can_escalate=can_escalate,
    )


def _owner_action(dispute_id: int, action: Any, done: str) -> ResponseReturnValue:
    dispute = _owned_or_404(dispute_id)
    try:
        action(dispute)
    except DomainError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for(".dispute_detail", dispute_id=dispute_id))


@bp.route("/disputes/<int:dispute_id>/accept", methods=["POST"])
@roles_required("owner")
def dispute_accept(dispute_id: int) -> ResponseReturnValue:
    form = ProposalDecisionForm()
    return _owner_action(
        dispute_id,
        lambda d: decisions.accept_proposal(
            db.session,
            dispute=d,
            owner=current_user,
            proposal_id=form.proposal_id.data,
            now=now_utc(),
        ),
        _("您已接受答复方案，异议已结案。涉及的金额已记入账单。"),
    )


@bp.route("/disputes/<int:dispute_id>/reject", methods=["POST"])
@roles_required("owner")
def dispute_reject(dispute_id: int) -> ResponseReturnValue:
    form = ProposalDecisionForm()
    return _owner_action(
        dispute_id,
        lambda d: decisions.reject_proposal(
            db.session,
            dispute=d,
            owner=current_user,
            proposal_id=form.proposal_id.data,
            reason=form.reason.data or "",
            now=now_utc(),
        ),
        _("已记录您不接受该方案。您可以等待新的方案，或申请提交业委会/调解组织。"),
    )


@bp.route("/disputes/<int:dispute_id>/escalate", methods=["POST"])
@roles_required("owner")
def dispute_escalate(dispute_id: int) -> ResponseReturnValue:
    form = EscalateForm()
    return _owner_action(
        dispute_id,
        lambda d: lifecycle.escalate(
            db.session,
            dispute=d,
            actor=current_user,
            to=form.to.data or "",
            reason=form.reason.data or "",
            now=now_utc(),
        ),
        _("已申请升级处理"),
    )


@bp.route("/disputes/<int:dispute_id>/withdraw", methods=["POST"])
@roles_required("owner")
def dispute_withdraw(dispute_id: int) -> ResponseReturnValue:
    form = WithdrawForm()
    return _owner_action(
        dispute_id,
        lambda d: lifecycle.withdraw(
            db.session, dispute=d, owner=current_user, now=now_utc(), reason=form.reason.data or ""
        ),
        _("异议已撤回"),
    )


@bp.route("/disputes/<int:dispute_id>/comment", methods=["POST"])
@roles_required("owner")
def dispute_comment(dispute_id: int) -> ResponseReturnValue:
    form = CommentForm()
    return _owner_action(
        dispute_id,
        lambda d: lifecycle.comment(
            db.session, dispute=d, actor=current_user, body=form.body.data or "", now=now_utc()
        ),
        _("留言已发送"),
    )


@bp.route("/disputes/<int:dispute_id>/evidence", methods=["POST"])
@roles_required("owner")
def dispute_evidence_add(dispute_id: int) -> ResponseReturnValue:
    return _owner_action(
        dispute_id,
        lambda d: intake.add_evidence(
            db.session, dispute=d, actor=current_user, uploads=_uploads(), now=now_utc()
        ),
        _("材料已上传"),
    )


@bp.route("/disputes/<int:dispute_id>/evidence/<int:evidence_id>")
@roles_required("owner", *STAFF)
def evidence_file(dispute_id: int, evidence_id: int) -> ResponseReturnValue:
    from portal.uploads import service as uploads

    dispute = intake.get_owned_dispute(db.session, owner=current_user, dispute_id=dispute_id)
    if dispute is None:
        dispute = intake.get_scoped_dispute(db.session, staff=current_user, dispute_id=dispute_id)
    evidence = db.session.get(DisputeEvidence, evidence_id)
    if dispute is None or evidence is None or evidence.dispute_id != dispute.id:
        abort(404)
    return uploads.send_stored(evidence.file)


# ---------------------------------------------------------------- staff pages


def _scoped_communities() -> list[Community]:
    return communities.staff_communities(db.session, current_user, *STAFF)


@bp.route("/staff/disputes")
@roles_required(*STAFF)
def staff_queue() -> ResponseReturnValue:
    scoped = _scoped_communities()
    code = request.args.get("community", "")
    community = next((c for c in scoped if c.code == code), None)
    if community is None and len(scoped) == 1:
        community = scoped[0]
    ids = [community.id] if community else [c.id for c in scoped]
    status = request.args.get("status", "open")
    filters = overview.QueueFilters(
        community_ids=ids,
        status=status,
        target_type=request.args.get("target_type", ""),
        overdue_only=request.args.get("overdue") == "1",
        sort=request.args.get("sort", "oldest"),
    )
    today = _today(community)
    page = overview.queue(
        db.session, filters=filters, today=today, page=request.args.get("page", 1, type=int)
    )
    return render_template(
        "disputes/staff_queue.html",
        page=page,
        filters=filters,
        scoped=scoped,
        community=community,
        statuses=list(DisputeStatus),
        target_types=list(TargetType),
        labels=intake.target_labels(db.session, page.disputes),
        sla={d.id: lifecycle.sla_state(d, today=today) for d in page.disputes},
        counts=overview.counts_by_status(db.session, community_ids=ids, today=today),
        today=today,
        is_manager=current_user.is_admin or bool(current_user.community_ids("manager")),
    )


def _scoped_or_404(dispute_id: int) -> Dispute:
    dispute = intake.get_scoped_dispute(db.session, staff=current_user, dispute_id=dispute_id)
    if dispute is None:
        abort(404)
    return dispute


@bp.route("/staff/disputes/<int:dispute_id>")
@roles_required(*STAFF)
def staff_detail(dispute_id: int) -> ResponseReturnValue:
    dispute = _scoped_or_404(dispute_id)
    roles = base.staff_roles_in(current_user, dispute.community_id)
    context = _detail_context(dispute, for_owner=False)
    close_form = CloseForm()
    close_form.outcome.choices = choices(
        [(o, OUTCOME_LABELS[o]) for o in lifecycle.CLOSE_OUTCOMES[dispute.target_type]]
    )
    is_handler = bool(roles & set(base.HANDLER_ROLES))
    return render_template(
        "disputes/staff_detail.html",
        **context,
        roles=roles,
        is_handler=is_handler,
        is_manager=Role.MANAGER in roles,
        can_money=bool(roles & set(base.MONEY_ROLES)),
        # Handlers call the owner back; the committee never sees owners' phone numbers.
        show_phone=is_handler,
        message_form=MessageForm(),
        proposal_form=ProposalForm(
            data={
                "kind": "credit"
                if dispute.requested_outcome == "credit" and roles & set(base.MONEY_ROLES)
                else "explanation",
                "amount": fen_to_yuan_str(dispute.requested_amount_fen)
                if dispute.requested_amount_fen
                else "",
            }
        ),
        decision_form=ProposalDecisionForm(),
        close_form=close_form,
        comment_form=CommentForm(),
        opinion_form=OpinionForm(),
        escalate_form=EscalateForm(data={"to": "committee"}),
        evidence_form=EvidenceForm(),
        propose_statuses=decisions.PROPOSE_FROM,
    )


def _staff_action(dispute_id: int, action: Any, done: str) -> ResponseReturnValue:
    dispute = _scoped_or_404(dispute_id)
    try:
        action(dispute)
    except DomainError as exc:
        _fail(exc)
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for(".staff_detail", dispute_id=dispute_id))


@bp.route("/staff/disputes/<int:dispute_id>/acknowledge", methods=["POST"])
@roles_required(*base.HANDLER_ROLES)
def staff_acknowledge(dispute_id: int) -> ResponseReturnValue:
    form = MessageForm()
    return _staff_action(
        dispute_id,
        lambda d: decisions.acknowledge(
            db.session,
            dispute=d,
            actor=current_user,
            now=now_utc(),
            message=form.message.data or "",
        ),
        _("已受理"),
    )


@bp.route("/staff/disputes/<int:dispute_id>/review", methods=["POST"])
@roles_required(*base.HANDLER_ROLES)
def staff_review(dispute_id: int) -> ResponseReturnValue:
    form = MessageForm()
    return _staff_action(
        dispute_id,
        lambda d: decisions.start_review(
            db.session,
            dispute=d,
            actor=current_user,
            now=now_utc(),
            message=form.message.data or "",
        ),
        _("已开始核查"),
    )


@bp.route("/staff/disputes/<int:dispute_id>/propose", methods=["POST"])
@roles_required(*base.HANDLER_ROLES)
def staff_propose(dispute_id: int) -> ResponseReturnValue:
    dispute = _scoped_or_404(dispute_id)
    form = ProposalForm()
    if not form.validate():
        for field in form:
            for error in field.errors:
                flash(f"{field.label.text}：{error}", "error")
        return redirect(url_for(".staff_detail", dispute_id=dispute_id))
    try:
        proposal = decisions.propose(
            db.session,
            dispute=dispute,
            actor=current_user,
            kind=form.kind.data,
            body=form.body.data,
            amount_fen=form.amount.fen,
            now=now_utc(),
        )
    except DomainError as exc:
        _fail(exc)
    else:
        db.session.commit()
        if proposal.status == "awaiting_approval":
            flash(_("金额超过审批门槛，方案已提交管理处负责人审批"), "info")
        else:
            flash(_("答复方案已发送给业主"), "success")
    return redirect(url_for(".staff_detail", dispute_id=dispute_id))


@bp.route("/staff/disputes/<int:dispute_id>/approve", methods=["POST"])
@roles_required("manager")
def staff_approve(dispute_id: int) -> ResponseReturnValue:
    form = ProposalDecisionForm()
    return _staff_action(
        dispute_id,
        lambda d: decisions.approve_proposal(
            db.session,
            dispute=d,
            proposal_id=form.proposal_id.data,
            actor=current_user,
            now=now_utc(),
        ),
        _("已批准，方案已发送给业主"),
    )


@bp.route("/staff/disputes/<int:dispute_id>/decline", methods=["POST"])
@roles_required("manager")
def staff_decline(dispute_id: int) -> ResponseReturnValue:
    form = ProposalDecisionForm()
    return _staff_action(
        dispute_id,
        lambda d: decisions.decline_proposal(
            db.session,
            dispute=d,
            proposal_id=form.proposal_id.data,
            actor=current_user,
            reason=form.reason.data or "",
            now=now_utc(),
        ),
        _("方案已退回"),
    )


@bp.route("/staff/disputes/<int:dispute_id>/escalate", methods=["POST"])
@roles_required("manager")
def staff_escalate(dispute_id: int) -> ResponseReturnValue:
    form = EscalateForm()
    return _staff_action(
        dispute_id,
        lambda d: lifecycle.escalate(
            db.session,
            dispute=d,
            actor=current_user,
            to=form.to.data or "",
            reason=form.reason.data or "",
            now=now_utc(),
        ),
        _("已升级"),
    )


@bp.route("/staff/disputes/<int:dispute_id>/close", methods=["POST"])
@roles_required("manager")
def staff_close(dispute_id: int) -> ResponseReturnValue:
    form = CloseForm()
    return _staff_action(
        dispute_id,
        lambda d: lifecycle.close_dispute(
            db.session,
            dispute=d,
            actor=current_user,
            outcome=form.outcome.data or "",
            note=form.note.data or "",
            now=now_utc(),
        ),
        _("已结案"),
    )


@bp.route("/staff/disputes/<int:dispute_id>/comment", methods=["POST"])
@roles_required(*STAFF)
def staff_comment(dispute_id: int) -> ResponseReturnValue:
    form = CommentForm()
    return _staff_action(
        dispute_id,
        lambda d: lifecycle.comment(
            db.session,
            dispute=d,
            actor=current_user,
            body=form.body.data or "",
            now=now_utc(),
            internal=bool(form.internal.data),
        ),
        _("已记录"),
    )


@bp.route("/staff/disputes/<int:dispute_id>/opinion", methods=["POST"])
@roles_required("committee")
def staff_opinion(dispute_id: int) -> ResponseReturnValue:
    form = OpinionForm()
    return _staff_action(
        dispute_id,
        lambda d: lifecycle.add_opinion(
            db.session, dispute=d, actor=current_user, body=form.body.data or "", now=now_utc()
        ),
        _("业委会意见已记录"),
    )


@bp.route("/staff/disputes/<int:dispute_id>/evidence", methods=["POST"])
@roles_required(*base.HANDLER_ROLES)
def staff_evidence_add(dispute_id: int) -> ResponseReturnValue:
    return _staff_action(
        dispute_id,
        lambda d: intake.add_evidence(
            db.session, dispute=d, actor=current_user, uploads=_uploads(), now=now_utc()
        ),
        _("材料已上传"),
    )


@bp.route("/staff/disputes/settings/<code>", methods=["GET", "POST"])
@roles_required("manager")
def staff_settings(code: str) -> ResponseReturnValue:
    community = communities.get_scoped_community(db.session, user=current_user, code=code)
    if community is None:
        abort(404)
    current = intake.get_settings(db.session, community.id)
    form = SettingsForm(
        data={
            "first_response_days": current.first_response_days,
            "proposal_days": current.proposal_days,
            "approval_threshold": fen_to_yuan_str(current.approval_threshold_fen),
            "mediator": current.mediator,
        }
    )
    if form.validate_on_submit():
        try:
            intake.update_settings(
                db.session,
                community=community,
                actor=current_user,
                now=now_utc(),
                first_response_days=form.first_response_days.data,
                proposal_days=form.proposal_days.data,
                approval_threshold_fen=form.approval_threshold.fen or 0,
                mediator=form.mediator.data or "",
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存"), "success")
            return redirect(url_for(".staff_settings", code=code))
    return render_template("disputes/staff_settings.html", community=community, form=form)


# ---------------------------------------------------------------- mediation list


MEDIATION_COLUMNS: list[tuple[str, Any]] = [
    ("reference", _l("编号")),
    ("received_on", _l("受理日期")),
    ("unit", _l("房号")),
    ("owner", _l("业主")),
    ("target_type", _l("异议对象类型")),
    ("target", _l("异议对象")),
    ("reason", _l("异议原因")),
    ("statement", _l("业主陈述")),
    ("requested_outcome", _l("业主诉求")),
    ("requested_amount", _l("诉求金额（元）")),
    ("company_position", _l("物业答复")),
    ("company_offer", _l("物业方案金额（元）")),
    ("owner_objection", _l("业主不接受理由")),
    ("escalated_to", _l("调解方")),
    ("escalated_on", _l("升级日期")),
    ("status", _l("状态")),
    ("outcome", _l("结果")),
    ("closed_on", _l("结案日期")),
    ("closing_note", _l("结案说明")),
    ("days_open", _l("处理天数")),
]


def _display_row(row: dict[str, Any]) -> dict[str, Any]:
    shown = dict(row)
    shown["requested_outcome"] = str(REQUESTED_LABELS.get(row["requested_outcome"], ""))
    shown["escalated_to"] = str(ESCALATION_LABELS.get(row["escalated_to"], ""))
    shown["status"] = str(STAFF_STATUS_LABELS.get(row["status"], row["status"]))
    shown["outcome"] = str(OUTCOME_LABELS.get(row["outcome"], ""))
    return shown


def _mediation_community(code: str) -> Community:
    community = communities.get_scoped_community(
        db.session, user=current_user, code=code, roles=STAFF
    )
    if community is None:
        abort(404)
    return community


@bp.route("/staff/disputes/mediation/<code>")
@roles_required(*STAFF)
def mediation_list(code: str) -> ResponseReturnValue:
    community = _mediation_community(code)
    rows = overview.mediation_rows(db.session, community_id=community.id, now=now_utc())
    return render_template(
        "disputes/mediation_list.html",
        community=community,
        rows=[_display_row(r) for r in rows],
    )


@bp.route("/staff/disputes/mediation/<code>/export/<fmt>")
@roles_required(*STAFF)
def mediation_export(code: str, fmt: str) -> ResponseReturnValue:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    community = _mediation_community(code)
    audit.record_personal_data_export(
        db.session,
        actor_id=current_user.id,
        action="disputes.mediation_export",
        community_id=community.id,
        now=now_utc(),
        ip=request.remote_addr,
        fmt=fmt,
    )
    db.session.commit()
    reports = replica.read_session()  # an export: read-only, from the replica when set
    rows = [
        _display_row(r)
        for r in overview.mediation_rows(reports, community_id=community.id, now=now_utc())
    ]
    headers = [str(label) for _key, label in MEDIATION_COLUMNS]
    name = f"{community.code}-mediation-list-{_today(community).isoformat()}.{fmt}"
    if fmt == "csv":
        return exports.csv_response(
            name, headers, ([row[key] for key, _label in MEDIATION_COLUMNS] for row in rows)
        )
    return exports.xlsx_response(
        name,
        str(_l("纠纷调解清单")),
        headers,
        ([row[key] for key, _label in MEDIATION_COLUMNS] for row in rows),
        title=_("%(c)s 纠纷调解清单（三清单）", c=community.name),
        widths=(10, 12, 12, 8, 12, 28, 14, 40, 10, 12, 40, 12, 30, 12, 12, 14, 10, 12, 30, 8),
    )


# ---------------------------------------------------------------- public


@bp.route("/c/<code>/objections")
@public
def community_objections(code: str) -> ResponseReturnValue:
    community = communities.visible_community(db.session, code=code, user=current_user)
    if community is None:
        abort(404)
    stats = overview.dispute_stats(db.session, community_id=community.id)
    records = public_records(community)
    return render_template(
        "disputes/community_objections.html",
        community=community,
        stats=stats,
        records=records,
        outcome_labels=OUTCOME_LABELS,
    )


def public_records(community: Community) -> list[dict[str, Any]]:
    """Published records with objections, anonymised: what, how many, and the latest result."""
    out: list[dict[str, Any]] = []
    for target_type in (TargetType.SPENDING, TargetType.FEE_STANDARD):
        counts = overview.public_objections(
            db.session, community_id=community.id, target_type=target_type
        )
        labels = intake.record_labels(db.session, [(target_type, i) for i in counts])
        for target_id, numbers in counts.items():
            if target_type == TargetType.SPENDING:
                url = url_for(
                    "transparency.spending_detail", code=community.code, item_id=target_id
                )
            else:
                url = url_for("billing.standards_public", code=community.code)
            out.append(
                {
                    "target_type": target_type,
                    "label": labels.get((target_type, target_id), f"#{target_id}"),
                    "url": url,
                    "counts": numbers,
                }
            )
    out.sort(key=lambda r: (-r["counts"]["open"], r["label"]))
    return out
