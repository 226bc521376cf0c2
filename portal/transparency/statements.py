"""Annual income-and-expenditure statements: mandatory under 酬金制 (the fees are the owners'
money and the company takes an agreed commission), offered under 包干制 as well."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import service as audit
from portal.communities.models import Community, FeeRegime
from portal.errors import DomainError
from portal.publication import service as publication
from portal.transparency import service as spending
from portal.transparency import summary
from portal.transparency.budgets import check_year
from portal.transparency.models import AnnualStatement, RecordStatus

KIND_STATEMENT = "annual_statement"


def commission_for(community: Community, fee_income_fen: int) -> tuple[Decimal | None, int]:
    """(rate, commission in fen, half-up) under 酬金制; (None, 0) otherwise."""
    if community.fee_regime != FeeRegime.COMMISSION or community.commission_rate is None:
        return None, 0
    # Four places, as the column stores it, so the published text survives a round trip.
    rate = Decimal(community.commission_rate).quantize(Decimal("0.0001"))
    return rate, int((Decimal(fee_income_fen) * rate).quantize(Decimal(1), ROUND_HALF_UP))


def _audit(
    session: Session, statement: AnnualStatement, action: str, actor: User, now: datetime
) -> None:
    audit.record(
        session,
        actor_id=actor.id,
        action=action,
        target_type="annual_statement",
        target_id=statement.id,
        community_id=statement.community_id,
        now=now,
        details={"year": statement.year, "version": statement.version},
    )


def get_scoped_statement(
    session: Session, *, user: User, statement_id: int
) -> AnnualStatement | None:
    statement = session.get(AnnualStatement, statement_id)
    if statement is None or not spending.can_edit(user, statement.community_id):
        return None
    return statement


def list_statements(
    session: Session, *, community_id: int, published_only: bool = True
) -> list[AnnualStatement]:
    query = select(AnnualStatement).where(AnnualStatement.community_id == community_id)
    if published_only:
        query = query.where(AnnualStatement.status == RecordStatus.PUBLISHED)
    return list(
        session.scalars(query.order_by(AnnualStatement.year.desc(), AnnualStatement.version.desc()))
    )


def current_statement(session: Session, *, community_id: int, year: int) -> AnnualStatement | None:
    return session.scalar(
        select(AnnualStatement)
        .where(
            AnnualStatement.community_id == community_id,
            AnnualStatement.year == year,
            AnnualStatement.status == RecordStatus.PUBLISHED,
        )
        .order_by(AnnualStatement.version.desc())
        .limit(1)
    )


def _fill(
    session: Session,
    statement: AnnualStatement,
    community: Community,
    *,
    fee_income_fen: Any,
    other_income_fen: Any,
    note: str,
) -> None:
    statement.fee_income_fen = spending.check_amount(
        fee_income_fen, allow_zero=True, field="fee_income"
    )
    statement.other_income_fen = spending.check_amount(
        other_income_fen, allow_zero=True, field="other_income"
    )
    statement.note = spending._clean_text(note, limit=5000, field="note")
    statement.fee_regime = community.fee_regime
    statement.commission_rate, statement.commission_fen = commission_for(
        community, statement.fee_income_fen
    )
    totals = summary.spending_by_category(session, community_id=community.id, year=statement.year)
    statement.spending_lines = [
        {"code": t.code, "name": t.name, "amount_fen": t.total_fen} for t in totals if t.total_fen
    ]
    statement.spending_fen = sum(t.total_fen for t in totals)


def draft_statement(
    session: Session,
    *,
    community: Community,
    year: Any,
    fee_income_fen: Any,
    other_income_fen: Any,
    note: str = "",
    reason: str = "",
    actor: User,
    now: datetime,
) -> AnnualStatement:
    """Draft a year's statement from the published spending (a revision needs a reason)."""
    year = check_year(year)
    if session.scalar(
        select(AnnualStatement.id).where(
            AnnualStatement.community_id == community.id,
            AnnualStatement.year == year,
            AnnualStatement.status == RecordStatus.DRAFT,
        )
    ):
        raise DomainError(
            _l("%(year)s 年已有一份收支报告草稿", year=year), field="year", code="duplicate"
        )
    previous = current_statement(session, community_id=community.id, year=year)
    if previous is not None:
        reason = spending._clean_text(reason, limit=500, field="reason", required=True)
    last = session.scalar(
        select(func.max(AnnualStatement.version)).where(
            AnnualStatement.community_id == community.id, AnnualStatement.year == year
        )
    )
    statement = AnnualStatement(
        community_id=community.id,
        year=year,
        version=(last or 0) + 1,
        status=RecordStatus.DRAFT,
        supersedes_id=previous.id if previous else None,
        reason=(reason or "").strip(),
        created_by_id=actor.id,
        created_at=now,
    )
    _fill(
        session,
        statement,
        community,
        fee_income_fen=fee_income_fen,
        other_income_fen=other_income_fen,
        note=note,
    )
    session.add(statement)
    session.flush()
    _audit(session, statement, "statement.create", actor, now)
    return statement


