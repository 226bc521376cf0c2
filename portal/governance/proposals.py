"""Proposals for the common revenue (participatory budget): propose, support, shortlist, vote.

Common revenue (公共收益: lift advertising, parking rent) belongs to the owners (Civil Code
art. 282), so its use is theirs to decide: an owner proposes with an estimated cost, others
support, the committee shortlists, and the shortlist goes to an owners' vote.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import service as audit
from portal.communities.models import Community, Ownership, Unit
from portal.errors import Conflict, DomainError, PermissionDenied
from portal.governance import service as votes
from portal.governance.models import (
    Matter,
    Proposal,
    ProposalStatus,
    ProposalSupport,
    Vote,
    VoteStatus,
)
from portal.money import format_fen
from portal.pagination import Page, paginate

MAX_COST_FEN = 100_000_000_00  # ¥100 million: beyond any community's common revenue
NONE_OF_THESE = "以上均不同意"

STATUS_LABELS: dict[str, Any] = {
    ProposalStatus.SUBMITTED: _l("征集支持中"),
    ProposalStatus.SHORTLISTED: _l("已入围"),
    ProposalStatus.DECLINED: _l("未入围"),
    ProposalStatus.IN_VOTE: _l("表决中"),
    ProposalStatus.CHOSEN: _l("已选中"),
    ProposalStatus.NOT_CHOSEN: _l("未选中"),
}


def parse_cost(text: str | None) -> int:
    """An estimated cost in yuan as integer fen; refuses empty, negative, zero, sub-fen."""
    raw = (text or "").strip().replace(",", "").replace("，", "")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise DomainError(
            _l("请输入估算费用（元），最多两位小数"), field="estimated_cost", code="bad_cost"
        ) from exc
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise DomainError(
            _l("请输入估算费用（元），最多两位小数"), field="estimated_cost", code="bad_cost"
        )
    fen = int(value * 100)
    check_cost(fen)
    return fen


def check_cost(fen: int) -> None:
    if fen <= 0:
        raise DomainError(
            _l("估算费用必须大于零"), field="estimated_cost", code="cost_not_positive"
        )
    if fen > MAX_COST_FEN:
        raise DomainError(_l("估算费用过大"), field="estimated_cost", code="cost_too_large")


def is_owner_in(session: Session, *, user: User, community_id: int) -> bool:
    """Whether the user currently owns a unit in the community."""
    return (
        session.scalar(
            select(Ownership.id)
            .join(Unit, Unit.id == Ownership.unit_id)
            .where(
                Ownership.user_id == user.id,
                Ownership.ended_on.is_(None),
                Unit.community_id == community_id,
            )
            .limit(1)
        )
        is not None
    )


def submit_proposal(
    session: Session,
    *,
    community: Community,
    author: User,
    title: str,
    description: str,
    estimated_cost_fen: int,
    now: datetime,
) -> Proposal:
    """An owner's proposal for using the common revenue, with a positive estimated cost."""
    if not is_owner_in(session, user=author, community_id=community.id):
        raise PermissionDenied(_l("只有本小区业主可以提出提案"), code="not_owner")
    title = " ".join((title or "").split())
    if not title or len(title) > 200:
        raise DomainError(
            _l("请填写项目名称（不超过 200 个字符）"), field="title", code="bad_title"
        )
    check_cost(estimated_cost_fen)
    proposal = Proposal(
        community_id=community.id,
        author_id=author.id,
        title=title,
        description=(description or "").strip(),
        estimated_cost_fen=estimated_cost_fen,
        status=ProposalStatus.SUBMITTED,
        supporters=0,
        created_at=now,
    )
    session.add(proposal)
    session.flush()
    return proposal


def support_proposal(session: Session, *, proposal: Proposal, user: User, now: datetime) -> None:
    """One owner's support, once per proposal, while it is open for support."""
    if not is_owner_in(session, user=user, community_id=proposal.community_id):
        raise PermissionDenied(_l("只有本小区业主可以支持提案"), code="not_owner")
    if proposal.status not in (ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED):
        raise Conflict(_l("该提案已不再征集支持"), code="not_open")
    try:
        with session.begin_nested():
            session.add(ProposalSupport(proposal_id=proposal.id, user_id=user.id, created_at=now))
    except IntegrityError as exc:
        raise Conflict(_l("您已支持过这个提案"), code="already_supported") from exc
    session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id)
        .values(supporters=Proposal.supporters + 1)
    )
    session.flush()
    session.refresh(proposal)


def supported_by(session: Session, *, user: User, proposal_ids: list[int]) -> set[int]:
    if not proposal_ids:
        return set()
    return set(
        session.scalars(
            select(ProposalSupport.proposal_id).where(
                ProposalSupport.user_id == user.id, ProposalSupport.proposal_id.in_(proposal_ids)
            )
        )
    )


