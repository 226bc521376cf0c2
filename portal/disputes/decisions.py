"""Deciding a dispute: first response, review, proposals (a large credit waits for a
manager), the owner accepting (the credit is posted to the ledger and the case closes) or
rejecting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.billing import late_fees as billing_late_fees
from portal.billing import ledger
from portal.billing import runs as billing_runs
from portal.billing.models import BillLine, EntryKind
from portal.disputes import messages
from portal.disputes.base import (
    HANDLER_ROLES,
    MONEY_ROLES,
    audit_action,
    clean_text,
    creditable_fen,
    first_response_values,
    move_status,
    parse_amount,
    parse_id,
    record_event,
    release_hold,
    require_owner,
    require_staff,
    staff_roles_in,
)
from portal.disputes.intake import get_settings
from portal.disputes.models import (
    Dispute,
    DisputeProposal,
    DisputeStatus,
    EventKind,
    Outcome,
    ProposalKind,
    ProposalStatus,
    RequestedOutcome,
    TargetType,
)
from portal.errors import Conflict, DomainError, NotFound, PermissionDenied
from portal.money import fen_to_yuan_str


def acknowledge(
    session: Session, *, dispute: Dispute, actor: User, now: datetime, message: str = ""
) -> None:
    """First response: the dispute is received and being looked at."""
    require_staff(dispute, actor, HANDLER_ROLES)
    body = message.strip()[:2000]
    old = move_status(
        session,
        dispute,
        allowed=(DisputeStatus.SUBMITTED,),
        to=DisputeStatus.ACKNOWLEDGED,
        now=now,
        **first_response_values(dispute, now),
    )
    record_event(
        session,
        dispute,
        kind=EventKind.ACKNOWLEDGED,
        actor=actor,
        now=now,
        body=body,
        from_status=old,
        to_status=DisputeStatus.ACKNOWLEDGED,
    )
    audit_action(session, dispute, actor, "dispute.acknowledge", now)


def start_review(
    session: Session, *, dispute: Dispute, actor: User, now: datetime, message: str = ""
) -> None:
    """Under review (checking the meter, the contract, the invoice…)."""
    require_staff(dispute, actor, HANDLER_ROLES)
    old = move_status(
        session,
        dispute,
        allowed=(DisputeStatus.SUBMITTED, DisputeStatus.ACKNOWLEDGED),
        to=DisputeStatus.UNDER_REVIEW,
        now=now,
        **first_response_values(dispute, now),
    )
    record_event(
        session,
        dispute,
        kind=EventKind.REVIEW_STARTED,
        actor=actor,
        now=now,
        body=message.strip()[:2000],
        from_status=old,
        to_status=DisputeStatus.UNDER_REVIEW,
    )
    audit_action(session, dispute, actor, "dispute.review", now)


PROPOSE_FROM = (
    DisputeStatus.SUBMITTED,
    DisputeStatus.ACKNOWLEDGED,
    DisputeStatus.UNDER_REVIEW,
    DisputeStatus.PROPOSED,
    DisputeStatus.REJECTED,
    DisputeStatus.ESCALATED,
)


def _check_proposal(
    session: Session, dispute: Dispute, *, kind: str, amount_fen: Any, actor: User
) -> int | None:
    if kind not in set(ProposalKind):
        raise DomainError(_l("请选择答复方式"), field="kind")
    amount = parse_amount(amount_fen, "amount")
    money_target = dispute.target_type in (TargetType.BILL_LINE, TargetType.SERVICE)
    if kind == ProposalKind.EXPLANATION:
        if amount is not None:
            raise DomainError(_l("说明类答复不涉及金额"), field="amount")
        return None
    if kind == ProposalKind.CREDIT and not money_target:
        raise DomainError(_l("公开记录和收费标准只能更正或说明，不能向个人退款"), field="kind")
    if kind == ProposalKind.CORRECTION and not money_target:
        if amount is not None:
            raise DomainError(_l("更正公开记录不涉及金额，请在收支公开中发布更正"), field="amount")
        return None
    if dispute.target_type == TargetType.SERVICE and kind == ProposalKind.CORRECTION:
        raise DomainError(_l("服务类异议请选择说明或补偿"), field="kind")
    if amount is None:
        raise DomainError(_l("请填写减免或退还的金额"), field="amount")
    if not (actor.is_admin or staff_roles_in(actor, dispute.community_id) & set(MONEY_ROLES)):
        raise PermissionDenied(_l("只有财务或管理处负责人可以提出涉及金额的方案"), field="kind")
    if dispute.bill_line_id is not None:
        line = session.get(BillLine, dispute.bill_line_id)
        limit = creditable_fen(line) if line is not None else 0
        if amount > limit:
            raise DomainError(
                _l("金额不能超过该项费用可减免的 %(max)s 元", max=fen_to_yuan_str(limit)),
                field="amount",
                code="amount_exceeds",
            )
    return amount


def propose(
    session: Session,
    *,
    dispute: Dispute,
    actor: User,
    kind: str,
    body: str,
    amount_fen: Any,
    now: datetime,
) -> DisputeProposal:
    """Offer a response; a credit above the community's threshold waits for a manager."""
    require_staff(dispute, actor, HANDLER_ROLES)
    if dispute.status not in PROPOSE_FROM:
        raise Conflict(_l("当前状态下不能提出方案"), code="bad_status")
    amount = _check_proposal(session, dispute, kind=kind, amount_fen=amount_fen, actor=actor)
    text = clean_text(body, field="body", minimum=2, maximum=4000, message=_l("请填写答复内容"))
    threshold = get_settings(session, dispute.community_id).approval_threshold_fen
    is_manager = actor.is_admin or Role.MANAGER in staff_roles_in(actor, dispute.community_id)
    needs_approval = amount is not None and amount > threshold and not is_manager
    for old in dispute.proposals:  # one draft awaiting approval at a time
        if old.status == ProposalStatus.AWAITING_APPROVAL:
            old.status = ProposalStatus.SUPERSEDED
    proposal = DisputeProposal(
        dispute_id=dispute.id,
        kind=kind,
        amount_fen=amount,
        body=text,
        status=ProposalStatus.AWAITING_APPROVAL if needs_approval else ProposalStatus.OFFERED,
        proposed_by_id=actor.id,
        created_at=now,
        approved_by_id=actor.id if amount is not None and not needs_approval else None,
        approved_at=now if amount is not None and not needs_approval else None,
        owner_reason="",
    )
    session.add(proposal)
    session.flush()
    if needs_approval:
        if dispute.status in (DisputeStatus.SUBMITTED, DisputeStatus.ACKNOWLEDGED):
            old_status = move_status(
                session,
                dispute,
                allowed=(DisputeStatus.SUBMITTED, DisputeStatus.ACKNOWLEDGED),
                to=DisputeStatus.UNDER_REVIEW,
                now=now,
                **first_response_values(dispute, now),
            )
            record_event(
                session,
                dispute,
                kind=EventKind.REVIEW_STARTED,
                actor=actor,
                now=now,
                from_status=old_status,
                to_status=DisputeStatus.UNDER_REVIEW,
            )
        record_event(
            session,
            dispute,
            kind=EventKind.PROPOSAL_DRAFTED,
            actor=actor,
            now=now,
            body=text,
            internal=True,
            data={"proposal_id": proposal.id, "kind": kind, "amount_fen": amount},
        )
        audit_action(session, dispute, actor, "dispute.propose_draft", now, {"amount_fen": amount})
    else:
        _offer(session, dispute=dispute, proposal=proposal, actor=actor, now=now)
    session.expire(dispute, ["proposals"])
    return proposal


