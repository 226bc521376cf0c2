from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal import requestmemo
from portal.communities import service
from portal.communities.forms import CommunityForm, NewCommunityForm, UnitForm
from portal.communities.models import Unit
from portal.domains import NavItem
from portal.errors import DomainError
from portal.extensions import db
from portal.forms import attach_error
from portal.security import public, roles_required
from portal.timeutil import now_utc

bp = Blueprint("communities", __name__)


def owned_units() -> list[Unit]:
    """The signed-in user's current units, read once per request (the page, the menu badges
    and the tab bar all ask)."""
    return requestmemo.memo(
        ("owned_units", current_user.id), lambda: service.units_of(db.session, current_user)
    )


STAFF_VIEW_ROLES = ("manager", "cs", "finance", "collector", "engineer", "committee")
NAV = [NavItem("communities.community_list", _l("小区管理"), STAFF_VIEW_ROLES, order=90)]
# app.extensions key of the renderer of /c/<code>: the transparency page, which registers
# itself there (transparency sits above communities in DOMAINS, so this view cannot import it).
PUBLIC_PAGE = "clearfee_community_page"


@bp.route("/c/<code>")
@public
def community_public(code: str) -> ResponseReturnValue:
    community = service.visible_community(db.session, code=code, user=current_user)
    if community is None:
        abort(404)
    render = current_app.extensions.get(PUBLIC_PAGE)
    if render is not None:  # the transparency page is the community's public face
        return render(community)
    counts = service.community_counts(db.session, community)
    return render_template("communities/community_public.html", community=community, counts=counts)


@bp.route("/staff/communities")
@roles_required(*STAFF_VIEW_ROLES)
def community_list() -> ResponseReturnValue:
    communities = service.staff_communities(db.session, current_user)
    rows = [(c, service.community_counts(db.session, c)) for c in communities]
    return render_template("communities/community_list.html", rows=rows)


@bp.route("/staff/communities/new", methods=["GET", "POST"])
@roles_required("admin")
def community_new() -> ResponseReturnValue:
    form = NewCommunityForm(
        data={
            "tier_l1_days": 1,
            "tier_l2_days": 30,
            "tier_l3_days": 60,
            "tier_l4_days": 90,
            "notice_period_days": 30,
            "is_public": True,
        }
    )
    if form.validate_on_submit():
        fields = {name: form[name].data for name in service.EDITABLE_FIELDS if name in form}
        try:
            community = service.create_community(
                db.session, code=form.code.data, now=now_utc(), actor_id=current_user.id, **fields
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("小区已创建"), "success")
            return redirect(url_for(".community_edit", code=community.code))
    return render_template("communities/community_new.html", form=form)


@bp.route("/staff/communities/<code>", methods=["GET", "POST"])
@roles_required("manager")
def community_edit(code: str) -> ResponseReturnValue:
    community = service.get_scoped_community(db.session, user=current_user, code=code)
    if community is None:
        abort(404)
    form = CommunityForm(obj=community)
    if form.validate_on_submit():
        fields = {name: form[name].data for name in service.EDITABLE_FIELDS}
        try:
            changes = service.update_community(
                db.session, community=community, actor=current_user, now=now_utc(), **fields
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存") if changes else _("没有修改"), "success" if changes else "info")
            return redirect(url_for(".community_edit", code=community.code))
    counts = service.community_counts(db.session, community)
    return render_template(
        "communities/community_edit.html", community=community, form=form, counts=counts
    )


@bp.route("/staff/communities/<code>/units")
@roles_required(*STAFF_VIEW_ROLES)
def unit_list(code: str) -> ResponseReturnValue:
    community = service.get_scoped_community(
        db.session, user=current_user, code=code, roles=STAFF_VIEW_ROLES
    )
    if community is None:
        abort(404)
    search = request.args.get("q", "")[:32]
    page = service.list_units(
        db.session, community=community, search=search, page=request.args.get("page", 1, type=int)
    )
    can_edit = current_user.is_admin or community.id in current_user.community_ids("manager")
    return render_template(
        "communities/unit_list.html",
        community=community,
        page=page,
        search=search,
        can_edit=can_edit,
    )


@bp.route("/staff/units/<int:unit_id>", methods=["GET", "POST"])
@roles_required("manager")
def unit_edit(unit_id: int) -> ResponseReturnValue:
    unit = db.session.get(Unit, unit_id)
    if (
        unit is None
        or service.get_scoped_community(db.session, user=current_user, code=unit.community.code)
        is None
    ):
        abort(404)
    form = UnitForm(obj=unit)
    if form.validate_on_submit():
        try:
            service.update_unit(
                db.session,
                unit=unit,
                actor=current_user,
                now=now_utc(),
                area_m2=form.area_m2.data,
                property_type=form.property_type.data,
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存"), "success")
            return redirect(url_for(".unit_list", code=unit.community.code))
    return render_template("communities/unit_edit.html", unit=unit, form=form)
