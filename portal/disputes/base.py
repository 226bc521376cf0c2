"""What every dispute workflow shares: roles, reasons and limits, who may act on a
dispute, input checks, the timeline, compare-and-set status moves and the hold's release."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.audit import service as audit
from portal.billing import holds
from portal.billing import queries as billing_queries
from portal.billing.models import BillLine, HoldSource
from portal.disputes.models import (
    Dispute,
    DisputeEvent,
    RequestedOutcome,
    TargetType,
)
from portal.errors import Conflict, DomainError, NotFound, PermissionDenied

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


def parse_id(value: Any, field: str) -> int | None:
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


def creditable_fen(line: BillLine) -> int:
    """What a dispute on this line can at most ask back: the amount not already credited."""
    return line.amount_fen - line.waived_fen


# ---------------------------------------------------------------- opening


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str


def clean_text(text: Any, *, field: str, minimum: int, maximum: int, message: Any) -> str:
    value = text.strip() if isinstance(text, str) else ""
    if len(value) < minimum:
        raise DomainError(message, field=field, code="required")
    if len(value) > maximum:
        raise DomainError(_l("内容过长（最多 %(n)s 字）", n=maximum), field=field)
    return value


def parse_amount(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(_l("金额须为整数（分）"), field=field, code="bad_amount")
    if value <= 0:
        raise DomainError(_l("金额必须大于 0"), field=field, code="bad_amount")
    if value > MAX_CREDIT_FEN:
        raise DomainError(_l("金额过大，请核对"), field=field, code="bad_amount")
    return value


def record_event(
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


def release_hold(session: Session, dispute: Dispute, now: datetime) -> None:
    """The dispute closed (in this transaction): its amount is collectable again."""
    holds.release_holds(session, source_type=HoldSource.DISPUTE, source_id=dispute.id, now=now)


# ---------------------------------------------------------------- look-ups


def owned_unit_ids(session: Session, user: User) -> list[int]:
    return billing_queries.owned_unit_ids(session, user)


def is_owner_of(session: Session, dispute: Dispute, user: User) -> bool:
    """The owner who raised it, or a current owner of its unit."""
    return dispute.owner_id == user.id or dispute.unit_id in owned_unit_ids(session, user)


def staff_roles_in(user: User, community_id: int) -> set[str]:
    """The dispute roles the user holds in a community (admins: all)."""
    if user.is_admin:
        return set(READ_ROLES)
    return {r.role for r in user.roles if r.community_id == community_id and r.role in READ_ROLES}


# ---------------------------------------------------------------- transitions


def require_staff(dispute: Dispute, actor: User, roles: Sequence[str]) -> None:
    if not (actor.is_admin or staff_roles_in(actor, dispute.community_id) & set(roles)):
        raise PermissionDenied(_l("没有权限处理该异议"))


def require_owner(session: Session, dispute: Dispute, user: User) -> None:
    if not is_owner_of(session, dispute, user):
        raise NotFound(_l("异议不存在"))


def move_status(
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


def first_response_values(dispute: Dispute, now: datetime) -> dict[str, Any]:
    return {"first_response_at": now} if dispute.first_response_at is None else {}


def audit_action(
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