def _offer(
    session: Session,
    *,
    dispute: Dispute,
    proposal: DisputeProposal,
    actor: User,
    now: datetime,
) -> None:
    session.execute(
        update(DisputeProposal)
        .where(
            DisputeProposal.dispute_id == dispute.id,
            DisputeProposal.id != proposal.id,
            DisputeProposal.status == ProposalStatus.OFFERED,
        )
        .values(status=ProposalStatus.SUPERSEDED)
        .execution_options(synchronize_session=False)
    )
    values: dict[str, Any] = first_response_values(dispute, now)
    if dispute.proposed_at is None:
        values["proposed_at"] = now
    old = move_status(
        session, dispute, allowed=PROPOSE_FROM, to=DisputeStatus.PROPOSED, now=now, **values
    )
    record_event(
        session,
        dispute,
        kind=EventKind.PROPOSED,
        actor=actor,
        now=now,
        body=proposal.body,
        from_status=old,
        to_status=DisputeStatus.PROPOSED,
        data={"proposal_id": proposal.id, "kind": proposal.kind, "amount_fen": proposal.amount_fen},
    )
    audit_action(
        session,
        dispute,
        actor,
        "dispute.propose",
        now,
        {"proposal_id": proposal.id, "kind": proposal.kind, "amount_fen": proposal.amount_fen},
    )
    for other in session.scalars(
        select(DisputeProposal).where(DisputeProposal.dispute_id == dispute.id)
    ):
        session.expire(other, ["status"])
    messages.queue_dispute_answered(session, dispute=dispute, proposal=proposal, now=now)


def get_proposal(session: Session, *, dispute: Dispute, proposal_id: Any) -> DisputeProposal:
    """A proposal of this dispute, or NotFound (an id of another dispute is not found either)."""
    try:
        ident = parse_id(proposal_id, "proposal_id")
    except DomainError:
        ident = None
    proposal = session.get(DisputeProposal, ident) if ident else None
    if proposal is None or proposal.dispute_id != dispute.id:
        raise NotFound(_l("该答复方案不存在"), field="proposal_id")
    return proposal


