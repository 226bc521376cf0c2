"""Taking disputes in: community settings, what may be disputed, opening a dispute (its
bill amount goes on hold at once), evidence, and the owner- and staff-scoped look-ups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import service as audit
from portal.billing import holds
from portal.billing.models import Bill, BillLine, FeeStandard, HoldSource
from portal.communities.models import Community, Ownership, Unit
from portal.disputes.base import (
    EVIDENCE_MAX_FILES,
    MAX_CREDIT_FEN,
    OUTCOMES_FOR,
    REASONS,
    Upload,
    clean_text,
    creditable_fen,
    owned_unit_ids,
    parse_amount,
    parse_id,
    record_event,
    staff_roles_in,
)
from portal.disputes.models import (
    Dispute,
    DisputeEvent,
    DisputeEvidence,
    DisputeSettings,
    DisputeStatus,
    EventKind,
    RequestedOutcome,
    TargetType,
)
from portal.disputes.workdays import add_working_days
from portal.errors import Conflict, DomainError, NotFound, PermissionDenied
from portal.money import fen_to_yuan_str
from portal.pagination import Page, paginate
from portal.tickets import base as tickets_base
from portal.tickets.models import Ticket
from portal.timeutil import local_today, zone
from portal.transparency.models import SpendingItem

# ---------------------------------------------------------------- settings


def get_settings(session: Session, community_id: int) -> DisputeSettings:
    """The community's settings, or the defaults (2 and 10 working days, ¥200) when unset."""
    found = session.get(DisputeSettings, community_id)
    if found is not None:
        return found
    return DisputeSettings(
        community_id=community_id,
        first_response_days=2,
        proposal_days=10,
        approval_threshold_fen=20_000,
        mediator="",
    )


def update_settings(
    session: Session,
    *,
    community: Community,
    actor: User,
    now: datetime,
    first_response_days: int,
    proposal_days: int,
    approval_threshold_fen: int,
    mediator: str = "",
) -> DisputeSettings:
    """Change response targets and the approval threshold (audited)."""
    if not 1 <= first_response_days <= 30:
        raise DomainError(_l("首次响应时限须在 1 到 30 个工作日之间"), field="first_response_days")
    if not first_response_days <= proposal_days <= 60:
        raise DomainError(
            _l("答复方案时限须不少于首次响应时限，且不超过 60 个工作日"), field="proposal_days"
        )
    if not 0 <= approval_threshold_fen <= MAX_CREDIT_FEN:
        raise DomainError(_l("审批金额门槛无效"), field="approval_threshold")
    settings = session.get(DisputeSettings, community.id)
    before = None
    if settings is None:
        settings = DisputeSettings(community_id=community.id)
        session.add(settings)
    else:
        before = [
            settings.first_response_days,
            settings.proposal_days,
            settings.approval_threshold_fen,
        ]
    settings.first_response_days = first_response_days
    settings.proposal_days = proposal_days
    settings.approval_threshold_fen = approval_threshold_fen
    settings.mediator = mediator.strip()[:100]
    settings.updated_at = now
    session.flush()
    audit.record(
        session,
        actor_id=actor.id,
        action="dispute_settings.update",
        target_type="community",
        target_id=community.id,
        community_id=community.id,
        now=now,
        details={
            "before": before,
            "after": [first_response_days, proposal_days, approval_threshold_fen],
        },
    )
    return settings


# ---------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    target_type: str
    target_id: int | None
    community_id: int
    unit_id: int
    line: BillLine | None = None

    @property
    def open_key_base(self) -> str:
        return f"{self.target_type}:{self.target_id}"


def owned_units(session: Session, owner: User) -> list[Unit]:
    return list(
        session.scalars(
            select(Unit)
            .join(Ownership, Ownership.unit_id == Unit.id)
            .where(Ownership.user_id == owner.id, Ownership.ended_on.is_(None))
            .order_by(Unit.community_id, Unit.id)
        )
    )


def _unit_in(units: list[Unit], community_id: int, unit_id: int | None) -> Unit | None:
    candidates = [u for u in units if u.community_id == community_id]
    if unit_id is not None:
        return next((u for u in candidates if u.id == unit_id), None)
    return candidates[0] if candidates else None


