"""Votes of the owners (业主表决): create, open (eligibility fixed), ballots, close and publish."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import service as audit
from portal.communities.models import Community, Ownership, Unit
from portal.errors import Conflict, DomainError, NotFound, PermissionDenied
from portal.governance import tally
from portal.governance.models import (
    MAJOR_MATTERS,
    Ballot,
    Matter,
    Proposal,
    ProposalStatus,
    Vote,
    VoteKind,
    VoteOption,
    VoteStatus,
    VoteUnit,
)
from portal.notify import service as notify
from portal.notify.models import Category, Reason
from portal.publication import service as publication
from portal.timeutil import to_local, zone
from portal.uploads import service as uploads

PUBLICATION_KIND = "vote_result"
MAX_OPTIONS = 20
DEFAULT_OPTIONS = ("同意", "反对", "弃权")

MATTER_LABELS: dict[str, Any] = {
    Matter.RULES: _l("制定或修改管理规约、议事规则"),
    Matter.COMMITTEE: _l("选举或更换业主委员会"),
    Matter.SERVICE_COMPANY: _l("选聘、解聘物业服务企业"),
    Matter.FUND_USE: _l("使用专项维修资金"),
    Matter.FUND_RAISE: _l("筹集专项维修资金"),
    Matter.REBUILD: _l("改建、重建建筑物及其附属设施"),
    Matter.COMMON_BUSINESS: _l("改变共有部分用途或利用共有部分经营"),
    Matter.REVENUE_USE: _l("公共收益的使用"),
    Matter.FEE_CHANGE: _l("物业费标准调整"),
    Matter.OTHER: _l("其他共同管理事项"),
}


def kind_of(matter: str) -> str:
    """The majority a matter needs: art. 278 items 6-8 major, everything else ordinary."""
    return VoteKind.MAJOR if matter in MAJOR_MATTERS else VoteKind.ORDINARY


# ---------------------------------------------------------------- lookups


def get_vote(session: Session, *, community: Community, vote_id: int) -> Vote | None:
    """A vote of this community (None → 404)."""
    vote = session.get(Vote, vote_id)
    return vote if vote is not None and vote.community_id == community.id else None


def list_votes(
    session: Session, *, community: Community, include_drafts: bool = False
) -> list[Vote]:
    """The community's votes, newest first (drafts only for staff)."""
    query = select(Vote).where(Vote.community_id == community.id)
    if not include_drafts:
        query = query.where(Vote.status != VoteStatus.DRAFT)
    return list(session.scalars(query.order_by(Vote.id.desc())))


def is_closed(vote: Vote, now: datetime) -> bool:
    """No more ballots: closed, or past the closing time even before anyone closed it."""
    return vote.status == VoteStatus.CLOSED or (
        vote.status == VoteStatus.OPEN and now >= vote.closes_at
    )


def option_by_code(vote: Vote, code: str) -> VoteOption | None:
    return next((o for o in vote.options if o.code == code), None)


# ---------------------------------------------------------------- creating and opening


def _community(session: Session, community_id: int) -> Community:
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound(_l("小区不存在"))
    return community


def _check_future(closes_at: datetime | None, now: datetime) -> datetime:
    if closes_at is None:
        raise DomainError(_l("请填写截止时间"), field="closes_at", code="closes_at_missing")
    if closes_at.tzinfo is None:
        raise DomainError(_l("截止时间须带时区"), field="closes_at", code="closes_at_naive")
    if closes_at <= now:
        raise DomainError(_l("截止时间必须晚于现在"), field="closes_at", code="closes_at_in_past")
    return closes_at


def _clean_labels(labels: list[str]) -> list[str]:
    cleaned: list[str] = []
    for label in labels:
        text = " ".join((label or "").split())
        if not text:
            continue
        if len(text) > 200:
            raise DomainError(_l("选项不能超过 200 个字符"), field="options", code="option_long")
        if text in cleaned:
            raise DomainError(
                _l("选项重复：%(o)s", o=text), field="options", code="option_duplicate"
            )
        cleaned.append(text)
    if len(cleaned) < 2:
        raise DomainError(
            _l("表决至少需要两个选项（例如 同意、反对）"), field="options", code="no_options"
        )
    if len(cleaned) > MAX_OPTIONS:
        raise DomainError(_l("选项不能超过 20 个"), field="options", code="too_many_options")
    return cleaned