def _transition(
    session: Session,
    *,
    proposal: Proposal,
    actor: User,
    to: str,
    allowed: tuple[str, ...],
    note: str,
    now: datetime,
) -> Proposal:
    moved = session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id, Proposal.status.in_(allowed))
        .values(status=to, decided_note=(note or "").strip()[:255])
    ).rowcount
    if moved != 1:
        raise Conflict(_l("提案当前状态不能这样处理"), code="bad_state")
    audit.record(
        session,
        actor_id=actor.id,
        action=f"governance.proposal_{to}",
        target_type="proposal",
        target_id=proposal.id,
        community_id=proposal.community_id,
        now=now,
        details={"note": note or ""},
    )
    session.flush()
    session.refresh(proposal)
    return proposal


def shortlist(
    session: Session, *, proposal: Proposal, actor: User, note: str = "", now: datetime
) -> Proposal:
    """The committee puts a proposal on the shortlist for the next vote."""
    return _transition(
        session,
        proposal=proposal,
        actor=actor,
        to=ProposalStatus.SHORTLISTED,
        allowed=(ProposalStatus.SUBMITTED,),
        note=note,
        now=now,
    )


def decline(
    session: Session, *, proposal: Proposal, actor: User, note: str, now: datetime
) -> Proposal:
    """The committee leaves a proposal off the shortlist, saying why."""
    if not (note or "").strip():
        raise DomainError(_l("请说明未入围的理由"), field="note", code="note_required")
    return _transition(
        session,
        proposal=proposal,
        actor=actor,
        to=ProposalStatus.DECLINED,
        allowed=(ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED),
        note=note,
        now=now,
    )


def vote_on_shortlist(
    session: Session,
    *,
    community: Community,
    actor: User,
    title: str,
    closes_at: datetime | None,
    now: datetime,
) -> Vote:
    """A draft vote on the use of the common revenue: one option per shortlisted proposal,
    and 'none of these'."""
    shortlisted = list(
        session.scalars(
            select(Proposal)
            .where(
                Proposal.community_id == community.id,
                Proposal.status == ProposalStatus.SHORTLISTED,
            )
            .order_by(Proposal.id)
        )
    )
    if not shortlisted:
        raise DomainError(_l("没有入围的提案，不能发起表决"), code="no_shortlist")
    labels = [f"{p.title}（{format_fen(p.estimated_cost_fen)}）" for p in shortlisted]
    vote = votes.create_vote(
        session,
        community=community,
        actor=actor,
        title=title,
        matter=Matter.REVENUE_USE,
        closes_at=closes_at,
        options=[*labels, NONE_OF_THESE],
        description="\n".join(
            f"{label}：{p.description}" for label, p in zip(labels, shortlisted, strict=True)
        ),
        approving=set(labels),
        proposals=dict(zip(labels, (p.id for p in shortlisted), strict=True)),
        now=now,
    )
    session.execute(
        update(Proposal)
        .where(Proposal.id.in_([p.id for p in shortlisted]))
        .values(status=ProposalStatus.IN_VOTE)
    )
    session.flush()
    return vote


def get_proposal(session: Session, *, community: Community, proposal_id: int) -> Proposal | None:
    proposal = session.get(Proposal, proposal_id)
    return proposal if proposal is not None and proposal.community_id == community.id else None


def list_proposals(
    session: Session, *, community: Community, page: int = 1, per_page: int = 30
) -> Page[Proposal]:
    """The community's proposals, most supported first."""
    query = (
        select(Proposal)
        .where(Proposal.community_id == community.id)
        .order_by(Proposal.supporters.desc(), Proposal.id.desc())
    )
    return paginate(session, query, page=page, per_page=per_page)


def votes_of(session: Session, *, proposal_ids: list[int]) -> dict[int, int]:
    """proposal id → id of the vote it went to (for the proposal → vote → spending chain)."""
    from portal.governance.models import VoteOption

    if not proposal_ids:
        return {}
    rows = session.execute(
        select(VoteOption.proposal_id, VoteOption.vote_id)
        .join(Vote, Vote.id == VoteOption.vote_id)
        .where(VoteOption.proposal_id.in_(proposal_ids), Vote.status != VoteStatus.DRAFT)
    )
    return {pid: vid for pid, vid in rows if pid is not None}


def vote_of(session: Session, *, proposal: Proposal) -> Vote | None:
    """The vote a proposal went to, if any."""
    from portal.governance.models import VoteOption

    return session.scalar(
        select(Vote)
        .join(VoteOption, VoteOption.vote_id == Vote.id)
        .where(VoteOption.proposal_id == proposal.id)
    )
