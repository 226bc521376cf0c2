"""Owners' votes on phones, the committee's and manager's vote pages, results and receipts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from portal.communities import service as communities
from portal.communities.models import Community, Unit
from portal.domains import NavItem
from portal.errors import DomainError
from portal.extensions import db
from portal.forms import attach_error, choices
from portal.governance import proposals as proposals_service
from portal.governance import rewards as rewards_service
from portal.governance import service
from portal.governance.forms import (
    ActionForm,
    BallotForm,
    DecideForm,
    ProposalForm,
    RewardPolicyForm,
    ShortlistVoteForm,
    VerifyForm,
    VoteForm,
)
from portal.governance.models import Matter, Vote, VoteKind, VoteStatus
from portal.security import public, roles_required
from portal.timeutil import now_utc, to_local, zone
from portal.uploads import service as uploads
from portal.uploads.models import StoredFile

bp = Blueprint("governance", __name__)

STAFF_ROLES = ("manager", "committee")
VIEW_ROLES = ("manager", "committee", "cs")
NAV = [
    NavItem("governance.my_votes", _l("业主表决"), ("owner",), order=24),
    NavItem("governance.staff_home", _l("表决与共治"), STAFF_ROLES, order=67),
]
STATUS_LABELS: dict[str, Any] = {
    VoteStatus.DRAFT: _l("草稿"),
    VoteStatus.OPEN: _l("投票中"),
    VoteStatus.CLOSED: _l("已截止"),
}
KIND_RULES: dict[str, Any] = {
    VoteKind.ORDINARY: _l(
        "须专有部分面积占比三分之二以上且人数占比三分之二以上的业主参与表决，"
        "并经参与表决的专有部分面积过半数且参与表决人数过半数的业主同意（民法典第二百七十八条）。"
    ),
    VoteKind.MAJOR: _l(
        "须专有部分面积占比三分之二以上且人数占比三分之二以上的业主参与表决，"
        "并经参与表决的专有部分面积四分之三以上且参与表决人数四分之三以上的业主同意"
        "（民法典第二百七十八条）。"
    ),
}


@bp.app_template_filter("vote_status")
def _vote_status(value: str) -> str:
    return str(STATUS_LABELS.get(value, value))


@bp.app_template_filter("vote_matter")
def _vote_matter(value: str) -> str:
    return str(service.MATTER_LABELS.get(value, value))


def _member_community(code: str) -> Community:
    """The community when the user owns a unit there or is its staff; else 404."""
    community = communities.get_community(db.session, code)
    if community is None:
        abort(404)
    if any(u.community_id == community.id for u in communities.units_of(db.session, current_user)):
        return community
    if communities.get_scoped_community(db.session, user=current_user, code=code, roles=VIEW_ROLES):
        return community
    abort(404)


def _vote_of(community: Community, vote_id: int, *, drafts: bool = False) -> Vote:
    vote = service.get_vote(db.session, community=community, vote_id=vote_id)
    if vote is None or (vote.status == VoteStatus.DRAFT and not drafts):
        abort(404)
    return vote


def _staff_community(code: str) -> Community:
    community = communities.get_scoped_community(
        db.session, user=current_user, code=code, roles=STAFF_ROLES
    )
    if community is None:
        abort(404)
    return community


def _local(value: datetime | None, community: Community) -> datetime | None:
    return None if value is None else value.replace(tzinfo=zone(community.timezone))


# ---------------------------------------------------------------- owners


@bp.route("/votes")
@roles_required("owner")
def my_votes() -> ResponseReturnValue:
    units = communities.units_of(db.session, current_user)
    mine = {u.community_id: u.community for u in units}
    now = now_utc()
    rows = []
    for community in mine.values():
        for vote in service.list_votes(db.session, community=community):
            own = [u for u in units if u.community_id == community.id]
            ballots = service.ballots_of(db.session, vote=vote, unit_ids=[u.id for u in own])
            rows.append((community, vote, len(ballots), len(own), service.is_closed(vote, now)))
    return render_template("governance/my_votes.html", rows=rows)


@bp.route("/c/<code>/votes")
def vote_list(code: str) -> ResponseReturnValue:
    community = _member_community(code)
    votes = service.list_votes(db.session, community=community)
    return render_template(
        "governance/vote_list.html", community=community, votes=votes, now=now_utc()
    )


def _owner_context(community: Community, vote: Vote) -> dict[str, Any]:
    units = [
        u for u in communities.units_of(db.session, current_user) if u.community_id == community.id
    ]
    eligible = service.eligible_unit_ids(db.session, vote=vote)
    ballots = service.ballots_of(db.session, vote=vote, unit_ids=[u.id for u in units])
    labels = {o.id: o.label for o in vote.options}
    return {
        "units": units,
        "eligible": eligible,
        "ballots": ballots,
        "option_labels": labels,
    }


def _ballot_form(vote: Vote) -> BallotForm:
    form = BallotForm()
    form.option.choices = choices([(o.code, o.label) for o in vote.options])
    return form


@bp.route("/c/<code>/votes/<int:vote_id>")
def vote_detail(code: str, vote_id: int) -> ResponseReturnValue:
    community = _member_community(code)
    vote = _vote_of(community, vote_id)
    now = now_utc()
    return render_template(
        "governance/vote_detail.html",
        community=community,
        vote=vote,
        closed=service.is_closed(vote, now),
        rule=KIND_RULES[vote.kind],
        form=_ballot_form(vote),
        result=service.published_result(db.session, vote=vote),
        **_owner_context(community, vote),
    )


@bp.route("/c/<code>/votes/<int:vote_id>/document")
def vote_document(code: str, vote_id: int) -> ResponseReturnValue:
    community = _member_community(code)
    vote = _vote_of(community, vote_id, drafts=_is_staff(community))
    stored = db.session.get(StoredFile, vote.document_id) if vote.document_id else None
    if stored is None:
        abort(404)
    return uploads.send_stored(stored)


def _is_staff(community: Community) -> bool:
    return (
        communities.get_scoped_community(
            db.session, user=current_user, code=community.code, roles=STAFF_ROLES
        )
        is not None
    )


@bp.route("/c/<code>/votes/<int:vote_id>/ballot", methods=["POST"])
@roles_required("owner")
def ballot_cast(code: str, vote_id: int) -> ResponseReturnValue:
    community = _member_community(code)
    vote = _vote_of(community, vote_id)
    form = _ballot_form(vote)
    unit: Unit | None = None
    if (form.unit_id.data or "").isdigit():
        unit = communities.get_owned_unit(
            db.session, user=current_user, unit_id=int(form.unit_id.data)
        )
    if unit is None or unit.community_id != community.id:
        abort(404)  # another owner's unit looks like no unit at all
    if form.validate_on_submit():
        try:
            ballot = service.cast_ballot(
                db.session,
                vote=vote,
                user=current_user,
                unit_id=unit.id,
                option_code=form.option.data,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            receipt = ballot.receipt
            db.session.commit()
            flash(
                _(
                    "已为 %(unit)s 投票。回执码：%(receipt)s（请保存，截止后可凭它核验计票）",
                    unit=unit.code,
                    receipt=receipt,
                ),
                "success",
            )
            return redirect(url_for(".vote_detail", code=code, vote_id=vote.id))
    now = now_utc()
    return render_template(
        "governance/vote_detail.html",
        community=community,
        vote=vote,
        closed=service.is_closed(vote, now),
        rule=KIND_RULES[vote.kind],
        form=form,
        form_unit_id=unit.id,
        result=service.published_result(db.session, vote=vote),
        **_owner_context(community, vote),
    ), 422


@bp.route("/c/<code>/votes/<int:vote_id>/result")
def vote_result(code: str, vote_id: int) -> ResponseReturnValue:
    community = _member_community(code)
    vote = _vote_of(community, vote_id)
    result = service.published_result(db.session, vote=vote)
    if result is None:
        flash(_("表决截止后才公布结果"), "info")
        return redirect(url_for(".vote_detail", code=code, vote_id=vote.id))
    return render_template(
        "governance/vote_result.html",
        community=community,
        vote=vote,
        result=result,
        rule=KIND_RULES[vote.kind],
    )


@bp.route("/c/<code>/votes/<int:vote_id>/verify", methods=["GET", "POST"])
@public
def vote_verify(code: str, vote_id: int) -> ResponseReturnValue:
    community = communities.get_community(db.session, code)
    if community is None:
        abort(404)
    vote = _vote_of(community, vote_id)
    form = VerifyForm()
    form.option.choices = choices([(o.code, o.label) for o in vote.options])
    found: bool | None = None
    if form.validate_on_submit():
        try:
            found = service.verify_receipt(
                db.session, vote=vote, receipt=form.receipt.data, option_code=form.option.data
            )
        except DomainError as exc:
            attach_error(form, exc)
    result = service.published_result(db.session, vote=vote)
    return render_template(
        "governance/vote_verify.html",
        community=community,
        vote=vote,
        form=form,
        found=found,
        result=result,
    )


# ---------------------------------------------------------------- staff


@bp.route("/governance")
@roles_required(*STAFF_ROLES)
def staff_home() -> ResponseReturnValue:
    mine = communities.staff_communities(db.session, current_user, *STAFF_ROLES)
    if len(mine) == 1:
        return redirect(url_for(".staff_votes", code=mine[0].code))
    return render_template("governance/staff_home.html", communities=mine)


@bp.route("/governance/<code>/votes")
@roles_required(*STAFF_ROLES)
def staff_votes(code: str) -> ResponseReturnValue:
    community = _staff_community(code)
    votes = service.list_votes(db.session, community=community, include_drafts=True)
    return render_template(
        "governance/staff_votes.html", community=community, votes=votes, now=now_utc()
    )


@bp.route("/governance/<code>/votes/new", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def staff_vote_new(code: str) -> ResponseReturnValue:
    community = _staff_community(code)
    form = VoteForm()
    form.matter.choices = choices([(m.value, service.MATTER_LABELS[m]) for m in Matter])
    if form.validate_on_submit():
        upload = form.document.data
        try:
            document = (
                (uploads.read_upload(upload), upload.filename or "document")
                if upload is not None and getattr(upload, "filename", "")
                else None
            )
            vote = service.create_vote(
                db.session,
                community=community,
                actor=current_user,
                title=form.title.data,
                matter=form.matter.data,
                description=form.description.data or "",
                closes_at=_local(form.closes_at.data, community),
                options=(form.options.data or "").splitlines(),
                document=document,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("表决草稿已保存，核对无误后请开启投票"), "success")
            return redirect(url_for(".staff_vote_detail", code=code, vote_id=vote.id))
    status = 422 if request.method == "POST" else 200
    return render_template("governance/staff_vote_new.html", community=community, form=form), status


@bp.route("/governance/<code>/votes/<int:vote_id>")
@roles_required(*STAFF_ROLES)
def staff_vote_detail(code: str, vote_id: int) -> ResponseReturnValue:
    community = _staff_community(code)
    vote = _vote_of(community, vote_id, drafts=True)
    now = now_utc()
    return render_template(
        "governance/staff_vote_detail.html",
        community=community,
        vote=vote,
        turnout=service.turnout(db.session, vote=vote) if vote.status != VoteStatus.DRAFT else None,
        closed=service.is_closed(vote, now),
        result=service.published_result(db.session, vote=vote),
        rule=KIND_RULES[vote.kind],
        form=ActionForm(),
    )


def _staff_action(code: str, vote_id: int, action: str) -> ResponseReturnValue:
    community = _staff_community(code)
    vote = _vote_of(community, vote_id, drafts=True)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    now = now_utc()
    try:
        if action == "open":
            units = service.open_vote(db.session, vote=vote, actor=current_user, now=now)
            message = ngettext(
                "表决已开启，已邀请 %(n)s 户的业主投票",
                "表决已开启，已邀请 %(n)s 户的业主投票",
                units,
                n=units,
            )
        elif action == "remind":
            sent = service.remind_non_voters(db.session, vote=vote, actor=current_user, now=now)
            message = ngettext(
                "已向尚未投票的业主排队发送 %(n)s 条提醒",
                "已向尚未投票的业主排队发送 %(n)s 条提醒",
                sent,
                n=sent,
            )
        else:
            service.close_vote(db.session, vote=vote, actor=current_user, now=now)
            message = _("表决已截止，结果已计入公示日志")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for(".staff_vote_detail", code=code, vote_id=vote_id))


@bp.route("/governance/<code>/votes/<int:vote_id>/open", methods=["POST"])
@roles_required(*STAFF_ROLES)
def staff_vote_open(code: str, vote_id: int) -> ResponseReturnValue:
    return _staff_action(code, vote_id, "open")


@bp.route("/governance/<code>/votes/<int:vote_id>/remind", methods=["POST"])
@roles_required(*STAFF_ROLES)
def staff_vote_remind(code: str, vote_id: int) -> ResponseReturnValue:
    return _staff_action(code, vote_id, "remind")


@bp.route("/governance/<code>/votes/<int:vote_id>/close", methods=["POST"])
@roles_required(*STAFF_ROLES)
def staff_vote_close(code: str, vote_id: int) -> ResponseReturnValue:
    return _staff_action(code, vote_id, "close")


@bp.route("/governance/<code>/votes/<int:vote_id>/ballots.csv")
@roles_required(*STAFF_ROLES)
def staff_ballots_export(code: str, vote_id: int) -> ResponseReturnValue:
    community = _staff_community(code)
    vote = _vote_of(community, vote_id)
    if vote.status != VoteStatus.CLOSED:
        abort(409)  # the running totals stay hidden until the vote closes
    rows = service.ballot_rows(db.session, vote=vote)
    service.record_export(
        db.session,
        vote=vote,
        actor=current_user,
        rows=len(rows),
        now=now_utc(),
        ip=request.remote_addr,
    )
    db.session.commit()
    tz = zone(community.timezone)

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([_("房屋"), _("选项"), _("投票时间"), _("改票次数")])
        for row in rows:
            writer.writerow(
                [
                    row["unit"],
                    row["option"],
                    to_local(row["cast_at"], tz).strftime("%Y-%m-%d %H:%M"),
                    row["changes"],
                ]
            )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=vote-{vote.id}-ballots.csv"},
    )


# ---------------------------------------------------------------- proposals (公共收益)


@bp.app_template_filter("proposal_status")
def _proposal_status(value: str) -> str:
    return str(proposals_service.STATUS_LABELS.get(value, value))


@bp.route("/proposals")
@roles_required("owner")
def my_proposals() -> ResponseReturnValue:
    units = communities.units_of(db.session, current_user)
    mine = {u.community.code: u.community for u in units}
    if len(mine) == 1:
        return redirect(url_for(".proposal_list", code=next(iter(mine))))
    return render_template("governance/my_proposals.html", communities=list(mine.values()))


def _proposal_page(
    community: Community, form: ProposalForm, status: int = 200
) -> ResponseReturnValue:
    page = proposals_service.list_proposals(
        db.session, community=community, page=request.args.get("page", 1, type=int) or 1
    )
    supported = proposals_service.supported_by(
        db.session, user=current_user, proposal_ids=[p.id for p in page.items]
    )
    is_owner = proposals_service.is_owner_in(
        db.session, user=current_user, community_id=community.id
    )
    return render_template(
        "governance/proposal_list.html",
        community=community,
        page=page,
        vote_ids=proposals_service.votes_of(db.session, proposal_ids=[p.id for p in page.items]),
        supported=supported,
        is_owner=is_owner,
        form=form,
        action=ActionForm(),
    ), status


@bp.route("/c/<code>/proposals", methods=["GET", "POST"])
def proposal_list(code: str) -> ResponseReturnValue:
    community = _member_community(code)
    form = ProposalForm()
    if form.validate_on_submit():
        try:
            proposal = proposals_service.submit_proposal(
                db.session,
                community=community,
                author=current_user,
                title=form.title.data,
                description=form.description.data or "",
                estimated_cost_fen=proposals_service.parse_cost(form.estimated_cost.data),
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("提案已提交：%(t)s", t=proposal.title), "success")
            return redirect(url_for(".proposal_list", code=code))
    return _proposal_page(community, form, 422 if request.method == "POST" else 200)


@bp.route("/c/<code>/proposals/<int:proposal_id>/support", methods=["POST"])
def proposal_support(code: str, proposal_id: int) -> ResponseReturnValue:
    community = _member_community(code)
    proposal = proposals_service.get_proposal(
        db.session, community=community, proposal_id=proposal_id
    )
    if proposal is None or not ActionForm().validate_on_submit():
        abort(404)
    try:
        proposals_service.support_proposal(
            db.session, proposal=proposal, user=current_user, now=now_utc()
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("已支持该提案"), "success")
    return redirect(url_for(".proposal_list", code=code))


@bp.route("/governance/<code>/proposals", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def staff_proposals(code: str) -> ResponseReturnValue:
    community = _staff_community(code)
    form = ShortlistVoteForm()
    if form.validate_on_submit():
        try:
            vote = proposals_service.vote_on_shortlist(
                db.session,
                community=community,
                actor=current_user,
                title=form.title.data,
                closes_at=_local(form.closes_at.data, community),
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("已按入围提案生成表决草稿"), "success")
            return redirect(url_for(".staff_vote_detail", code=code, vote_id=vote.id))
    page = proposals_service.list_proposals(
        db.session, community=community, page=request.args.get("page", 1, type=int) or 1
    )
    return render_template(
        "governance/staff_proposals.html",
        community=community,
        page=page,
        form=form,
        decide=DecideForm(),
    ), (422 if request.method == "POST" else 200)


@bp.route("/governance/<code>/proposals/<int:proposal_id>/shortlist", methods=["POST"])
@roles_required(*STAFF_ROLES)
def staff_proposal_shortlist(code: str, proposal_id: int) -> ResponseReturnValue:
    return staff_proposal_decide(code, proposal_id, "shortlist")


@bp.route("/governance/<code>/proposals/<int:proposal_id>/decline", methods=["POST"])
@roles_required(*STAFF_ROLES)
def staff_proposal_decline(code: str, proposal_id: int) -> ResponseReturnValue:
    return staff_proposal_decide(code, proposal_id, "decline")


def staff_proposal_decide(code: str, proposal_id: int, action: str) -> ResponseReturnValue:
    community = _staff_community(code)
    proposal = proposals_service.get_proposal(
        db.session, community=community, proposal_id=proposal_id
    )
    form = DecideForm()
    if proposal is None or not form.validate_on_submit():
        abort(404)
    decide = proposals_service.shortlist if action == "shortlist" else proposals_service.decline
    try:
        decide(
            db.session,
            proposal=proposal,
            actor=current_user,
            note=form.note.data or "",
            now=now_utc(),
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("已处理提案：%(t)s", t=proposal.title), "success")
    return redirect(url_for(".staff_proposals", code=code))


# ---------------------------------------------------------------- rewards (缴费激励)


@bp.app_template_filter("reward_kind")
def _reward_kind(value: str) -> str:
    return str(rewards_service.KIND_LABELS.get(value, value))


@bp.route("/rewards")
@roles_required("owner")
def my_rewards() -> ResponseReturnValue:
    units = communities.units_of(db.session, current_user)
    by_community: dict[int, Any] = {}
    for unit in units:
        entry = by_community.setdefault(
            unit.community_id,
            {
                "community": unit.community,
                "policy": rewards_service.get_policy(db.session, community=unit.community),
                "units": [],
            },
        )
        entry["units"].append(unit)
    ids = [u.id for u in units]
    return render_template(
        "governance/my_rewards.html",
        rows=list(by_community.values()),
        grants=rewards_service.grants_of(db.session, unit_ids=ids),
        points=rewards_service.points_of(db.session, unit_ids=ids),
        unit_codes={u.id: u.code for u in units},
    )


@bp.route("/governance/<code>/rewards", methods=["GET", "POST"])
@roles_required("manager")
def staff_rewards(code: str) -> ResponseReturnValue:
    community = communities.get_scoped_community(
        db.session, user=current_user, code=code, roles=("manager",)
    )
    if community is None:
        abort(404)
    policy = rewards_service.get_policy(db.session, community=community)
    form = RewardPolicyForm()
    if request.method == "GET" and policy is not None:
        form.prepay_year_percent.data = str((policy.prepay_year_rate * 100).normalize())
        fen = policy.autopay_credit_fen
        form.autopay_credit.data = f"{fen // 100}.{fen % 100:02d}"
        form.early_points.data = policy.early_points
    if form.validate_on_submit():
        try:
            rewards_service.set_policy(
                db.session,
                community=community,
                actor=current_user,
                prepay_year_rate=rewards_service.parse_percent(form.prepay_year_percent.data),
                autopay_credit_fen=form.autopay_credit.fen or 0,
                early_points=form.early_points.data or 0,
                now=now_utc(),
            )
        except DomainError as exc:
            db.session.rollback()
            attach_error(form, exc)
        else:
            db.session.commit()
            flash(_("缴费激励已保存，业主缴费前即可看到"), "success")
            return redirect(url_for(".staff_rewards", code=code))
    return render_template(
        "governance/staff_rewards.html",
        community=community,
        form=form,
        policy=policy,
        totals=rewards_service.totals(db.session, community=community),
        account_name=rewards_service.reward_account_name(community),
    ), (422 if request.method == "POST" else 200)
