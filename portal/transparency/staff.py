"""Staff pages: record spending with evidence, publish, correct; categories, budgets, the two
owners' accounts and annual statements. Finance and managers of the community only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from wtforms import StringField
from wtforms.validators import Length, Optional

from portal.communities import service as communities
from portal.communities.models import Community
from portal.errors import DomainError
from portal.extensions import db
from portal.forms import YuanField, attach_error, choices
from portal.governance import service as governance
from portal.money import fen_to_yuan_str
from portal.publication import service as publication
from portal.security import roles_required
from portal.timeutil import now_utc
from portal.transparency import budgets, funds, queries, statements
from portal.transparency import service as spending
from portal.transparency.forms import (
    BudgetStartForm,
    CategoryEditForm,
    CategoryForm,
    CorrectionDraftForm,
    CorrectionStartForm,
    EvidenceForm,
    FundForm,
    SpendingForm,
    StatementForm,
)
from portal.transparency.models import (
    FundAccount,
    FundMovement,
    RecordStatus,
    SpendingItem,
)
from portal.transparency.views import bp, community_today
from portal.uploads import service as uploads

ROLES = ("finance", "manager")


def _community(code: str) -> Community:
    community = communities.get_scoped_community(
        db.session, user=current_user, code=code, roles=spending.EDIT_ROLES
    )
    if community is None:
        abort(404)
    return community


def _files(field: str = "files") -> list[FileStorage]:
    return [f for f in request.files.getlist(field) if f and f.filename]


def _attach_files(add: Callable[..., Any], now: Any) -> int:
    """Store each uploaded file through `add(data=, filename=, …)`; any refusal raises."""
    count = 0
    for file in _files():
        try:
            data = uploads.read_upload(file)
            add(data=data, filename=file.filename or "file", actor=current_user, now=now)
        except DomainError as exc:
            raise DomainError(
                _("%(name)s：%(error)s", name=file.filename, error=exc.message),
                field="files",
                code=exc.code,
            ) from exc
        count += 1
    return count


def _category_choices(community: Community) -> list[Any]:
    pairs: list[tuple[Any, Any]] = []
    for category in spending.categories(db.session, community_id=community.id, active_only=True):
        prefix = "　└ " if category.parent_id else ""
        pairs.append((category.id, prefix + category.name))
    return choices(pairs)


@bp.route("/staff/transparency")
@roles_required(*ROLES)
def staff_home() -> ResponseReturnValue:
    mine = communities.staff_communities(db.session, current_user, *spending.EDIT_ROLES)
    if len(mine) == 1:
        return redirect(url_for(".staff_spending", code=mine[0].code))
    return render_template("transparency/staff_home.html", communities=mine)


# --- spending ---------------------------------------------------------------------------


@bp.route("/staff/transparency/<code>/spending")
@roles_required(*ROLES)
def staff_spending(code: str) -> ResponseReturnValue:
    community = _community(code)
    if spending.ensure_default_categories(db.session, community=community):
        db.session.commit()
    status = request.args.get("status") or None
    if status not in (None, RecordStatus.DRAFT, RecordStatus.PUBLISHED):
        status = None
    year = request.args.get("year", type=int)
    page = spending.list_items(
        db.session,
        community_id=community.id,
        year=year,
        status=status,
        page=request.args.get("page", 1, type=int),
    )
    return render_template(
        "transparency/staff_spending.html",
        community=community,
        page=page,
        status=status,
        year=year,
        replaced=spending.superseded_by(db.session, [i.id for i in page.items]),
        drafts=spending.list_items(
            db.session, community_id=community.id, status=RecordStatus.DRAFT, per_page=1
        ).total,
    )


@bp.route("/staff/transparency/<code>/spending/new", methods=["GET", "POST"])
@roles_required(*ROLES)
def staff_spending_new(code: str) -> ResponseReturnValue:
    community = _community(code)
    if spending.ensure_default_categories(db.session, community=community):
        db.session.commit()
    form = SpendingForm()
    form.category_id.choices = _category_choices(community)
    if request.method == "GET":
        form.spent_on.data = community_today(community)
    if form.validate_on_submit():
        now = now_utc()
        try:
            item = spending.create_item(
                db.session,
                community=community,
                category_id=form.category_id.data,
                spent_on=form.spent_on.data,
                amount_fen=form.amount.fen,
                vendor=form.vendor.data,
                description=form.description.data,
                actor=current_user,
                now=now,
                today=community_today(community),
            )
            _attach_files(lambda **kw: spending.add_evidence(db.session, item=item, **kw), now)
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存为草稿。核对无误后点击“公开”。"), "success")
            return redirect(url_for(".staff_spending_detail", item_id=item.id))
    return render_template(
        "transparency/staff_spending_form.html", community=community, form=form, item=None
    )


def _item(item_id: int) -> SpendingItem:
    item = spending.get_scoped_item(db.session, user=current_user, item_id=item_id)
    if item is None:
        abort(404)
    return item


@bp.route("/staff/transparency/spending/<int:item_id>")
@roles_required(*ROLES)
def staff_spending_detail(item_id: int) -> ResponseReturnValue:
    item = _item(item_id)
    community = db.session.get(Community, item.community_id)
    entry = publication.latest_for(
        db.session, community_id=item.community_id, kind="spending", record_ids=[item.id]
    ).get(item.id)
    return render_template(
        "transparency/staff_spending_detail.html",
        community=community,
        item=item,
        entry=entry,
        evidence_form=EvidenceForm(),
        correct_form=CorrectionStartForm(),
        replaced=spending.superseded_by(db.session, [item.id]).get(item.id),
    )


@bp.route("/staff/transparency/spending/<int:item_id>/edit", methods=["GET", "POST"])
@roles_required(*ROLES)
def staff_spending_edit(item_id: int) -> ResponseReturnValue:
    item = _item(item_id)
    community = db.session.get(Community, item.community_id)
    assert community is not None  # noqa: S101
    if item.status != RecordStatus.DRAFT:
        flash(_("已公开的支出不能修改；如有错误，请提交更正"), "error")
        return redirect(url_for(".staff_spending_detail", item_id=item.id))
    form_class = CorrectionDraftForm if item.supersedes_id else SpendingForm
    form = form_class(obj=item)
    form.category_id.choices = _category_choices(community)
    if request.method == "GET":
        form.amount.data = fen_to_yuan_str(item.amount_fen)
    if form.validate_on_submit():
        now = now_utc()
        try:
            spending.update_item(
                db.session,
                item=item,
                category_id=form.category_id.data,
                spent_on=form.spent_on.data,
                amount_fen=form.amount.fen,
                vendor=form.vendor.data,
                description=form.description.data,
                correction_reason=getattr(form, "correction_reason", None)
                and form.correction_reason.data,
                actor=current_user,
                now=now,
                today=community_today(community),
            )
            _attach_files(lambda **kw: spending.add_evidence(db.session, item=item, **kw), now)
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存"), "success")
            return redirect(url_for(".staff_spending_detail", item_id=item.id))
    return render_template(
        "transparency/staff_spending_form.html", community=community, form=form, item=item
    )


def _action(item_id: int, action: Callable[[SpendingItem, Community], Any], done: str) -> Any:
    item = _item(item_id)
    community = db.session.get(Community, item.community_id)
    try:
        result = action(item, community)  # type: ignore[arg-type]
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".staff_spending_detail", item_id=item_id))
    db.session.commit()
    flash(done, "success")
    return result


@bp.route("/staff/transparency/spending/<int:item_id>/evidence", methods=["POST"])
@roles_required(*ROLES)
def staff_spending_evidence(item_id: int) -> ResponseReturnValue:
    now = now_utc()

    def upload(item: SpendingItem, community: Community) -> None:
        if not _attach_files(lambda **kw: spending.add_evidence(db.session, item=item, **kw), now):
            raise DomainError(_("请选择要上传的文件"), field="files")

    _action(item_id, upload, _("凭证已上传"))
    return redirect(url_for(".staff_spending_detail", item_id=item_id))


@bp.route(
    "/staff/transparency/spending/<int:item_id>/evidence/<int:evidence_id>/remove",
    methods=["POST"],
)
@roles_required(*ROLES)
def staff_spending_evidence_remove(item_id: int, evidence_id: int) -> ResponseReturnValue:
    _action(
        item_id,
        lambda item, _c: spending.remove_evidence(
            db.session, item=item, evidence_id=evidence_id, actor=current_user, now=now_utc()
        ),
        _("凭证已移除"),
    )
    return redirect(url_for(".staff_spending_detail", item_id=item_id))


@bp.route("/staff/transparency/spending/<int:item_id>/publish", methods=["POST"])
@roles_required(*ROLES)
def staff_spending_publish(item_id: int) -> ResponseReturnValue:
    _action(
        item_id,
        lambda item, community: spending.publish_item(
            db.session, item=item, community=community, actor=current_user, now=now_utc()
        ),
        _("已公开，并已写入公示记录链"),
    )
    return redirect(url_for(".staff_spending_detail", item_id=item_id))


@bp.route("/staff/transparency/spending/<int:item_id>/delete", methods=["POST"])
@roles_required(*ROLES)
def staff_spending_delete(item_id: int) -> ResponseReturnValue:
    item = _item(item_id)
    code = db.session.get(Community, item.community_id).code  # type: ignore[union-attr]
    try:
        spending.delete_draft(db.session, item=item, actor=current_user, now=now_utc())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".staff_spending_detail", item_id=item_id))
    db.session.commit()
    flash(_("草稿已删除"), "success")
    return redirect(url_for(".staff_spending", code=code))


@bp.route("/staff/transparency/spending/<int:item_id>/correct", methods=["POST"])
@roles_required(*ROLES)
def staff_spending_correct(item_id: int) -> ResponseReturnValue:
    item = _item(item_id)
    form = CorrectionStartForm()
    if not form.validate_on_submit():
        flash(_("请填写更正原因"), "error")
        return redirect(url_for(".staff_spending_detail", item_id=item_id))
    try:
        correction = spending.start_correction(
            db.session,
            item=item,
            reason=form.reason.data,
            retract=form.retract.data,
            actor=current_user,
            now=now_utc(),
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".staff_spending_detail", item_id=item_id))
    db.session.commit()
    flash(_("已创建更正草稿：修改后公开，原记录将标为“已更正”并保留"), "success")
    return redirect(url_for(".staff_spending_edit", item_id=correction.id))


# --- categories -------------------------------------------------------------------------


@bp.route("/staff/transparency/<code>/categories", methods=["GET", "POST"])
@roles_required(*ROLES)
def staff_categories(code: str) -> ResponseReturnValue:
    community = _community(code)
    if spending.ensure_default_categories(db.session, community=community):
        db.session.commit()
    tree = spending.categories(db.session, community_id=community.id)
    form = CategoryForm()
    form.parent_id.choices = choices(
        [("", _("（一级类别）"))] + [(str(c.id), c.name) for c in tree if c.parent_id is None]
    )
    if form.validate_on_submit():
        try:
            spending.add_category(
                db.session,
                community=community,
                code=form.code.data,
                name=form.name.data,
                parent_id=int(form.parent_id.data) if form.parent_id.data else None,
                actor=current_user,
                now=now_utc(),
            )
        except (DomainError, ValueError) as exc:
            db.session.rollback()
            attach_error(form, exc if isinstance(exc, DomainError) else DomainError(str(exc)))
        else:
            db.session.commit()
            flash(_("类别已添加"), "success")
            return redirect(url_for(".staff_categories", code=code))
    return render_template(
        "transparency/staff_categories.html",
        community=community,
        tree=tree,
        form=form,
        edit_forms={c.id: CategoryEditForm(obj=c, prefix=f"c{c.id}") for c in tree},
    )


@bp.route("/staff/transparency/categories/<int:category_id>", methods=["POST"])
@roles_required(*ROLES)
def staff_category_edit(category_id: int) -> ResponseReturnValue:
    category = db.session.get(spending.SpendingCategory, category_id)
    if category is None or not spending.can_edit(current_user, category.community_id):
        abort(404)
    community = db.session.get(Community, category.community_id)
    assert community is not None  # noqa: S101
    form = CategoryEditForm(prefix=f"c{category.id}")
    if form.validate_on_submit():
        try:
            spending.update_category(
                db.session,
                category=category,
                name=form.name.data,
                active=form.active.data,
                actor=current_user,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("已保存"), "success")
    else:
        flash(_("名称不能为空，且不超过 60 字"), "error")
    return redirect(url_for(".staff_categories", code=community.code))


# --- budgets ----------------------------------------------------------------------------


@bp.route("/staff/transparency/<code>/budgets", methods=["GET", "POST"])
@roles_required(*ROLES)
def staff_budgets(code: str) -> ResponseReturnValue:
    community = _community(code)
    if spending.ensure_default_categories(db.session, community=community):
        db.session.commit()
    form = BudgetStartForm()
    if request.method == "GET":
        form.year.data = community_today(community).year
    if form.validate_on_submit():
        try:
            budget = budgets.start_budget(
                db.session,
                community=community,
                year=form.year.data,
                reason=form.reason.data or "",
                actor=current_user,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            return redirect(url_for(".staff_budget_detail", budget_id=budget.id))
    return render_template(
        "transparency/staff_budgets.html",
        community=community,
        form=form,
        budgets=budgets.list_budgets(db.session, community_id=community.id),
    )


def budget_lines_form(top_ids: list[int], data: dict[str, Any] | None = None) -> FlaskForm:
    """A form with one yuan field per top-level category (named line_<id>)."""

    class LinesForm(FlaskForm):
        note = StringField(_l("说明"), validators=[Optional(), Length(max=1000)])

    for category_id in top_ids:
        setattr(LinesForm, f"line_{category_id}", YuanField(str(category_id)))
    return LinesForm(data=data)


@bp.route("/staff/transparency/budgets/<int:budget_id>", methods=["GET", "POST"])
@roles_required(*ROLES)
def staff_budget_detail(budget_id: int) -> ResponseReturnValue:
    budget = budgets.get_scoped_budget(db.session, user=current_user, budget_id=budget_id)
    if budget is None:
        abort(404)
    community = db.session.get(Community, budget.community_id)
    assert community is not None  # noqa: S101
    tops = spending.top_categories(db.session, community_id=community.id)
    current = {line.category_id: line.amount_fen for line in budget.lines}
    data: dict[str, Any] = {"note": budget.note}
    for c in tops:
        if c.id in current:
            data[f"line_{c.id}"] = fen_to_yuan_str(current[c.id])
    form = budget_lines_form([c.id for c in tops], data=None if request.method == "POST" else data)
    if request.method == "POST" and budget.status != RecordStatus.DRAFT:
        abort(409)
    if form.validate_on_submit():
        amounts = {c.id: getattr(form, f"line_{c.id}").fen for c in tops}
        try:
            budgets.set_lines(
                db.session,
                budget=budget,
                amounts=amounts,
                note=form.note.data or "",
                actor=current_user,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("预算草稿已保存"), "success")
            return redirect(url_for(".staff_budget_detail", budget_id=budget.id))
    entry = publication.latest_for(
        db.session, community_id=community.id, kind=budgets.KIND_BUDGET, record_ids=[budget.id]
    ).get(budget.id)
    return render_template(
        "transparency/staff_budget_detail.html",
        community=community,
        budget=budget,
        tops=tops,
        current=current,
        form=form,
        entry=entry,
    )


@bp.route("/staff/transparency/budgets/<int:budget_id>/<action>", methods=["POST"])
@roles_required(*ROLES)
def staff_budget_action(budget_id: int, action: str) -> ResponseReturnValue:
    budget = budgets.get_scoped_budget(db.session, user=current_user, budget_id=budget_id)
    if budget is None or action not in ("publish", "delete"):
        abort(404)
    community = db.session.get(Community, budget.community_id)
    assert community is not None  # noqa: S101
    try:
        if action == "publish":
            budgets.publish_budget(
                db.session, budget=budget, community=community, actor=current_user, now=now_utc()
            )
        else:
            budgets.delete_budget_draft(
                db.session, budget=budget, actor=current_user, now=now_utc()
            )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".staff_budget_detail", budget_id=budget_id))
    db.session.commit()
    if action == "publish":
        flash(_("预算已公开"), "success")
        return redirect(url_for(".staff_budget_detail", budget_id=budget_id))
    flash(_("草稿已删除"), "success")
    return redirect(url_for(".staff_budgets", code=community.code))


# --- common revenue and maintenance fund ------------------------------------------------


def _fund_form(account: str, obj: Any = None, community: Community | None = None) -> FundForm:
    form = FundForm(obj=obj)
    if obj is not None and request.method == "GET":
        form.vote_id.data = obj.vote_id or 0
    community_id = community.id if community is not None else getattr(obj, "community_id", None)
    passed = governance.passed_votes(db.session, community_id=community_id) if community_id else []
    form.vote_id.choices = choices(
        [(0, _l("（不关联：应急使用或其他）"))] + [(v.id, f"#{v.id} {v.title}") for v in passed]
    )
    form.direction.choices = choices([(d, label) for d, label in funds.DIRECTION_LABELS.items()])
    form.kind.choices = choices(
        [
            (k, f"{funds.DIRECTION_LABELS[d]} · {label}")
            for (a, d), pairs in funds.KINDS.items()
            if a == account
            for k, label in pairs
        ]
    )
    return form


def _fund_values(form: FundForm, account: str) -> dict[str, Any]:
    return {
        "account": account,
        "direction": form.direction.data,
        "kind": form.kind.data,
        "occurred_on": form.occurred_on.data,
        "amount_fen": form.amount.fen,
        "counterparty": form.counterparty.data or "",
        "description": form.description.data or "",
        "approval_ref": form.approval_ref.data or "",
        "vote_id": form.vote_id.data or None,
    }


@bp.route("/staff/transparency/<code>/funds")
@roles_required(*ROLES)
def staff_funds(code: str) -> ResponseReturnValue:
    community = _community(code)
    account = request.args.get("account", FundAccount.COMMON_REVENUE)
    if account not in set(FundAccount):
        abort(404)
    movements = funds.list_movements(
        db.session, community_id=community.id, account=account, published_only=False
    )
    return render_template(
        "transparency/staff_funds.html",
        community=community,
        account=account,
        account_labels=funds.ACCOUNT_LABELS,
        kind_labels=funds.KIND_LABELS,
        direction_labels=funds.DIRECTION_LABELS,
        movements=movements,
        replaced=funds.superseded_by(db.session, [m.id for m in movements]),
    )


@bp.route("/staff/transparency/<code>/funds/new", methods=["GET", "POST"])
@roles_required(*ROLES)
def staff_fund_new(code: str) -> ResponseReturnValue:
    community = _community(code)
    account = request.args.get("account", FundAccount.COMMON_REVENUE)
    if account not in set(FundAccount):
        abort(404)
    form = _fund_form(account, community=community)
    if request.method == "GET":
        form.occurred_on.data = community_today(community)
    if form.validate_on_submit():
        now = now_utc()
        try:
            movement = funds.create_movement(
                db.session,
                community=community,
                actor=current_user,
                now=now,
                today=community_today(community),
                **_fund_values(form, account),
            )
            _attach_files(
                lambda **kw: funds.add_evidence(db.session, movement=movement, **kw),
                now,
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存为草稿。核对无误后点击“公开”。"), "success")
            return redirect(url_for(".staff_fund_detail", movement_id=movement.id))
    return render_template(
        "transparency/staff_fund_form.html",
        community=community,
        form=form,
        account=account,
        account_labels=funds.ACCOUNT_LABELS,
        movement=None,
    )


def _movement(movement_id: int) -> FundMovement:
    movement = funds.get_scoped_movement(db.session, user=current_user, movement_id=movement_id)
    if movement is None:
        abort(404)
    return movement


@bp.route("/staff/transparency/funds/<int:movement_id>", methods=["GET", "POST"])
@roles_required(*ROLES)
def staff_fund_detail(movement_id: int) -> ResponseReturnValue:
    movement = _movement(movement_id)
    community = db.session.get(Community, movement.community_id)
    assert community is not None  # noqa: S101
    form = _fund_form(movement.account, obj=movement)
    if request.method == "GET":
        form.amount.data = fen_to_yuan_str(movement.amount_fen)
    if request.method == "POST" and form.validate_on_submit():
        now = now_utc()
        try:
            funds.update_movement(
                db.session,
                movement=movement,
                actor=current_user,
                now=now,
                today=community_today(community),
                correction_reason=form.correction_reason.data,
                **_fund_values(form, movement.account),
            )
            _attach_files(
                lambda **kw: funds.add_evidence(db.session, movement=movement, **kw),
                now,
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存"), "success")
            return redirect(url_for(".staff_fund_detail", movement_id=movement.id))
    entry = publication.latest_for(
        db.session, community_id=community.id, kind=movement.account, record_ids=[movement.id]
    ).get(movement.id)
    return render_template(
        "transparency/staff_fund_form.html",
        community=community,
        form=form,
        account=movement.account,
        account_labels=funds.ACCOUNT_LABELS,
        kind_labels=funds.KIND_LABELS,
        direction_labels=funds.DIRECTION_LABELS,
        movement=movement,
        entry=entry,
        correct_form=CorrectionStartForm(),
        replaced=funds.superseded_by(db.session, [movement.id]).get(movement.id),
    )


@bp.route("/staff/transparency/funds/<int:movement_id>/<action>", methods=["POST"])
@roles_required(*ROLES)
def staff_fund_action(movement_id: int, action: str) -> ResponseReturnValue:
    movement = _movement(movement_id)
    community = db.session.get(Community, movement.community_id)
    assert community is not None  # noqa: S101
    now = now_utc()
    target = url_for(".staff_fund_detail", movement_id=movement_id)
    try:
        if action == "publish":
            funds.publish_movement(
                db.session, movement=movement, community=community, actor=current_user, now=now
            )
            message = _("已公开，并已写入公示记录链")
        elif action == "delete":
            funds.delete_draft(db.session, movement=movement, actor=current_user, now=now)
            message = _("草稿已删除")
            target = url_for(".staff_funds", code=community.code, account=movement.account)
        elif action == "correct":
            form = CorrectionStartForm()
            if not form.validate_on_submit():
                raise DomainError(_("请填写更正原因"))
            correction = funds.start_correction(
                db.session,
                movement=movement,
                reason=form.reason.data,
                retract=form.retract.data,
                actor=current_user,
                now=now,
            )
            message = _("已创建更正草稿：修改后公开，原记录将标为“已更正”并保留")
            target = url_for(".staff_fund_detail", movement_id=correction.id)
        else:
            abort(404)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".staff_fund_detail", movement_id=movement_id))
    db.session.commit()
    flash(message, "success")
    return redirect(target)


# --- annual statements ------------------------------------------------------------------


@bp.route("/staff/transparency/<code>/statements", methods=["GET", "POST"])
@roles_required(*ROLES)
def staff_statements(code: str) -> ResponseReturnValue:
    community = _community(code)
    form = StatementForm()
    today = community_today(community)
    if request.method == "GET":
        form.year.data = today.year - 1
        collected = queries.collected_in_year(
            db.session, community_id=community.id, year=today.year - 1
        )
        if collected is not None:
            form.fee_income.data = fen_to_yuan_str(collected)
    if form.validate_on_submit():
        try:
            statement = statements.draft_statement(
                db.session,
                community=community,
                year=form.year.data,
                fee_income_fen=form.fee_income.fen or 0,
                other_income_fen=form.other_income.fen or 0,
                note=form.note.data or "",
                reason=form.reason.data or "",
                actor=current_user,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            return redirect(url_for(".staff_statement_detail", statement_id=statement.id))
    return render_template(
        "transparency/staff_statements.html",
        community=community,
        form=form,
        statements=statements.list_statements(
            db.session, community_id=community.id, published_only=False
        ),
        billing_missing=queries.billing_service() is None,
    )


@bp.route("/staff/transparency/statements/<int:statement_id>", methods=["GET", "POST"])
@roles_required(*ROLES)
def staff_statement_detail(statement_id: int) -> ResponseReturnValue:
    statement = statements.get_scoped_statement(
        db.session, user=current_user, statement_id=statement_id
    )
    if statement is None:
        abort(404)
    community = db.session.get(Community, statement.community_id)
    assert community is not None  # noqa: S101
    form = StatementForm(obj=statement)
    if request.method == "GET":
        form.fee_income.data = fen_to_yuan_str(statement.fee_income_fen)
        form.other_income.data = fen_to_yuan_str(statement.other_income_fen)
    if request.method == "POST":
        form.year.data = statement.year
    if form.validate_on_submit():
        try:
            statements.update_statement(
                db.session,
                statement=statement,
                community=community,
                fee_income_fen=form.fee_income.fen or 0,
                other_income_fen=form.other_income.fen or 0,
                note=form.note.data or "",
                actor=current_user,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存（支出数据已按最新公开记录重新汇总）"), "success")
            return redirect(url_for(".staff_statement_detail", statement_id=statement.id))
    return render_template(
        "transparency/staff_statement_detail.html",
        community=community,
        statement=statement,
        form=form,
    )


@bp.route("/staff/transparency/statements/<int:statement_id>/<action>", methods=["POST"])
@roles_required(*ROLES)
def staff_statement_action(statement_id: int, action: str) -> ResponseReturnValue:
    statement = statements.get_scoped_statement(
        db.session, user=current_user, statement_id=statement_id
    )
    if statement is None or action not in ("publish", "delete"):
        abort(404)
    community = db.session.get(Community, statement.community_id)
    assert community is not None  # noqa: S101
    try:
        if action == "publish":
            statements.publish_statement(
                db.session,
                statement=statement,
                community=community,
                actor=current_user,
                now=now_utc(),
            )
        else:
            statements.delete_statement_draft(
                db.session, statement=statement, actor=current_user, now=now_utc()
            )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".staff_statement_detail", statement_id=statement_id))
    db.session.commit()
    if action == "publish":
        flash(_("年度收支报告已公开"), "success")
        return redirect(url_for(".staff_statement_detail", statement_id=statement_id))
    flash(_("草稿已删除"), "success")
    return redirect(url_for(".staff_statements", code=community.code))
