"""Disputes: open, respond, propose, accept/reject, escalate, close; holds and statistics.

Rules enforced here (identical for HTML, JSON and the demo):
- an owner disputes only their own bill lines, and only published records of their community;
- a requested credit never exceeds the disputed amount; one open dispute per bill line;
- state changes are compare-and-set UPDATEs, so two clicks (or two staff) cannot both win;
- an accepted credit or correction is an ADJUSTMENT entry in the ledger, never an edit;
- while a dispute on a bill line is open, the disputed amount is on hold: payments are not
  allocated to it, late fees are not charged on it, and collections leave it alone.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import Role, User
from portal.audit import service as audit
from portal.billing import service as billing
from portal.billing.models import Bill, BillLine, FeeStandard
from portal.communities.models import Community, Ownership, Unit
from portal.disputes import messages
from portal.disputes.models import (
    FAVOURABLE_OUTCOMES,
    OPEN_STATUSES,
    Dispute,
    DisputeEvent,
    DisputeEvidence,
    DisputeProposal,
    DisputeSettings,
    DisputeStatus,
    EscalationTarget,
    EventKind,
    Outcome,
    ProposalKind,
    ProposalStatus,
    RequestedOutcome,
    TargetType,
)
from portal.disputes.workdays import add_working_days
from portal.domains import optional_module
from portal.errors import Conflict, DomainError, NotFound, PermissionDenied
from portal.ledger import service as ledger
from portal.ledger.models import EntryKind
from portal.money import fen_to_yuan_str
from portal.timeutil import local_today, zone

HANDLER_ROLES = (Role.CS, Role.FINANCE, Role.MANAGER)  # respond to disputes
MONEY_ROLES = (Role.FINANCE, Role.MANAGER)  # propose credits and corrections with money
READ_ROLES = (*HANDLER_ROLES, Role.COMMITTEE)  # the committee reads and gives opinions
K_ANONYMITY = 5
MAX_CREDIT_FEN = 10_000_000  # ¥100,000: anything larger is a typing error
EVIDENCE_MAX_FILES = 6

REASONS: dict[str, dict[str, Any]] = {
    TargetType.BILL_LINE: {
        "wrong_area": _l("面积有误"),
        "wrong_rate": _l("单价有误"),
        "service_not_provided": _l("服务未提供"),
        "duplicate_charge": _l("重复收费"),
        "late_fee": _l("违约金有异议"),
        "other": _l("其他"),
    },
    TargetType.SPENDING: {
        "amount_questioned": _l("金额存疑"),
        "purpose_questioned": _l("用途存疑"),
        "evidence_missing": _l("凭证不足"),
        "other": _l("其他"),
    },
    TargetType.FEE_STANDARD: {
        "rate_unreasonable": _l("标准不合理"),
        "not_announced": _l("调整未依法公示"),
        "basis_wrong": _l("计费方式有误"),
        "other": _l("其他"),
    },
    TargetType.SERVICE: {
        "service_quality": _l("服务质量差"),
        "repair_unresolved": _l("报修未解决"),
        "staff_conduct": _l("工作人员态度"),
        "security_cleaning": _l("安保或保洁不到位"),
        "other": _l("其他"),
    },
}
TARGET_LABELS: dict[str, Any] = {
    TargetType.BILL_LINE: _l("账单费用"),
    TargetType.SPENDING: _l("公开的支出"),
    TargetType.FEE_STANDARD: _l("收费标准"),
    TargetType.SERVICE: _l("物业服务"),
}
# Credits are money to one owner; a spending item or a fee standard is corrected instead.
OUTCOMES_FOR: dict[str, tuple[str, ...]] = {
    TargetType.BILL_LINE: tuple(RequestedOutcome),
    TargetType.SERVICE: tuple(RequestedOutcome),
    TargetType.SPENDING: (RequestedOutcome.CORRECTION, RequestedOutcome.EXPLANATION),
    TargetType.FEE_STANDARD: (RequestedOutcome.CORRECTION, RequestedOutcome.EXPLANATION),
}


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


def _int_id(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise DomainError(_l("编号无效"), field=field)
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise DomainError(_l("编号无效"), field=field) from exc
    if not 0 < number < 2**31:
        raise DomainError(_l("编号无效"), field=field)
    return number


def resolve_target(
    session: Session, *, owner: User, target_type: str, target_id: Any, unit_id: int | None = None
) -> Target:
    """What the owner disputes, checked: their own bill line, a published record of their
    community, or the service (optionally one of their repair tickets). Else NotFound."""
    if target_type not in set(TargetType):
        raise DomainError(_l("请选择异议对象"), field="target_type")
    ident = _int_id(target_id, "target_id")
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
        models = optional_module("transparency", "models")
        item = session.get(models.SpendingItem, ident) if models is not None and ident else None
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
            tickets = optional_module("tickets", "service")
            ticket = (
                tickets.get_owned_ticket(session, user=owner, ticket_id=ident)
                if tickets is not None
                else None
            )
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


def creditable_fen(line: BillLine) -> int:
    """What a dispute on this line can at most ask back: the amount not already credited."""
    return line.amount_fen - line.waived_fen


# ---------------------------------------------------------------- opening


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str


def _clean(text: Any, *, field: str, minimum: int, maximum: int, message: Any) -> str:
    value = text.strip() if isinstance(text, str) else ""
    if len(value) < minimum:
        raise DomainError(message, field=field, code="required")
    if len(value) > maximum:
        raise DomainError(_l("内容过长（最多 %(n)s 字）", n=maximum), field=field)
    return value


def _amount(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(_l("金额须为整数（分）"), field=field, code="bad_amount")
    if value <= 0:
        raise DomainError(_l("金额必须大于 0"), field=field, code="bad_amount")
    if value > MAX_CREDIT_FEN:
        raise DomainError(_l("金额过大，请核对"), field=field, code="bad_amount")
    return value


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


def _event(
    session: Session,
    dispute: Dispute,
    *,
    kind: str,
    actor: User | None,
    now: datetime,
    body: str = "",
    from_status: str | None = None,
    to_status: str | None = None,
    internal: bool = False,
    data: dict[str, Any] | None = None,
) -> DisputeEvent:
    event = DisputeEvent(
        dispute_id=dispute.id,
        at=now,
        actor_id=actor.id if actor is not None else None,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        body=body,
        internal=internal,
        data=data or {},
    )
    session.add(event)
    session.flush()
    return event


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
    text = _clean(
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
    amount = _amount(requested_amount_fen, "requested_amount")
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
    _event(
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
    _event(
        session,
        dispute,
        kind=EventKind.EVIDENCE_ADDED,
        actor=actor,
        now=now,
        data={"count": count},
    )
    return count


# ---------------------------------------------------------------- look-ups


def _owned_unit_ids(session: Session, user: User) -> list[int]:
    return billing.owned_unit_ids(session, user)


def is_owner_of(session: Session, dispute: Dispute, user: User) -> bool:
    """The owner who raised it, or a current owner of its unit."""
    return dispute.owner_id == user.id or dispute.unit_id in _owned_unit_ids(session, user)


def get_owned_dispute(session: Session, *, owner: User, dispute_id: int) -> Dispute | None:
    """The dispute if the user raised it or owns its unit now; None (→ 404) otherwise."""
    return session.scalar(
        select(Dispute).where(
            Dispute.id == dispute_id,
            or_(
                Dispute.owner_id == owner.id,
                Dispute.unit_id.in_(_owned_unit_ids(session, owner) or [-1]),
            ),
        )
    )


def staff_roles_in(user: User, community_id: int) -> set[str]:
    """The dispute roles the user holds in a community (admins: all)."""
    if user.is_admin:
        return set(READ_ROLES)
    return {r.role for r in user.roles if r.community_id == community_id and r.role in READ_ROLES}


def get_scoped_dispute(session: Session, *, staff: User, dispute_id: int) -> Dispute | None:
    """A dispute of a community where the user handles or oversees disputes; else None."""
    dispute = session.get(Dispute, dispute_id)
    if dispute is None or not staff_roles_in(staff, dispute.community_id):
        return None
    return dispute


def owner_disputes(session: Session, *, owner: User, limit: int = 200) -> list[Dispute]:
    """The owner's disputes (and those on units they own), open first, newest first."""
    return list(
        session.scalars(
            select(Dispute)
            .where(
                or_(
                    Dispute.owner_id == owner.id,
                    Dispute.unit_id.in_(_owned_unit_ids(session, owner) or [-1]),
                )
            )
            .order_by(case((Dispute.status == DisputeStatus.CLOSED, 1), else_=0), Dispute.id.desc())
            .limit(limit)
        )
    )


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
    models = optional_module("transparency", "models")
    if by_type.get(TargetType.SPENDING) and models is not None:
        for item in session.scalars(
            select(models.SpendingItem).where(
                models.SpendingItem.id.in_(by_type[TargetType.SPENDING])
            )
        ):
            labels[(TargetType.SPENDING, item.id)] = (
                f"{item.spent_on} {item.description} {_yuan(item.amount_fen)}"
            )
    tickets = optional_module("tickets", "models")
    if by_type.get(TargetType.SERVICE) and tickets is not None:
        for ticket in session.scalars(
            select(tickets.Ticket).where(tickets.Ticket.id.in_(by_type[TargetType.SERVICE]))
        ):
            labels[(TargetType.SERVICE, ticket.id)] = str(_l("报修 %(n)s", n=ticket.number))
    return labels