def create_vote(
    session: Session,
    *,
    community: Community,
    actor: User,
    title: str,
    matter: str,
    closes_at: datetime | None,
    options: list[str] | None = None,
    description: str = "",
    document: tuple[bytes, str] | None = None,
    approving: set[str] | None = None,
    proposals: dict[str, int] | None = None,
    now: datetime,
) -> Vote:
    """A draft vote with at least two options; its majority follows from the matter."""
    title = " ".join((title or "").split())
    if not title or len(title) > 200:
        raise DomainError(_l("请填写标题（不超过 200 个字符）"), field="title", code="bad_title")
    if matter not in set(Matter):
        raise DomainError(_l("请选择表决事项"), field="matter", code="bad_matter")
    _check_future(closes_at, now)
    labels = _clean_labels(list(options) if options is not None else list(DEFAULT_OPTIONS))
    # Default: the first option is the motion ("同意"), unless the caller says which approve.
    approving = approving if approving is not None else {labels[0]}
    document_id = None
    if document is not None:  # the plan, budget or quotes the owners decide on
        data, filename = document
        stored = uploads.store_upload(
            session,
            data=data,
            filename=filename,
            allowed=frozenset({"pdf", "image"}),
            uploaded_by_id=actor.id,
            now=now,
        )
        document_id = stored.id
    vote = Vote(
        community_id=community.id,
        title=title,
        description=(description or "").strip(),
        matter=matter,
        kind=kind_of(matter),
        status=VoteStatus.DRAFT,
        closes_at=closes_at,
        document_id=document_id,
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(vote)
    session.flush()
    for position, label in enumerate(labels):
        session.add(
            VoteOption(
                vote_id=vote.id,
                code=f"o{position + 1}",
                label=label,
                position=position,
                approves=label in approving,
                proposal_id=(proposals or {}).get(label),
            )
        )
    audit.record(
        session,
        actor_id=actor.id,
        action="governance.vote_create",
        target_type="vote",
        target_id=vote.id,
        community_id=community.id,
        now=now,
        details={"title": title, "matter": matter, "options": labels},
    )
    session.flush()
    session.refresh(vote)
    return vote


def _current_owners(session: Session, community_id: int) -> dict[int, set[int]]:
    """unit id → ids of its current owners, for every unit of the community."""
    owners: dict[int, set[int]] = {
        uid: set()
        for uid in session.scalars(select(Unit.id).where(Unit.community_id == community_id))
    }
    rows = session.execute(
        select(Ownership.unit_id, Ownership.user_id)
        .join(Unit, Unit.id == Ownership.unit_id)
        .where(Unit.community_id == community_id, Ownership.ended_on.is_(None))
    )
    for unit_id, user_id in rows:
        owners[unit_id].add(user_id)
    return owners


def open_vote(
    session: Session, *, vote: Vote, actor: User, now: datetime, invite_owners: bool = True
) -> int:
    """Open a draft: fix the eligible units (all the community's units, their areas and owner
    groups), invite their owners through the outbox; returns the number of units."""
    _check_future(vote.closes_at, now)
    claimed = session.execute(
        update(Vote)
        .where(Vote.id == vote.id, Vote.status == VoteStatus.DRAFT)
        .values(status=VoteStatus.OPEN, opens_at=now)
    ).rowcount
    if claimed != 1:
        raise Conflict(_l("只能开启草稿状态的表决"), code="not_draft")
    owners = _current_owners(session, vote.community_id)
    keys = tally.person_keys(owners)
    areas: dict[int, Decimal] = {
        uid: Decimal(area)
        for uid, area in session.execute(
            select(Unit.id, Unit.area_m2).where(Unit.community_id == vote.community_id)
        )
    }
    session.add_all(
        VoteUnit(vote_id=vote.id, unit_id=uid, area_m2=areas[uid], person_key=keys[uid])
        for uid in owners
    )
    total_area = sum(areas.values(), Decimal("0.00"))
    session.execute(
        update(Vote)
        .where(Vote.id == vote.id)
        .values(
            eligible_units=len(owners),
            eligible_persons=len(set(keys.values())),
            eligible_area_m2=total_area,
        )
    )
    session.flush()
    session.refresh(vote)
    if invite_owners:
        invite(session, vote=vote, owners=owners, event="invite", now=now)
    audit.record(
        session,
        actor_id=actor.id,
        action="governance.vote_open",
        target_type="vote",
        target_id=vote.id,
        community_id=vote.community_id,
        now=now,
        details={"units": len(owners), "area_m2": str(total_area)},
    )
    return len(owners)


def invite(
    session: Session,
    *,
    vote: Vote,
    owners: dict[int, set[int]],
    event: str,
    now: datetime,
) -> int:
    """Queue an invitation (or reminder) for each owner of each listed unit (idempotent)."""
    community = _community(session, vote.community_id)
    closes_on = to_local(vote.closes_at, zone(community.timezone)).strftime("%Y-%m-%d %H:%M")
    queued = 0
    users = {
        u.id: u
        for u in session.scalars(
            select(User).where(User.id.in_({o for s in owners.values() for o in s} or {-1}))
        )
    }
    for unit_id, owner_ids in sorted(owners.items()):
        for owner_id in sorted(owner_ids):
            queued += len(
                notify.queue_message(
                    session,
                    event_key=f"vote:{vote.id}:{event}:{unit_id}",
                    recipient=users[owner_id],
                    community_id=vote.community_id,
                    unit_id=unit_id,
                    reason=Reason.VOTE_INVITE,
                    category=Category.NOTICE,
                    template_key=Reason.VOTE_INVITE,
                    context={
                        "title": vote.title,
                        "closes_on": closes_on,
                        "vote_url": notify.public_url(f"/c/{community.code}/votes/{vote.id}"),
                    },
                    related_type="vote",
                    related_id=vote.id,
                    now=now,
                )
            )
    return queued


def remind_non_voters(session: Session, *, vote: Vote, actor: User, now: datetime) -> int:
    """Remind the owners of eligible units that have not voted yet (once per local day)."""
    if vote.status != VoteStatus.OPEN or is_closed(vote, now):
        raise Conflict(_l("表决未在进行中，不能提醒"), code="vote_not_open")
    voted = set(session.scalars(select(Ballot.unit_id).where(Ballot.vote_id == vote.id)))
    owners = {
        uid: users
        for uid, users in _current_owners(session, vote.community_id).items()
        if uid not in voted and uid in eligible_unit_ids(session, vote=vote)
    }
    community = _community(session, vote.community_id)
    day = to_local(now, zone(community.timezone)).date().isoformat()
    queued = invite(session, vote=vote, owners=owners, event=f"remind-{day}", now=now)
    audit.record(
        session,
        actor_id=actor.id,
        action="governance.vote_remind",
        target_type="vote",
        target_id=vote.id,
        community_id=vote.community_id,
        now=now,
        details={"units": len(owners), "messages": queued},
    )
    return queued


def eligible_unit_ids(session: Session, *, vote: Vote) -> set[int]:
    return set(session.scalars(select(VoteUnit.unit_id).where(VoteUnit.vote_id == vote.id)))


# ---------------------------------------------------------------- ballots


def ballot_hash(vote_id: int, receipt: str, option_code: str) -> str:
    """What the tally publishes per ballot: only the holder of the receipt can link it."""
    return hashlib.sha256(f"{vote_id}:{receipt}:{option_code}".encode()).hexdigest()


def owns_unit(session: Session, *, user: User, unit_id: int) -> bool:
    return (
        session.scalar(
            select(func.count(Ownership.id)).where(
                Ownership.user_id == user.id,
                Ownership.unit_id == unit_id,
                Ownership.ended_on.is_(None),
            )
        )
        or 0
    ) > 0


def cast_ballot(
    session: Session, *, vote: Vote, user: User, unit_id: int, option_code: str, now: datetime
) -> Ballot:
    """Record the unit's choice; a second ballot replaces the first (with a new receipt)
    until the vote closes, so a unit never counts twice."""
    if vote.status != VoteStatus.OPEN or is_closed(vote, now):
        raise Conflict(_l("表决已截止或未开始，不能投票"), code="vote_closed")
    if not owns_unit(session, user=user, unit_id=unit_id):
        raise PermissionDenied(_l("您不是该房屋的业主，不能为其投票"), code="not_eligible")
    if unit_id not in eligible_unit_ids(session, vote=vote):
        raise PermissionDenied(
            _l("该房屋不在本次表决的业主名册中"), field="unit", code="not_eligible"
        )
    option = option_by_code(vote, option_code)
    if option is None:
        raise DomainError(_l("请选择一个有效的选项"), field="option", code="bad_option")
    receipt = secrets.token_hex(8).upper()
    digest = ballot_hash(vote.id, receipt, option.code)
    ballot = session.scalar(
        select(Ballot).where(Ballot.vote_id == vote.id, Ballot.unit_id == unit_id)
    )
    if ballot is None:
        ballot = Ballot(
            vote_id=vote.id,
            unit_id=unit_id,
            option_id=option.id,
            cast_by_id=user.id,
            receipt=receipt,
            ballot_hash=digest,
            cast_at=now,
        )
        session.add(ballot)
    else:
        ballot.option_id = option.id
        ballot.cast_by_id = user.id
        ballot.receipt = receipt
        ballot.ballot_hash = digest
        ballot.cast_at = now
        ballot.changes += 1
    session.flush()  # the unique (vote, unit) refuses a concurrent second row
    return ballot


def ballots_of(session: Session, *, vote: Vote, unit_ids: list[int]) -> dict[int, Ballot]:
    """The current ballots of these units (an owner sees their own)."""
    if not unit_ids:
        return {}
    rows = session.scalars(
        select(Ballot).where(Ballot.vote_id == vote.id, Ballot.unit_id.in_(unit_ids))
    )
    return {b.unit_id: b for b in rows}


@dataclass(frozen=True)
class Turnout:
    units: int
    eligible_units: int
    area_m2: Decimal
    eligible_area_m2: Decimal
    area_ratio: str
    units_ratio: str


def turnout(session: Session, *, vote: Vote) -> Turnout:
    """How many eligible units (and how much area) have voted; never how they voted."""
    units, area = session.execute(
        select(func.count(Ballot.id), func.coalesce(func.sum(VoteUnit.area_m2), 0))
        .join(VoteUnit, (VoteUnit.vote_id == Ballot.vote_id) & (VoteUnit.unit_id == Ballot.unit_id))
        .where(Ballot.vote_id == vote.id)
    ).one()
    area = Decimal(area).quantize(Decimal("0.01"))
    total = Decimal(vote.eligible_area_m2 or 0)
    from fractions import Fraction

    return Turnout(
        units=int(units),
        eligible_units=vote.eligible_units,
        area_m2=area,
        eligible_area_m2=total,
        area_ratio=tally.ratio_text(Fraction(area) / Fraction(total) if total else Fraction(0)),
        units_ratio=tally.ratio_text(
            Fraction(int(units), vote.eligible_units) if vote.eligible_units else Fraction(0)
        ),
    )


# ---------------------------------------------------------------- closing and the result


def compute_tally(session: Session, *, vote: Vote) -> tally.Tally:
    """The art. 278 tally of the vote's current ballots."""
    eligible = [
        tally.EligibleUnit(u.unit_id, Decimal(u.area_m2), u.person_key)
        for u in session.scalars(select(VoteUnit).where(VoteUnit.vote_id == vote.id))
    ]
    codes = {o.id: o.code for o in vote.options}
    ballots = {
        unit_id: codes[option_id]
        for unit_id, option_id in session.execute(
            select(Ballot.unit_id, Ballot.option_id).where(Ballot.vote_id == vote.id)
        )
    }
    return tally.compute(
        kind=vote.kind,
        eligible=eligible,
        options=[tally.OptionSpec(o.code, o.label, o.approves) for o in vote.options],
        ballots=ballots,
    )


def result_payload(session: Session, *, vote: Vote, counted: tally.Tally) -> dict[str, Any]:
    """The tally as published: counts per option, both ratios, every ballot's salted hash."""
    hashes = sorted(session.scalars(select(Ballot.ballot_hash).where(Ballot.vote_id == vote.id)))
    return {
        "vote_id": vote.id,
        "title": vote.title,
        "matter": vote.matter,
        "kind": vote.kind,
        "closes_at": publication.format_instant(vote.closes_at),
        "eligible": {
            "units": counted.eligible_units,
            "persons": counted.eligible_persons,
            "area_m2": str(counted.eligible_area_m2),
        },
        "participating": {
            "units": counted.units,
            "persons": counted.persons,
            "area_m2": str(counted.area_m2),
        },
        "area_participation": tally.ratio_text(counted.area_participation),
        "headcount_participation": tally.ratio_text(counted.headcount_participation),
        "valid": counted.valid,
        "passed": counted.passed,
        "options": [
            {
                "code": o.code,
                "label": o.label,
                "approves": o.approves,
                "units": o.units,
                "persons": o.persons,
                "area_m2": str(o.area_m2),
                "passed": o.passed,
            }
            for o in counted.options
        ],
        "ballot_hashes": hashes,
    }


def close_vote(session: Session, *, vote: Vote, actor: User | None, now: datetime) -> Vote:
    """Close a vote whose closing time has passed: tally, store, publish in the log."""
    if vote.status != VoteStatus.OPEN:
        raise Conflict(_l("只能截止进行中的表决"), code="not_open")
    if now < vote.closes_at:
        raise Conflict(_l("未到截止时间，不能提前结束表决"), field="closes_at", code="not_due")
    claimed = session.execute(
        update(Vote)
        .where(Vote.id == vote.id, Vote.status == VoteStatus.OPEN)
        # Whole seconds, as the publication log stores its instants.
        .values(status=VoteStatus.CLOSED, closed_at=now.replace(microsecond=0))
    ).rowcount
    if claimed != 1:
        raise Conflict(_l("表决已被截止"), code="not_open")
    session.refresh(vote)
    counted = compute_tally(session, vote=vote)
    payload = result_payload(session, vote=vote, counted=counted)
    vote.result = payload
    community = _community(session, vote.community_id)
    publication.append(
        session,
        community=community,
        kind=PUBLICATION_KIND,
        record_id=vote.id,
        payload=payload,
        now=now,
    )
    passed_proposals = {opt.proposal_id for opt, ok in counted_options(vote, counted) if ok}
    for option in vote.options:
        if option.proposal_id is None:
            continue
        proposal = session.get(Proposal, option.proposal_id)
        if proposal is not None and proposal.status == ProposalStatus.IN_VOTE:
            proposal.status = (
                ProposalStatus.CHOSEN
                if option.proposal_id in passed_proposals
                else ProposalStatus.NOT_CHOSEN
            )
    audit.record(
        session,
        actor_id=actor.id if actor else None,
        action="governance.vote_close",
        target_type="vote",
        target_id=vote.id,
        community_id=vote.community_id,
        now=now,
        details={"valid": counted.valid, "passed": counted.passed},
    )
    session.flush()
    return vote


def counted_options(vote: Vote, counted: tally.Tally) -> list[tuple[VoteOption, bool]]:
    """(option, passed) pairs in the vote's order."""
    passed = {o.code: o.passed for o in counted.options}
    return [(o, passed.get(o.code, False)) for o in vote.options]


def close_due(session: Session, *, now: datetime) -> list[Vote]:
    """Close every open vote whose closing time has passed (the job; idempotent)."""
    due = list(
        session.scalars(
            select(Vote)
            .where(Vote.status == VoteStatus.OPEN, Vote.closes_at <= now)
            .order_by(Vote.id)
        )
    )
    return [close_vote(session, vote=vote, actor=None, now=now) for vote in due]


def published_result(session: Session, *, vote: Vote) -> dict[str, Any] | None:
    """The result as it entered the publication log (with its seq and hash), or None."""
    if vote.status != VoteStatus.CLOSED:
        return None
    entry = publication.latest_for(
        session, community_id=vote.community_id, kind=PUBLICATION_KIND, record_ids=[vote.id]
    ).get(vote.id)
    result = dict(vote.result or {})
    if entry is not None:
        result["seq"] = entry.seq
        result["hash"] = entry.hash
    return result


def verify_receipt(session: Session, *, vote: Vote, receipt: str, option_code: str) -> bool:
    """True when the ballot of this receipt and option is among the published hashes."""
    if vote.status != VoteStatus.CLOSED:
        raise Conflict(_l("表决截止后才能核验"), code="vote_open")
    receipt = "".join((receipt or "").split()).upper()
    if not receipt:
        raise DomainError(_l("请输入回执码"), field="receipt", code="receipt_missing")
    if option_by_code(vote, option_code) is None:
        raise DomainError(_l("请选择一个有效的选项"), field="option", code="bad_option")
    entry = publication.latest_for(
        session, community_id=vote.community_id, kind=PUBLICATION_KIND, record_ids=[vote.id]
    ).get(vote.id)
    if entry is None:
        return False
    return ballot_hash(vote.id, receipt, option_code) in set(entry.payload.get("ballot_hashes", []))


def ballot_rows(session: Session, *, vote: Vote) -> list[dict[str, Any]]:
    """Every ballot (unit, option, time) for the committee's paper-ballot reconciliation."""
    labels = {o.id: o.label for o in vote.options}
    rows = session.execute(
        select(Unit.code, Ballot.option_id, Ballot.cast_at, Ballot.changes)
        .join(Unit, Unit.id == Ballot.unit_id)
        .where(Ballot.vote_id == vote.id)
        .order_by(Unit.code)
    )
    return [
        {"unit": code, "option": labels[option_id], "cast_at": cast_at, "changes": changes}
        for code, option_id, cast_at, changes in rows
    ]


def record_export(
    session: Session, *, vote: Vote, actor: User, rows: int, now: datetime, ip: str | None = None
) -> None:
    """Audit that someone took the ballot list (it names units), and from where."""
    audit.record_personal_data_export(
        session,
        actor_id=actor.id,
        action="governance.ballots_export",
        target_type="vote",
        target_id=vote.id,
        community_id=vote.community_id,
        now=now,
        ip=ip,
        fmt="csv",
        details={"rows": rows},
    )


# Which vote may back which movement of the owners' separate accounts (fund account, direction).
FUND_MATTERS: dict[tuple[str, str], frozenset[str]] = {
    ("maintenance_fund", "out"): frozenset({Matter.FUND_USE}),  # art. 278 item 5
    ("maintenance_fund", "in"): frozenset({Matter.FUND_RAISE}),  # item 6: three quarters
    ("common_revenue", "out"): frozenset({Matter.REVENUE_USE, Matter.COMMON_BUSINESS}),
}


def check_fund_vote(
    session: Session, *, community_id: int, vote_id: int, account: str, direction: str
) -> Vote:
    """The closed, passed vote of the right matter that a fund movement cites; else an error."""
    vote = session.get(Vote, vote_id)
    if vote is None or vote.community_id != community_id or vote.status == VoteStatus.DRAFT:
        raise DomainError(_l("所引用的业主表决不存在"), field="vote_id", code="vote_not_found")
    if vote.status != VoteStatus.CLOSED:
        raise DomainError(
            _l("所引用的业主表决尚未截止计票"), field="vote_id", code="vote_not_closed"
        )
    if not (vote.result or {}).get("passed"):
        raise DomainError(
            _l("所引用的业主表决未通过，不能据此动用资金"), field="vote_id", code="vote_failed"
        )
    if vote.matter not in FUND_MATTERS.get((account, direction), frozenset()):
        raise DomainError(
            _l(
                "所引用的表决事项与这笔收支不符：动用维修资金须“使用专项维修资金”表决，"
                "筹集维修资金须经四分之三多数的“筹集专项维修资金”表决"
            ),
            field="vote_id",
            code="wrong_matter",
        )
    return vote


def passed_votes(session: Session, *, community_id: int) -> list[Vote]:
    """The community's closed votes that passed, newest first (for citing in fund movements)."""
    rows = session.scalars(
        select(Vote)
        .where(Vote.community_id == community_id, Vote.status == VoteStatus.CLOSED)
        .order_by(Vote.id.desc())
    )
    return [v for v in rows if (v.result or {}).get("passed")]


def _payload(session: Session, record_id: int) -> dict[str, Any] | None:
    vote = session.get(Vote, record_id)
    return None if vote is None else vote.result


publication.register_kind(PUBLICATION_KIND, _payload)


def not_found() -> NotFound:
    return NotFound(_l("表决不存在"))