def _claim(
    session: Session, proposal: DisputeProposal, *, old: str, new: str, now: datetime
) -> None:
    done = session.execute(
        update(DisputeProposal)
        .where(DisputeProposal.id == proposal.id, DisputeProposal.status == old)
        .values(status=new, decided_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Conflict(
            _l("该答复方案已失效，请刷新后查看"), field="proposal_id", code="not_offered"
        )
    session.expire(proposal)


def approve_proposal(
    session: Session, *, dispute: Dispute, proposal_id: Any, actor: User, now: datetime
) -> DisputeProposal:
    """A manager approves a credit above the threshold; it is then offered to the owner."""
    require_staff(dispute, actor, (Role.MANAGER,))
    proposal = get_proposal(session, dispute=dispute, proposal_id=proposal_id)
    if proposal.status != ProposalStatus.AWAITING_APPROVAL:
        raise Conflict(_l("该方案不在待审批状态"), field="proposal_id", code="not_awaiting")
    if dispute.status not in PROPOSE_FROM:
        raise Conflict(_l("当前状态下不能提出方案"), code="bad_status")
    _claim(
        session, proposal, old=ProposalStatus.AWAITING_APPROVAL, new=ProposalStatus.OFFERED, now=now
    )
    proposal.approved_by_id = actor.id
    proposal.approved_at = now
    proposal.decided_at = None
    session.flush()
    record_event(
        session,
        dispute,
        kind=EventKind.PROPOSAL_APPROVED,
        actor=actor,
        now=now,
        internal=True,
        data={"proposal_id": proposal.id, "amount_fen": proposal.amount_fen},
    )
    _offer(session, dispute=dispute, proposal=proposal, actor=actor, now=now)
    return proposal


def decline_proposal(
    session: Session,
    *,
    dispute: Dispute,
    proposal_id: Any,
    actor: User,
    reason: str,
    now: datetime,
) -> None:
    """A manager sends a draft credit back; the owner never sees it."""
    require_staff(dispute, actor, (Role.MANAGER,))
    proposal = get_proposal(session, dispute=dispute, proposal_id=proposal_id)
    text = clean_text(reason, field="reason", minimum=2, maximum=2000, message=_l("请填写退回原因"))
    _claim(
        session,
        proposal,
        old=ProposalStatus.AWAITING_APPROVAL,
        new=ProposalStatus.DECLINED,
        now=now,
    )
    record_event(
        session,
        dispute,
        kind=EventKind.PROPOSAL_DECLINED,
        actor=actor,
        now=now,
        body=text,
        internal=True,
        data={"proposal_id": proposal.id},
    )
    audit_action(
        session, dispute, actor, "dispute.decline_proposal", now, {"proposal_id": proposal.id}
    )


def _outcome_of(dispute: Dispute, proposal: DisputeProposal) -> str:
    if proposal.kind == ProposalKind.EXPLANATION:
        return Outcome.EXPLAINED
    if (
        proposal.amount_fen is not None
        and dispute.requested_outcome == RequestedOutcome.CREDIT
        and dispute.requested_amount_fen is not None
        and proposal.amount_fen < dispute.requested_amount_fen
    ):
        return Outcome.PARTLY_UPHELD
    return Outcome.UPHELD


def accept_proposal(
    session: Session, *, dispute: Dispute, owner: User, proposal_id: Any, now: datetime
) -> Dispute:
    """The owner accepts the offered response: money effects are posted and the case closes."""
    require_owner(session, dispute, owner)
    proposal = get_proposal(session, dispute=dispute, proposal_id=proposal_id)
    if proposal.status != ProposalStatus.OFFERED:
        raise Conflict(
            _l("该答复方案已失效，请刷新后查看"), field="proposal_id", code="not_offered"
        )
    _claim(session, proposal, old=ProposalStatus.OFFERED, new=ProposalStatus.ACCEPTED, now=now)
    outcome = _outcome_of(dispute, proposal)
    old = move_status(
        session,
        dispute,
        allowed=(DisputeStatus.PROPOSED,),
        to=DisputeStatus.CLOSED,
        now=now,
        outcome=outcome,
        closed_at=now,
        open_key=None,
    )
    release_hold(session, dispute, now)  # before the credit, so it settles the line itself
    record_event(
        session,
        dispute,
        kind=EventKind.ACCEPTED,
        actor=owner,
        now=now,
        from_status=old,
        data={"proposal_id": proposal.id},
    )
    if proposal.amount_fen:
        authoriser = session.get(User, proposal.approved_by_id or proposal.proposed_by_id or 0)
        if authoriser is None:
            raise DomainError(_l("方案缺少审批人，无法入账"))
        entries = _post_credit(
            session, dispute=dispute, proposal=proposal, actor=authoriser, now=now
        )
        record_event(
            session,
            dispute,
            kind=EventKind.CREDIT_POSTED,
            actor=None,
            now=now,
            data={"amount_fen": proposal.amount_fen, "entries": entries},
        )
    record_event(
        session,
        dispute,
        kind=EventKind.CLOSED,
        actor=None,
        now=now,
        to_status=DisputeStatus.CLOSED,
        data={"outcome": outcome},
    )
    return dispute


def _post_credit(
    session: Session,
    *,
    dispute: Dispute,
    proposal: DisputeProposal,
    actor: User,
    now: datetime,
) -> list[int]:
    """An ADJUSTMENT crediting the disputed line; what was already paid becomes credit balance
    (预存) that settles the unit's other open bills first."""
    from portal.billing.models import JournalEntry

    amount = proposal.amount_fen or 0
    label = "更正" if proposal.kind == ProposalKind.CORRECTION else "减免"
    memo = f"异议 {dispute.reference} {label}"
    before = session.scalar(select(func.coalesce(func.max(JournalEntry.id), 0))) or 0
    on_line = 0
    line_id = dispute.bill_line_id or 0
    if dispute.bill_line_id is not None:
        line = session.get(BillLine, dispute.bill_line_id, populate_existing=True)
        if line is None:
            raise NotFound(_l("账单明细不存在"))
        on_line = min(amount, line.outstanding_fen)
        if on_line > 0:
            billing_late_fees.waive_line(
                session,
                line=line,
                amount_fen=on_line,
                reason=memo,
                actor=actor,
                now=now,
                kind=EntryKind.ADJUSTMENT,
            )
    rest = amount - on_line
    if rest > 0:
        ledger.post(
            session,
            community_id=dispute.community_id,
            kind=EntryKind.ADJUSTMENT,
            memo=f"{memo}（已缴部分转预存）" if dispute.bill_line_id else memo,
            source_type="dispute",
            source_id=dispute.id,
            legs=[
                ledger.Leg(
                    ledger.expense(
                        session, community_id=dispute.community_id, code="adjustment", name="调整"
                    ),
                    rest,
                ),
                ledger.Leg(
                    ledger.prepayment(
                        session, community_id=dispute.community_id, unit_id=dispute.unit_id
                    ),
                    -rest,
                ),
            ],
            now=now,
            actor_id=actor.id,
        )
        billing_runs.apply_prepayment(
            session, unit_id=dispute.unit_id, community_id=dispute.community_id, now=now
        )
    session.execute(
        update(Dispute)
        .where(Dispute.id == dispute.id)
        .values(credited_fen=Dispute.credited_fen + amount)
        .execution_options(synchronize_session=False)
    )
    session.expire(dispute, ["credited_fen"])
    audit_action(
        session,
        dispute,
        actor,
        "dispute.credit",
        now,
        {"amount_fen": amount, "on_line_fen": on_line, "to_credit_fen": rest},
    )
    ours = or_(
        and_(JournalEntry.source_type == "bill_line", JournalEntry.source_id == line_id),
        and_(JournalEntry.source_type == "dispute", JournalEntry.source_id == dispute.id),
        and_(JournalEntry.source_type == "unit", JournalEntry.source_id == dispute.unit_id),
    )
    return list(
        session.scalars(
            select(JournalEntry.id).where(JournalEntry.id > before, ours).order_by(JournalEntry.id)
        )
    )


def reject_proposal(
    session: Session,
    *,
    dispute: Dispute,
    owner: User,
    proposal_id: Any,
    reason: str,
    now: datetime,
) -> None:
    """The owner turns the response down, saying why; they may then escalate."""
    require_owner(session, dispute, owner)
    proposal = get_proposal(session, dispute=dispute, proposal_id=proposal_id)
    text = clean_text(
        reason, field="reason", minimum=2, maximum=2000, message=_l("请说明不接受的原因")
    )
    if proposal.status != ProposalStatus.OFFERED:
        raise Conflict(
            _l("该答复方案已失效，请刷新后查看"), field="proposal_id", code="not_offered"
        )
    _claim(session, proposal, old=ProposalStatus.OFFERED, new=ProposalStatus.REJECTED, now=now)
    proposal.owner_reason = text
    old = move_status(
        session, dispute, allowed=(DisputeStatus.PROPOSED,), to=DisputeStatus.REJECTED, now=now
    )
    record_event(
        session,
        dispute,
        kind=EventKind.REJECTED,
        actor=owner,
        now=now,
        body=text,
        from_status=old,
        to_status=DisputeStatus.REJECTED,
        data={"proposal_id": proposal.id},
    )