def resolve_target(
    session: Session, *, owner: User, target_type: str, target_id: Any, unit_id: int | None = None
) -> Target:
    """What the owner disputes, checked: their own bill line, a published record of their
    community, or the service (optionally one of their repair tickets). Else NotFound."""
    if target_type not in set(TargetType):
        raise DomainError(_l("请选择异议对象"), field="target_type")
    ident = parse_id(target_id, "target_id")
    units = owned_units(session, owner)
    if not units:
        raise PermissionDenied(_l("只有业主可以提出异议"), field="target_type")
    if target_type == TargetType.BILL_LINE:
        line = session.get(BillLine, ident) if ident else None
        bill = line.bill if line is not None else None
        if bill is None or bill.unit_id not in {u.id for u in units}:
            raise NotFound(_l("账单明细不存在"), field="target_id")
        return Target(target_type, line.id, bill.community_id, bill.unit_id, line)  # type: ignore[union-attr]
    community_ids = {u.community_id for u in units}
    if target_type == TargetType.SPENDING:
        item = session.get(SpendingItem, ident) if ident else None
        if item is None or item.community_id not in community_ids or item.status != "published":
            raise NotFound(_l("支出记录不存在或尚未公开"), field="target_id")
        unit = _unit_in(units, item.community_id, unit_id)
    elif target_type == TargetType.FEE_STANDARD:
        standard = session.get(FeeStandard, ident) if ident else None
        if standard is None or standard.community_id not in community_ids:
            raise NotFound(_l("收费标准不存在"), field="target_id")
        unit = _unit_in(units, standard.community_id, unit_id)
    else:  # service: in general, or about one of the owner's repair requests
        if ident is not None:
            ticket = tickets_base.get_owned_ticket(session, user=owner, ticket_id=ident)
            if ticket is None:
                raise NotFound(_l("报修单不存在"), field="target_id")
            unit = _unit_in(units, ticket.community_id, ticket.unit_id if ticket.unit_id else None)
            unit = unit or _unit_in(units, ticket.community_id, None)
        else:
            chosen = next((u for u in units if u.id == unit_id), None) if unit_id else units[0]
            unit = chosen
    if unit is None:
        raise NotFound(_l("房屋不存在"), field="unit_id")
    return Target(target_type, ident, unit.community_id, unit.id)


def _open_key(target: Target, owner: User) -> str | None:
    if target.target_type == TargetType.BILL_LINE:
        return target.open_key_base  # one open dispute per line, whoever of the owners asks
    if target.target_type == TargetType.SERVICE and target.target_id is None:
        return None  # general complaints about the service may run side by side
    return f"{target.open_key_base}:{owner.id}"


def _due_dates(session: Session, community_id: int, now: datetime) -> tuple[date, date]:
    community = session.get(Community, community_id)
    settings = get_settings(session, community_id)
    today = local_today(zone(community.timezone if community else None), now=now)
    return (
        add_working_days(today, settings.first_response_days),
        add_working_days(today, settings.proposal_days),
    )


def open_dispute(
    session: Session,
    *,
    owner: User,
    target_type: str,
    target_id: Any,
    reason: str,
    statement: str,
    now: datetime,
    requested_outcome: str | None = None,
    requested_amount_fen: Any = None,
    unit_id: int | None = None,
    uploads: Sequence[Upload] = (),
) -> Dispute:
    """Record an owner's objection; a disputed bill amount goes on hold at once."""
    target = resolve_target(
        session, owner=owner, target_type=target_type, target_id=target_id, unit_id=unit_id
    )
    if reason not in REASONS[target.target_type]:
        raise DomainError(_l("请选择异议原因"), field="reason")
    text = clean_text(
        statement,
        field="statement",
        minimum=5,
        maximum=4000,
        message=_l("请说明理由（至少 5 个字）"),
    )
    outcome = requested_outcome or (
        RequestedOutcome.CREDIT
        if requested_amount_fen not in (None, "") and target.target_type in OUTCOMES_FOR
        else RequestedOutcome.EXPLANATION
    )
    if outcome not in OUTCOMES_FOR[target.target_type]:
        raise DomainError(_l("该异议对象不能申请这种处理方式"), field="requested_outcome")
    amount = parse_amount(requested_amount_fen, "requested_amount")
    if outcome == RequestedOutcome.EXPLANATION:
        amount = None  # an explanation has no amount; ignore one sent by mistake
    elif outcome == RequestedOutcome.CREDIT and amount is None:
        raise DomainError(_l("请填写申请退还或减免的金额"), field="requested_amount")
    if target.target_type in (TargetType.SPENDING, TargetType.FEE_STANDARD):
        amount = None  # a record is corrected for everyone, not refunded to one owner
    if amount is not None and target.line is not None and amount > creditable_fen(target.line):
        raise DomainError(
            _l(
                "申请金额不能超过有异议的金额 %(max)s 元",
                max=fen_to_yuan_str(creditable_fen(target.line)),
            ),
            field="requested_amount",
            code="amount_exceeds",
        )
    if target.line is not None and creditable_fen(target.line) <= 0:
        raise DomainError(_l("这项费用已全部减免，无需再提异议"), field="target_id")
    if len(uploads) > EVIDENCE_MAX_FILES:
        raise DomainError(_l("最多上传 %(n)s 个文件", n=EVIDENCE_MAX_FILES), field="evidence")
    key = _open_key(target, owner)
    if key is not None and session.scalar(select(Dispute.id).where(Dispute.open_key == key)):
        raise Conflict(
            _l("该项已有处理中的异议，请在原异议中补充"), field="target_id", code="duplicate"
        )
    first_due, proposal_due = _due_dates(session, target.community_id, now)
    dispute = Dispute(
        community_id=target.community_id,
        unit_id=target.unit_id,
        owner_id=owner.id,
        target_type=target.target_type,
        target_id=target.target_id,
        bill_line_id=target.line.id if target.line is not None else None,
        reason=reason,
        statement=text,
        requested_outcome=outcome,
        requested_amount_fen=amount,
        status=DisputeStatus.SUBMITTED,
        open_key=key,
        credited_fen=0,
        closing_note="",
        created_at=now,
        updated_at=now,
        first_response_due_on=first_due,
        proposal_due_on=proposal_due,
    )
    try:
        with session.begin_nested():
            session.add(dispute)
            session.flush()
    except IntegrityError as exc:  # a concurrent submission on the same line won
        raise Conflict(
            _l("该项已有处理中的异议，请在原异议中补充"), field="target_id", code="duplicate"
        ) from exc
    if target.line is not None:
        _hold(session, dispute, target.line, now)
    record_event(
        session,
        dispute,
        kind=EventKind.SUBMITTED,
        actor=owner,
        now=now,
        to_status=DisputeStatus.SUBMITTED,
        data={"requested_outcome": outcome, "requested_amount_fen": amount},
    )
    if uploads:
        _store_evidence(session, dispute=dispute, actor=owner, uploads=uploads, now=now)
    return dispute


