"""Disputes seen in aggregate: anonymised objection counts per published record, the
community figures (k-anonymous), the staff queue and the dispute mediation list."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.communities.models import Community
from portal.disputes.base import K_ANONYMITY, REASONS, TARGET_LABELS
from portal.disputes.intake import target_labels
from portal.disputes.models import (
    FAVOURABLE_OUTCOMES,
    OPEN_STATUSES,
    Dispute,
    DisputeProposal,
    DisputeStatus,
    Outcome,
    ProposalStatus,
    TargetType,
)
from portal.money import fen_to_yuan_str
from portal.timeutil import zone

# ---------------------------------------------------------------- for collections


def units_with_open_disputes(session: Session, *, community_id: int) -> set[int]:
    """Units of a community with any open dispute (collections pauses escalation there)."""
    return set(
        session.scalars(
            select(Dispute.unit_id).where(
                Dispute.community_id == community_id, Dispute.status.in_(OPEN_STATUSES)
            )
        )
    )


# ---------------------------------------------------------------- public and statistics


def public_objections(
    session: Session, *, community_id: int, target_type: str
) -> dict[int, dict[str, Any]]:
    """Anonymised objection counts per published record (spending item or fee standard):
    {"open", "closed", "upheld", "rejected", "latest_outcome"}; never who objected or why."""
    if target_type not in (TargetType.SPENDING, TargetType.FEE_STANDARD):
        return {}
    rows = session.execute(
        select(Dispute.target_id, Dispute.status, Dispute.outcome, Dispute.closed_at, Dispute.id)
        .where(
            Dispute.community_id == community_id,
            Dispute.target_type == target_type,
            Dispute.target_id.is_not(None),
        )
        .order_by(Dispute.closed_at, Dispute.id)
    ).all()
    out: dict[int, dict[str, Any]] = {}
    for target_id, status, outcome, _closed_at, _id in rows:
        counts = out.setdefault(
            int(target_id),
            {"open": 0, "closed": 0, "upheld": 0, "rejected": 0, "latest_outcome": None},
        )
        if status == DisputeStatus.CLOSED:
            counts["closed"] += 1
            counts["latest_outcome"] = outcome  # rows come in closing order
            if outcome in FAVOURABLE_OUTCOMES:
                counts["upheld"] += 1
            elif outcome == Outcome.NOT_UPHELD:
                counts["rejected"] += 1
        else:
            counts["open"] += 1
    return out


def _number(value: Decimal | None, places: str = "0.1") -> Any:
    """A Decimal as a JSON number (parsed from its text, so no binary float arithmetic)."""
    if value is None:
        return None
    return json.loads(str(value.quantize(Decimal(places), rounding=ROUND_HALF_UP)))


def _median(values: list[int]) -> Decimal | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return Decimal(ordered[mid])
    return Decimal(ordered[mid - 1] + ordered[mid]) / 2


def _days(seconds: Decimal | None) -> Decimal | None:
    return None if seconds is None else seconds / Decimal(86400)


def dispute_stats(session: Session, *, community_id: int) -> dict[str, Any]:
    """Aggregates for the community page and the stats API: by target type and outcome,
    median days to first response and to close, the share resolved in the owner's favour.
    Figures over fewer than 5 resolved disputes are withheld ("too_few")."""
    rows = session.execute(
        select(
            Dispute.target_type,
            Dispute.status,
            Dispute.outcome,
            Dispute.created_at,
            Dispute.first_response_at,
            Dispute.closed_at,
            Dispute.first_response_due_on,
        ).where(Dispute.community_id == community_id)
    ).all()
    community = session.get(Community, community_id)
    tz = zone(community.timezone if community else None)
    by_type = {t: {"target_type": str(t), "total": 0, "open": 0, "closed": 0} for t in TargetType}
    outcomes = {str(o): 0 for o in Outcome}
    first_response: list[int] = []
    to_close: list[int] = []
    on_time = 0
    for target_type, status, outcome, created, responded, closed, due in rows:
        entry = by_type.get(target_type)
        if entry is None:
            continue
        entry["total"] += 1
        if status == DisputeStatus.CLOSED:
            entry["closed"] += 1
            if outcome in outcomes:
                outcomes[outcome] += 1
            if outcome != Outcome.WITHDRAWN and closed is not None:
                to_close.append(int((closed - created).total_seconds()))
        else:
            entry["open"] += 1
        if responded is not None:
            first_response.append(int((responded - created).total_seconds()))
            if responded.astimezone(tz).date() <= due:
                on_time += 1
    resolved = sum(n for o, n in outcomes.items() if o != Outcome.WITHDRAWN)
    favourable = sum(outcomes[str(o)] for o in FAVOURABLE_OUTCOMES)
    too_few = resolved < K_ANONYMITY
    enough_responses = len(first_response) >= K_ANONYMITY
    total = sum(e["total"] for e in by_type.values())
    return {
        "total": total,
        "open": sum(e["open"] for e in by_type.values()),
        "closed": sum(e["closed"] for e in by_type.values()),
        "by_target_type": list(by_type.values()),
        "by_outcome": None if too_few else outcomes,
        "median_days_to_first_response": _number(_days(_median(first_response)))
        if enough_responses
        else None,
        "first_response_on_time": _number(Decimal(on_time) / len(first_response), "0.001")
        if enough_responses
        else None,
        "median_days_to_close": None if too_few else _number(_days(_median(to_close))),
        "owner_favour_share": None if too_few else _number(Decimal(favourable) / resolved, "0.001"),
        "resolved": resolved,
        "too_few": too_few,
        "k_anonymity": K_ANONYMITY,
    }


# ---------------------------------------------------------------- staff queue and lists


@dataclass(frozen=True)
class QueueFilters:
    community_ids: list[int]
    status: str = "open"  # open | closed | all | one status
    target_type: str = ""
    overdue_only: bool = False
    sort: str = "oldest"  # oldest | newest | due


@dataclass(frozen=True)
class QueuePage:
    disputes: list[Dispute]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _overdue_clause(today: date) -> Any:
    return and_(
        Dispute.status.in_(OPEN_STATUSES),
        or_(
            and_(Dispute.first_response_at.is_(None), Dispute.first_response_due_on < today),
            and_(Dispute.proposed_at.is_(None), Dispute.proposal_due_on < today),
        ),
    )


def queue(
    session: Session, *, filters: QueueFilters, today: date, page: int = 1, per_page: int = 50
) -> QueuePage:
    """Disputes of the staff member's communities, filtered by status, target type and age."""
    query = select(Dispute).where(Dispute.community_id.in_(filters.community_ids or [-1]))
    if filters.status == "open":
        query = query.where(Dispute.status.in_(OPEN_STATUSES))
    elif filters.status in set(DisputeStatus):
        query = query.where(Dispute.status == filters.status)
    elif filters.status == "approval":
        pending = select(DisputeProposal.dispute_id).where(
            DisputeProposal.status == ProposalStatus.AWAITING_APPROVAL
        )
        query = query.where(Dispute.id.in_(pending))
    if filters.target_type in set(TargetType):
        query = query.where(Dispute.target_type == filters.target_type)
    if filters.overdue_only:
        query = query.where(_overdue_clause(today))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order: list[Any]
    if filters.sort == "newest":
        order = [Dispute.created_at.desc(), Dispute.id.desc()]
    elif filters.sort == "due":
        order = [Dispute.first_response_due_on, Dispute.proposal_due_on, Dispute.id]
    else:
        order = [Dispute.created_at, Dispute.id]
    page = max(1, page)
    rows = session.scalars(
        query.options(
            selectinload(Dispute.unit),
            selectinload(Dispute.community),
            selectinload(Dispute.proposals),
        )
        .order_by(*order)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return QueuePage(disputes=list(rows), total=total, page=page, per_page=per_page)


def counts_by_status(session: Session, *, community_ids: list[int], today: date) -> dict[str, int]:
    """Open disputes per status, plus overdue and awaiting-approval counts, for the queue."""
    rows = session.execute(
        select(Dispute.status, func.count(Dispute.id))
        .where(Dispute.community_id.in_(community_ids or [-1]), Dispute.status.in_(OPEN_STATUSES))
        .group_by(Dispute.status)
    ).all()
    out = {str(status): int(n) for status, n in rows}
    out["overdue"] = int(
        session.scalar(
            select(func.count(Dispute.id)).where(
                Dispute.community_id.in_(community_ids or [-1]), _overdue_clause(today)
            )
        )
        or 0
    )
    out["approval"] = int(
        session.scalar(
            select(func.count(func.distinct(DisputeProposal.dispute_id)))
            .join(Dispute, Dispute.id == DisputeProposal.dispute_id)
            .where(
                Dispute.community_id.in_(community_ids or [-1]),
                DisputeProposal.status == ProposalStatus.AWAITING_APPROVAL,
            )
        )
        or 0
    )
    return out


def mediation_rows(session: Session, *, community_id: int, now: datetime) -> list[dict[str, Any]]:
    """The dispute mediation list (三清单之纠纷调解清单): every dispute the owner rejected or
    that went to the committee or a mediator, with the parties' positions and the result.
    No phone numbers: the list goes to the committee and mediators."""
    disputes = list(
        session.scalars(
            select(Dispute)
            .options(
                selectinload(Dispute.unit),
                selectinload(Dispute.owner),
                selectinload(Dispute.proposals),
                selectinload(Dispute.community),
            )
            .where(
                Dispute.community_id == community_id,
                or_(Dispute.escalated_at.is_not(None), Dispute.status == DisputeStatus.REJECTED),
            )
            .order_by(Dispute.created_at, Dispute.id)
        )
    )
    labels = target_labels(session, disputes)
    out = []
    for d in disputes:
        tz = zone(d.community.timezone)
        offers = [p for p in d.proposals if p.status not in (ProposalStatus.AWAITING_APPROVAL,)]
        last = offers[-1] if offers else None
        out.append(
            {
                "reference": d.reference,
                "received_on": d.created_at.astimezone(tz).date().isoformat(),
                "unit": d.unit.code,
                "owner": _mask_name(d.owner.display_name if d.owner else ""),
                "target_type": str(TARGET_LABELS[d.target_type]),
                "target": labels.get(d.id, ""),
                "reason": str(REASONS[d.target_type].get(d.reason, d.reason)),
                "statement": d.statement,
                "requested_outcome": d.requested_outcome,
                "requested_amount": fen_to_yuan_str(d.requested_amount_fen)
                if d.requested_amount_fen
                else "",
                "company_position": last.body if last else "",
                "company_offer": fen_to_yuan_str(last.amount_fen)
                if last and last.amount_fen
                else "",
                "owner_objection": last.owner_reason if last else "",
                "escalated_to": d.escalated_to or "",
                "escalated_on": d.escalated_at.astimezone(tz).date().isoformat()
                if d.escalated_at
                else "",
                "status": d.status,
                "outcome": d.outcome or "",
                "closed_on": d.closed_at.astimezone(tz).date().isoformat() if d.closed_at else "",
                "closing_note": d.closing_note,
                "days_open": ((d.closed_at or now) - d.created_at).days,
            }
        )
    return out


def _mask_name(name: str) -> str:
    """张三丰 → 张**: enough for a mediator to address the owner, no more."""
    return (name[0] + "*" * max(1, len(name) - 1)) if name else ""