def _yuan(fen: int) -> str:
    return "¥" + fen_to_yuan_str(fen)


# ---------------------------------------------------------------- transitions


def _require_staff(dispute: Dispute, actor: User, roles: Sequence[str]) -> None:
    if not (actor.is_admin or staff_roles_in(actor, dispute.community_id) & set(roles)):
        raise PermissionDenied(_l("没有权限处理该异议"))


def _require_owner(session: Session, dispute: Dispute, user: User) -> None:
    if not is_owner_of(session, dispute, user):
        raise NotFound(_l("异议不存在"))


def _move(
    session: Session,
    dispute: Dispute,
    *,
    allowed: Iterable[str],
    to: str,
    now: datetime,
    **values: Any,
) -> str:
    """Compare-and-set the dispute's status; returns the status it had. Conflict if it moved."""
    allowed = tuple(allowed)
    old = dispute.status
    if old not in allowed:
        raise Conflict(_l("当前状态下不能进行该操作"), code="bad_status")
    done = session.execute(
        update(Dispute)
        .where(Dispute.id == dispute.id, Dispute.status == old)
        .values(status=to, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Conflict(_l("异议状态已变化，请刷新后重试"), code="status_changed")
    session.expire(dispute)
    return old


def _first_response(dispute: Dispute, now: datetime) -> dict[str, Any]:
    return {"first_response_at": now} if dispute.first_response_at is None else {}


def acknowledge(
    session: Session, *, dispute: Dispute, actor: User, now: datetime, message: str = ""
) -> None:
    """First response: the dispute is received and being looked at."""
    _require_staff(dispute, actor, HANDLER_ROLES)
    body = message.strip()[:2000]
    old = _move(
        session,
        dispute,
        allowed=(DisputeStatus.SUBMITTED,),
        to=DisputeStatus.ACKNOWLEDGED,
        now=now,
        **_first_response(dispute, now),
    )
    _event(
        session,
        dispute,
        kind=EventKind.ACKNOWLEDGED,
        actor=actor,
        now=now,
        body=body,
        from_status=old,
        to_status=DisputeStatus.ACKNOWLEDGED,
    )
    _audit(session, dispute, actor, "dispute.acknowledge", now)


def start_review(
    session: Session, *, dispute: Dispute, actor: User, now: datetime, message: str = ""
) -> None:
    """Under review (checking the meter, the contract, the invoice…)."""
    _require_staff(dispute, actor, HANDLER_ROLES)
    old = _move(
        session,
        dispute,
        allowed=(DisputeStatus.SUBMITTED, DisputeStatus.ACKNOWLEDGED),
        to=DisputeStatus.UNDER_REVIEW,
        now=now,
        **_first_response(dispute, now),
    )
    _event(
        session,
        dispute,
        kind=EventKind.REVIEW_STARTED,
        actor=actor,
        now=now,
        body=message.strip()[:2000],
        from_status=old,
        to_status=DisputeStatus.UNDER_REVIEW,
    )
    _audit(session, dispute, actor, "dispute.review", now)


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
    amount = _amount(amount_fen, "amount")
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
    _require_staff(dispute, actor, HANDLER_ROLES)
    if dispute.status not in PROPOSE_FROM:
        raise Conflict(_l("当前状态下不能提出方案"), code="bad_status")
    amount = _check_proposal(session, dispute, kind=kind, amount_fen=amount_fen, actor=actor)
    text = _clean(body, field="body", minimum=2, maximum=4000, message=_l("请填写答复内容"))
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
            old_status = _move(
                session,
                dispute,
                allowed=(DisputeStatus.SUBMITTED, DisputeStatus.ACKNOWLEDGED),
                to=DisputeStatus.UNDER_REVIEW,
                now=now,
                **_first_response(dispute, now),
            )
            _event(
                session,
                dispute,
                kind=EventKind.REVIEW_STARTED,
                actor=actor,
                now=now,
                from_status=old_status,
                to_status=DisputeStatus.UNDER_REVIEW,
            )
        _event(
            session,
            dispute,
            kind=EventKind.PROPOSAL_DRAFTED,
            actor=actor,
            now=now,
            body=text,
            internal=True,
            data={"proposal_id": proposal.id, "kind": kind, "amount_fen": amount},
        )
        _audit(session, dispute, actor, "dispute.propose_draft", now, {"amount_fen": amount})
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
    values: dict[str, Any] = _first_response(dispute, now)
    if dispute.proposed_at is None:
        values["proposed_at"] = now
    old = _move(
        session, dispute, allowed=PROPOSE_FROM, to=DisputeStatus.PROPOSED, now=now, **values
    )
    _event(
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
    _audit(
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
        ident = _int_id(proposal_id, "proposal_id")
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
    _require_staff(dispute, actor, (Role.MANAGER,))
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
    _event(
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
    _require_staff(dispute, actor, (Role.MANAGER,))
    proposal = get_proposal(session, dispute=dispute, proposal_id=proposal_id)
    text = _clean(reason, field="reason", minimum=2, maximum=2000, message=_l("请填写退回原因"))
    _claim(
        session,
        proposal,
        old=ProposalStatus.AWAITING_APPROVAL,
        new=ProposalStatus.DECLINED,
        now=now,
    )
    _event(
        session,
        dispute,
        kind=EventKind.PROPOSAL_DECLINED,
        actor=actor,
        now=now,
        body=text,
        internal=True,
        data={"proposal_id": proposal.id},
    )
    _audit(session, dispute, actor, "dispute.decline_proposal", now, {"proposal_id": proposal.id})


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
    _require_owner(session, dispute, owner)
    proposal = get_proposal(session, dispute=dispute, proposal_id=proposal_id)
    if proposal.status != ProposalStatus.OFFERED:
        raise Conflict(
            _l("该答复方案已失效，请刷新后查看"), field="proposal_id", code="not_offered"
        )
    _claim(session, proposal, old=ProposalStatus.OFFERED, new=ProposalStatus.ACCEPTED, now=now)
    outcome = _outcome_of(dispute, proposal)
    old = _move(
        session,
        dispute,
        allowed=(DisputeStatus.PROPOSED,),
        to=DisputeStatus.CLOSED,
        now=now,
        outcome=outcome,
        closed_at=now,
        open_key=None,
    )
    _event(
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
        _event(
            session,
            dispute,
            kind=EventKind.CREDIT_POSTED,
            actor=None,
            now=now,
            data={"amount_fen": proposal.amount_fen, "entries": entries},
        )
    _event(
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
    from portal.ledger.models import JournalEntry

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
            billing.waive_line(
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
        billing.apply_prepayment(
            session, unit_id=dispute.unit_id, community_id=dispute.community_id, now=now
        )
    session.execute(
        update(Dispute)
        .where(Dispute.id == dispute.id)
        .values(credited_fen=Dispute.credited_fen + amount)
        .execution_options(synchronize_session=False)
    )
    session.expire(dispute, ["credited_fen"])
    _audit(
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
    _require_owner(session, dispute, owner)
    proposal = get_proposal(session, dispute=dispute, proposal_id=proposal_id)
    text = _clean(reason, field="reason", minimum=2, maximum=2000, message=_l("请说明不接受的原因"))
    if proposal.status != ProposalStatus.OFFERED:
        raise Conflict(
            _l("该答复方案已失效，请刷新后查看"), field="proposal_id", code="not_offered"
        )
    _claim(session, proposal, old=ProposalStatus.OFFERED, new=ProposalStatus.REJECTED, now=now)
    proposal.owner_reason = text
    old = _move(
        session, dispute, allowed=(DisputeStatus.PROPOSED,), to=DisputeStatus.REJECTED, now=now
    )
    _event(
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
    text = _clean(reason, field="reason", minimum=2, maximum=2000, message=_l("请说明升级的理由"))
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
        _require_staff(dispute, actor, (Role.MANAGER,))
        allowed = (
            DisputeStatus.SUBMITTED,
            DisputeStatus.ACKNOWLEDGED,
            DisputeStatus.UNDER_REVIEW,
            DisputeStatus.REJECTED,
        )
    old = _move(
        session,
        dispute,
        allowed=allowed,
        to=DisputeStatus.ESCALATED,
        now=now,
        escalated_to=to,
        escalated_at=now,
    )
    _event(
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
        _audit(session, dispute, actor, "dispute.escalate", now, {"to": to})


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
    _require_owner(session, dispute, owner)
    old = _move(
        session,
        dispute,
        allowed=OPEN_STATUSES,
        to=DisputeStatus.CLOSED,
        now=now,
        outcome=Outcome.WITHDRAWN,
        closed_at=now,
        open_key=None,
    )
    _supersede_open_proposals(session, dispute)
    _event(
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
    _require_staff(dispute, actor, (Role.MANAGER,))
    if outcome not in CLOSE_OUTCOMES[dispute.target_type]:
        raise DomainError(_l("该结论不适用；支持业主的账单异议须通过减免方案办理"), field="outcome")
    text = _clean(note, field="note", minimum=2, maximum=4000, message=_l("请填写结案说明"))
    old = _move(
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
    _supersede_open_proposals(session, dispute)
    _event(
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
    _audit(session, dispute, actor, "dispute.close", now, {"outcome": outcome})


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
    text = _clean(body, field="body", minimum=1, maximum=2000, message=_l("请填写内容"))
    as_owner = is_owner_of(session, dispute, actor)
    if not as_owner:
        _require_staff(dispute, actor, READ_ROLES)
        if Role.COMMITTEE in staff_roles_in(actor, dispute.community_id) and not (
            staff_roles_in(actor, dispute.community_id) & set(HANDLER_ROLES)
        ):
            return add_opinion(session, dispute=dispute, actor=actor, body=text, now=now)
    if not dispute.is_open and not internal:
        raise Conflict(_l("异议已结案"), code="closed")
    return _event(
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
    _require_staff(dispute, actor, (Role.COMMITTEE,))
    text = _clean(body, field="body", minimum=2, maximum=4000, message=_l("请填写意见"))
    event = _event(session, dispute, kind=EventKind.OPINION, actor=actor, now=now, body=text)
    _audit(session, dispute, actor, "dispute.opinion", now)
    return event


def _audit(
    session: Session,
    dispute: Dispute,
    actor: User,
    action: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor_id=actor.id,
        action=action,
        target_type="dispute",
        target_id=dispute.id,
        community_id=dispute.community_id,
        now=now,
        details=details,
    )


# ---------------------------------------------------------------- holds (billing, collections)


def held_amounts(session: Session, *, unit_ids: list[int]) -> dict[int, int]:
    """Fen on hold per bill line under an open dispute: the line's outstanding up to the
    requested amount, or all of it when a correction (or just an explanation) is asked."""
    if not unit_ids:
        return {}
    held = case(
        (
            or_(
                Dispute.requested_outcome == RequestedOutcome.CORRECTION,
                Dispute.requested_amount_fen.is_(None),
                Dispute.requested_amount_fen >= BillLine.outstanding_fen,
            ),
            BillLine.outstanding_fen,
        ),
        else_=Dispute.requested_amount_fen,
    )
    rows = session.execute(
        select(Dispute.bill_line_id, func.max(held))
        .join(BillLine, BillLine.id == Dispute.bill_line_id)
        .where(
            Dispute.unit_id.in_(list(unit_ids)),
            Dispute.status.in_(OPEN_STATUSES),
            BillLine.outstanding_fen > 0,
        )
        .group_by(Dispute.bill_line_id)
    )
    return {int(line_id): int(amount) for line_id, amount in rows if amount}


def collectable_fen(session: Session, *, unit_id: int) -> int:
    """What collections may pursue for a unit: its outstanding less amounts under dispute."""
    outstanding = session.scalar(
        select(func.coalesce(func.sum(Bill.outstanding_fen), 0)).where(Bill.unit_id == unit_id)
    )
    held = sum(held_amounts(session, unit_ids=[unit_id]).values())
    return max(0, int(outstanding or 0) - held)


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


def open_line_disputes(session: Session, *, bill: Bill) -> dict[int, Dispute]:
    """Open disputes on a bill's lines."""
    return {
        line_id: d
        for line_id, d in line_disputes(session, line_ids=[ln.id for ln in bill.lines]).items()
        if d.is_open
    }