def _hold(session: Session, dispute: Dispute, line: BillLine, now: datetime) -> None:
    """Put the disputed amount on hold: up to the credit asked for, or all of the line's
    outstanding when a correction (or only an explanation) is asked."""
    requested = (
        None
        if dispute.requested_outcome == RequestedOutcome.CORRECTION
        else dispute.requested_amount_fen
    )
    holds.place_hold(
        session,
        line=line,
        source_type=HoldSource.DISPUTE,
        source_id=dispute.id,
        requested_fen=requested,
        now=now,
    )


def _store_evidence(
    session: Session, *, dispute: Dispute, actor: User, uploads: Sequence[Upload], now: datetime
) -> int:
    from portal.uploads import service as files

    stored = 0
    seen: set[int] = {e.stored_file_id for e in dispute.evidence}
    for upload in uploads:
        stored_file = files.store_upload(
            session,
            data=upload.data,
            filename=upload.filename,
            allowed=frozenset({"image", "pdf"}),
            uploaded_by_id=actor.id,
            now=now,
        )
        if stored_file.id in seen:
            continue
        seen.add(stored_file.id)
        session.add(
            DisputeEvidence(
                dispute_id=dispute.id,
                stored_file_id=stored_file.id,
                uploaded_by_id=actor.id,
                created_at=now,
            )
        )
        stored += 1
    session.flush()
    session.expire(dispute, ["evidence"])
    return stored


def add_evidence(
    session: Session, *, dispute: Dispute, actor: User, uploads: Sequence[Upload], now: datetime
) -> int:
    """Attach more photos or PDFs to an open dispute (owner or staff)."""
    if not dispute.is_open:
        raise Conflict(_l("异议已结案，不能再补充材料"), field="evidence", code="closed")
    if not uploads:
        raise DomainError(_l("请选择文件"), field="evidence")
    if len(dispute.evidence) + len(uploads) > EVIDENCE_MAX_FILES * 2:
        raise DomainError(_l("材料数量已达上限"), field="evidence")
    count = _store_evidence(session, dispute=dispute, actor=actor, uploads=uploads, now=now)
    record_event(
        session,
        dispute,
        kind=EventKind.EVIDENCE_ADDED,
        actor=actor,
        now=now,
        data={"count": count},
    )
    return count


def get_owned_dispute(session: Session, *, owner: User, dispute_id: int) -> Dispute | None:
    """The dispute if the user raised it or owns its unit now; None (→ 404) otherwise."""
    return session.scalar(
        select(Dispute).where(
            Dispute.id == dispute_id,
            or_(
                Dispute.owner_id == owner.id,
                Dispute.unit_id.in_(owned_unit_ids(session, owner) or [-1]),
            ),
        )
    )


