"""A dispute's clocks and its other moves: response targets, escalation to the owners'
committee or a mediator, withdrawal, closing by the manager, comments and opinions."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.disputes.base import (
    HANDLER_ROLES,
    READ_ROLES,
    audit_action,
    clean_text,
    is_owner_of,
    move_status,
    record_event,
    release_hold,
    require_owner,
    require_staff,
    staff_roles_in,
)
from portal.disputes.models import (
    OPEN_STATUSES,
    Dispute,
    DisputeEvent,
    DisputeProposal,
    DisputeStatus,
    EscalationTarget,
    EventKind,
    Outcome,
    ProposalStatus,
    TargetType,
)
from portal.errors import Conflict, DomainError
from portal.timeutil import local_today, zone


def sla_state(dispute: Dispute, *, today: date) -> dict[str, str]:
    """Each clock: ok / due_today / overdue while running, met / breached once stopped."""
    tz = zone(dispute.community.timezone if dispute.community else None)

    def clock(done: datetime | None, due: date, running: bool) -> str:
        if done is not None:
            return "met" if done.astimezone(tz).date() <= due else "breached"
        if not running:
            return "none"
        if today > due:
            return "overdue"
        return "due_today" if today == due else "ok"

    is_open = dispute.status != DisputeStatus.CLOSED
    first = clock(dispute.first_response_at, dispute.first_response_due_on, is_open)
    proposal = clock(dispute.proposed_at, dispute.proposal_due_on, is_open)
    order = ["overdue", "breached", "due_today", "ok", "met", "none"]
    return {"first": first, "proposal": proposal, "worst": min((first, proposal), key=order.index)}


def is_overdue(dispute: Dispute, *, today: date) -> bool:
    return sla_state(dispute, today=today)["worst"] == "overdue"


def escalate(
    session: Session,
    *,
    dispute: Dispute,
    actor: User,
    to: str,
    reason: str,
    now: datetime,
) -> None:
    """To the owners' committee or a mediator: by the owner after rejecting a response (or when
    a response is overdue), or by the manager."""
    if to not in set(EscalationTarget):
        raise DomainError(_l("请选择提交给业委会还是调解组织"), field="to")
    text = clean_text(
        reason, field="reason", minimum=2, maximum=2000, message=_l("请说明升级的理由")
    )
    as_owner = is_owner_of(session, dispute, actor)
    allowed: tuple[str, ...]
    if as_owner:
        today = local_today(zone(dispute.community.timezone), now=now)
        allowed = (DisputeStatus.REJECTED,)
        if is_overdue(dispute, today=today):
            allowed = (
                DisputeStatus.SUBMITTED,
                DisputeStatus.ACKNOWLEDGED,
                DisputeStatus.UNDER_REVIEW,
                DisputeStatus.REJECTED,
            )
        if dispute.status not in allowed:
            raise Conflict(
                _l("请先对物业的答复作出回应；答复逾期未到时也可以申请升级"), code="bad_status"
            )
    else:
        require_staff(dispute, actor, (Role.MANAGER,))
        allowed = (
            DisputeStatus.SUBMITTED,
            DisputeStatus.ACKNOWLEDGED,
            DisputeStatus.UNDER_REVIEW,
            DisputeStatus.REJECTED,
        )
    old = move_status(
        session,
        dispute,
        allowed=allowed,
        to=DisputeStatus.ESCALATED,
        now=now,
        escalated_to=to,
        escalated_at=now,
    )
    record_event(
        session,
        dispute,
        kind=EventKind.ESCALATED,
        actor=actor,
        now=now,
        body=text,
        from_status=old,
        to_status=DisputeStatus.ESCALATED,
        data={"to": to},
    )
    if not as_owner:
        audit_action(session, dispute, actor, "dispute.escalate", now, {"to": to})


def _supersede_open_proposals(session: Session, dispute: Dispute) -> None:
    session.execute(
        update(DisputeProposal)
        .where(
            DisputeProposal.dispute_id == dispute.id,
            DisputeProposal.status.in_((ProposalStatus.OFFERED, ProposalStatus.AWAITING_APPROVAL)),
        )
        .values(status=ProposalStatus.SUPERSEDED)
        .execution_options(synchronize_session=False)
    )
    session.expire(dispute, ["proposals"])


def withdraw(
    session: Session, *, dispute: Dispute, owner: User, now: datetime, reason: str = ""
) -> None:
    """The owner withdraws; the hold on the bill line ends."""
    require_owner(session, dispute, owner)
    old = move_status(
        session,
        dispute,
        allowed=OPEN_STATUSES,
        to=DisputeStatus.CLOSED,
        now=now,
        outcome=Outcome.WITHDRAWN,
        closed_at=now,
        open_key=None,
    )
    release_hold(session, dispute, now)
    _supersede_open_proposals(session, dispute)
    record_event(
        session,
        dispute,
        kind=EventKind.WITHDRAWN,
        actor=owner,
        now=now,
        body=reason.strip()[:2000],
        from_status=old,
        to_status=DisputeStatus.CLOSED,
        data={"outcome": Outcome.WITHDRAWN},
    )


CLOSE_OUTCOMES: dict[str, tuple[str, ...]] = {
    # A bill line is upheld only through an accepted credit, so the money always moves.
    TargetType.BILL_LINE: (Outcome.NOT_UPHELD, Outcome.EXPLAINED),
    TargetType.SERVICE: (Outcome.UPHELD, Outcome.NOT_UPHELD, Outcome.EXPLAINED),
    TargetType.SPENDING: (Outcome.UPHELD, Outcome.NOT_UPHELD, Outcome.EXPLAINED),
    TargetType.FEE_STANDARD: (Outcome.UPHELD, Outcome.NOT_UPHELD, Outcome.EXPLAINED),
}


def close_dispute(
    session: Session,
    *,
    dispute: Dispute,
    actor: User,
    outcome: str,
    note: str,
    now: datetime,
) -> None:
    """The manager closes a case the owner did not accept (after rejection or escalation),
    recording the decision (e.g. the mediator's) and why."""
    require_staff(dispute, actor, (Role.MANAGER,))
    if outcome not in CLOSE_OUTCOMES[dispute.target_type]:
        raise DomainError(_l("该结论不适用；支持业主的账单异议须通过减免方案办理"), field="outcome")
    text = clean_text(note, field="note", minimum=2, maximum=4000, message=_l("请填写结案说明"))
    old = move_status(
        session,
        dispute,
        allowed=(DisputeStatus.REJECTED, DisputeStatus.ESCALATED),
        to=DisputeStatus.CLOSED,
        now=now,
        outcome=outcome,
        closed_at=now,
        open_key=None,
        closing_note=text,
    )
    release_hold(session, dispute, now)
    _supersede_open_proposals(session, dispute)
    record_event(
        session,
        dispute,
        kind=EventKind.CLOSED,
        actor=actor,
        now=now,
        body=text,
        from_status=old,
        to_status=DisputeStatus.CLOSED,
        data={"outcome": outcome},
    )
    audit_action(session, dispute, actor, "dispute.close", now, {"outcome": outcome})


def comment(
    session: Session,
    *,
    dispute: Dispute,
    actor: User,
    body: str,
    now: datetime,
    internal: bool = False,
) -> DisputeEvent:
    """A message on the timeline (owner or staff); staff may mark it internal."""
    text = clean_text(body, field="body", minimum=1, maximum=2000, message=_l("请填写内容"))
    as_owner = is_owner_of(session, dispute, actor)
    if not as_owner:
        require_staff(dispute, actor, READ_ROLES)
        if Role.COMMITTEE in staff_roles_in(actor, dispute.community_id) and not (
            staff_roles_in(actor, dispute.community_id) & set(HANDLER_ROLES)
        ):
            return add_opinion(session, dispute=dispute, actor=actor, body=text, now=now)
    if not dispute.is_open and not internal:
        raise Conflict(_l("异议已结案"), code="closed")
    return record_event(
        session,
        dispute,
        kind=EventKind.NOTE if internal and not as_owner else EventKind.COMMENT,
        actor=actor,
        now=now,
        body=text,
        internal=internal and not as_owner,
    )


def add_opinion(
    session: Session, *, dispute: Dispute, actor: User, body: str, now: datetime
) -> DisputeEvent:
    """The owners' committee's opinion, visible to the owner and staff."""
    require_staff(dispute, actor, (Role.COMMITTEE,))
    text = clean_text(body, field="body", minimum=2, maximum=4000, message=_l("请填写意见"))
    event = record_event(session, dispute, kind=EventKind.OPINION, actor=actor, now=now, body=text)
    audit_action(session, dispute, actor, "dispute.opinion", now)
    return event