def update_statement(
    session: Session,
    *,
    statement: AnnualStatement,
    community: Community,
    fee_income_fen: Any,
    other_income_fen: Any,
    note: str,
    actor: User,
    now: datetime,
) -> None:
    """Change a draft's income figures and note; spending is re-read from what is published."""
    if statement.status != RecordStatus.DRAFT:
        raise DomainError(_l("已公开的收支报告不能修改；请编制修订版"), code="published")
    _fill(
        session,
        statement,
        community,
        fee_income_fen=fee_income_fen,
        other_income_fen=other_income_fen,
        note=note,
    )
    session.flush()
    _audit(session, statement, "statement.update", actor, now)


def statement_payload(statement: AnnualStatement) -> dict[str, Any]:
    return {
        "year": statement.year,
        "version": statement.version,
        "fee_regime": statement.fee_regime,
        "fee_income_fen": statement.fee_income_fen,
        "other_income_fen": statement.other_income_fen,
        "commission_rate": (
            None if statement.commission_rate is None else str(statement.commission_rate)
        ),
        "commission_fen": statement.commission_fen,
        "spending_fen": statement.spending_fen,
        "spending_lines": [
            {"code": line["code"], "amount_fen": line["amount_fen"]}
            for line in statement.spending_lines
        ],
        "balance_fen": statement.balance_fen,
        "note": statement.note,
        "supersedes": statement.supersedes_id,
        "reason": statement.reason,
    }


def _current_payload(session: Session, record_id: int) -> dict[str, Any] | None:
    statement = session.get(AnnualStatement, record_id)
    if statement is None or statement.status != RecordStatus.PUBLISHED:
        return None
    return statement_payload(statement)


publication.register_kind(KIND_STATEMENT, _current_payload)


def publish_statement(
    session: Session,
    *,
    statement: AnnualStatement,
    community: Community,
    actor: User,
    now: datetime,
) -> AnnualStatement:
    if statement.status != RecordStatus.DRAFT:
        raise DomainError(_l("这份收支报告已经公开过了"), code="published")
    claimed = session.execute(
        update(AnnualStatement)
        .where(AnnualStatement.id == statement.id, AnnualStatement.status == RecordStatus.DRAFT)
        .values(status=RecordStatus.PUBLISHED, published_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if claimed != 1:
        raise DomainError(_l("这份收支报告已经公开过了"), code="published")
    session.refresh(statement)
    publication.append(
        session,
        community=community,
        kind=KIND_STATEMENT,
        record_id=statement.id,
        payload=statement_payload(statement),
        now=now,
    )
    _audit(session, statement, "statement.publish", actor, now)
    return statement


def delete_statement_draft(
    session: Session, *, statement: AnnualStatement, actor: User, now: datetime
) -> None:
    if statement.status != RecordStatus.DRAFT:
        raise DomainError(_l("已公开的收支报告不能删除"), code="published")
    _audit(session, statement, "statement.delete", actor, now)
    session.delete(statement)
    session.flush()