def get_scoped_dispute(session: Session, *, staff: User, dispute_id: int) -> Dispute | None:
    """A dispute of a community where the user handles or oversees disputes; else None."""
    dispute = session.get(Dispute, dispute_id)
    if dispute is None or not staff_roles_in(staff, dispute.community_id):
        return None
    return dispute


def _owner_disputes_query(session: Session, owner: User) -> Any:
    return (
        select(Dispute)
        .where(
            or_(
                Dispute.owner_id == owner.id,
                Dispute.unit_id.in_(owned_unit_ids(session, owner) or [-1]),
            )
        )
        .order_by(case((Dispute.status == DisputeStatus.CLOSED, 1), else_=0), Dispute.id.desc())
    )


def owner_disputes(session: Session, *, owner: User, limit: int = 200) -> list[Dispute]:
    """The owner's disputes (and those on units they own), open first, newest first; the
    first `limit` of them (lists use owner_disputes_page)."""
    return list(session.scalars(_owner_disputes_query(session, owner).limit(limit)))


def owner_disputes_page(
    session: Session, *, owner: User, page: int = 1, per_page: int = 20
) -> Page[Dispute]:
    """One page of the owner's disputes, open first, newest first (none left out)."""
    return paginate(session, _owner_disputes_query(session, owner), page=page, per_page=per_page)


def line_disputes(session: Session, *, line_ids: Iterable[int]) -> dict[int, Dispute]:
    """The latest dispute on each of these bill lines (for the bill page)."""
    ids = list(line_ids)
    if not ids:
        return {}
    out: dict[int, Dispute] = {}
    for dispute in session.scalars(
        select(Dispute).where(Dispute.bill_line_id.in_(ids)).order_by(Dispute.id)
    ):
        out[dispute.bill_line_id] = dispute  # type: ignore[index]
    return out


def visible_events(dispute: Dispute, *, for_owner: bool) -> list[DisputeEvent]:
    """The timeline; owners do not see internal notes or proposals awaiting approval."""
    return [e for e in dispute.events if not (for_owner and e.internal)]


def target_labels(session: Session, disputes: Sequence[Dispute]) -> dict[int, str]:
    """A short description of each dispute's target, loaded in a few queries."""
    labels = record_labels(
        session, [(d.target_type, d.target_id) for d in disputes if d.target_id is not None]
    )
    out = {}
    for d in disputes:
        default = str(_l("总体")) if d.target_id is None else f"#{d.target_id}"
        out[d.id] = labels.get((d.target_type, d.target_id or 0), default)
    return out


def record_labels(
    session: Session, targets: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """Descriptions of disputed records (bill lines, standards, spending items, tickets)."""
    by_type: dict[str, set[int]] = defaultdict(set)
    for target_type, target_id in targets:
        by_type[target_type].add(target_id)
    labels: dict[tuple[str, int], str] = {}
    if by_type.get(TargetType.BILL_LINE):
        for line, bill in session.execute(
            select(BillLine, Bill)
            .join(Bill, Bill.id == BillLine.bill_id)
            .where(BillLine.id.in_(by_type[TargetType.BILL_LINE]))
        ):
            labels[(TargetType.BILL_LINE, line.id)] = (
                f"{bill.period_label} {line.item_name} {_yuan(line.amount_fen)}"
            )
    if by_type.get(TargetType.FEE_STANDARD):
        for s in session.scalars(
            select(FeeStandard).where(FeeStandard.id.in_(by_type[TargetType.FEE_STANDARD]))
        ):
            labels[(TargetType.FEE_STANDARD, s.id)] = (
                f"{s.item_name} {s.rate.normalize():f} {s.unit_label}（v{s.version}）"
            )
    if by_type.get(TargetType.SPENDING):
        for item in session.scalars(
            select(SpendingItem).where(SpendingItem.id.in_(by_type[TargetType.SPENDING]))
        ):
            labels[(TargetType.SPENDING, item.id)] = (
                f"{item.spent_on} {item.description} {_yuan(item.amount_fen)}"
            )
    if by_type.get(TargetType.SERVICE):
        for ticket in session.scalars(
            select(Ticket).where(Ticket.id.in_(by_type[TargetType.SERVICE]))
        ):
            labels[(TargetType.SERVICE, ticket.id)] = str(_l("报修 %(n)s", n=ticket.number))
    return labels


def _yuan(fen: int) -> str:
    return "¥" + fen_to_yuan_str(fen)


def open_line_disputes(session: Session, *, bill: Bill) -> dict[int, Dispute]:
    """Open disputes on a bill's lines."""
    return {
        line_id: d
        for line_id, d in line_disputes(session, line_ids=[ln.id for ln in bill.lines]).items()
        if d.is_open
    }
