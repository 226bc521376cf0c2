"""Rewards for paying on time (缴费激励): a community's policy, and each reward as a ledger entry.

A reward is never a hidden reduction of a bill: a credit is a balanced journal entry from the
expense account "owner_rewards" to the unit's prepayment (its 预存款, which pays the next bills),
so its cost shows in the community's figures — the company's own money under 包干制, an
expense of the owners' fees disclosed in the accounts under 酬金制. Points are counted only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, cast, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.audit import service as audit
from portal.billing import ledger
from portal.billing.models import Bill, BillLine, EntryKind, JournalEntry, Posting
from portal.communities.models import Community, FeeRegime, Unit
from portal.errors import DomainError
from portal.governance.models import RewardGrant, RewardKind, RewardPolicy
from portal.payments.models import AutoDebitMandate, MandateStatus
from portal.timeutil import to_local, zone

MAX_PREPAY_RATE = Decimal("0.1000")  # 10 %: beyond this a "reward" is a fee cut in disguise
MAX_AUTOPAY_CREDIT_FEN = 50_000  # ¥500
MAX_POINTS = 1000
REWARD_ACCOUNT = "owner_rewards"

KIND_LABELS: dict[str, Any] = {
    RewardKind.PREPAY_YEAR: _l("预缴一年返还"),
    RewardKind.AUTOPAY: _l("开通自动代扣抵扣"),
    RewardKind.EARLY_POINTS: _l("按期缴费积分"),
}


def get_policy(session: Session, *, community: Community) -> RewardPolicy | None:
    return session.scalar(select(RewardPolicy).where(RewardPolicy.community_id == community.id))


def parse_percent(text: str | None) -> Decimal:
    """'2.5' (percent) → Decimal('0.0250'); refuses negatives, over 10 and sub-basis-points."""
    try:
        value = Decimal((text or "0").strip() or "0")
    except InvalidOperation as exc:
        raise DomainError(
            _l("请输入 0 到 10 之间的百分数"), field="prepay_year_percent", code="bad_rate"
        ) from exc
    rate = value / 100
    if (
        not value.is_finite()
        or rate < 0
        or rate > MAX_PREPAY_RATE
        or rate != rate.quantize(Decimal("0.0001"))
    ):
        raise DomainError(
            _l("请输入 0 到 10 之间的百分数"), field="prepay_year_percent", code="bad_rate"
        )
    return rate.quantize(Decimal("0.0001"))


def set_policy(
    session: Session,
    *,
    community: Community,
    actor: User,
    prepay_year_rate: Decimal,
    autopay_credit_fen: int,
    early_points: int,
    now: datetime,
) -> RewardPolicy:
    """Set the community's rewards (audited); they apply from now on, never retroactively."""
    if not Decimal(0) <= prepay_year_rate <= MAX_PREPAY_RATE:
        raise DomainError(
            _l("请输入 0 到 10 之间的百分数"), field="prepay_year_percent", code="bad_rate"
        )
    if not 0 <= autopay_credit_fen <= MAX_AUTOPAY_CREDIT_FEN:
        raise DomainError(
            _l("自动代扣抵扣须在 0 到 500 元之间"), field="autopay_credit", code="bad_credit"
        )
    if not 0 <= early_points <= MAX_POINTS:
        raise DomainError(_l("积分须在 0 到 1000 之间"), field="early_points", code="bad_points")
    policy = get_policy(session, community=community)
    if policy is None:
        policy = RewardPolicy(community_id=community.id)
        session.add(policy)
    before = {
        "prepay_year_rate": str(policy.prepay_year_rate or 0),
        "autopay_credit_fen": policy.autopay_credit_fen or 0,
        "early_points": policy.early_points or 0,
    }
    policy.prepay_year_rate = prepay_year_rate
    policy.autopay_credit_fen = autopay_credit_fen
    policy.early_points = early_points
    policy.updated_by_id = actor.id
    policy.updated_at = now
    session.flush()
    audit.record(
        session,
        actor_id=actor.id,
        action="governance.reward_policy",
        target_type="reward_policy",
        target_id=policy.id,
        community_id=community.id,
        now=now,
        details={
            "before": before,
            "after": {
                "prepay_year_rate": str(prepay_year_rate),
                "autopay_credit_fen": autopay_credit_fen,
                "early_points": early_points,
            },
        },
    )
    return policy


def reward_account_name(community: Community) -> str:
    """Whose money a reward is: the company's (包干制) or the owners' fees, disclosed (酬金制)."""
    if community.fee_regime == FeeRegime.COMMISSION:
        return "缴费奖励（酬金制：计入物业费支出并向业主公示）"
    return "缴费奖励（包干制：物业公司自有资金承担）"


def _grant(
    session: Session,
    *,
    community: Community,
    unit_id: int,
    kind: str,
    source_key: str,
    credit_fen: int = 0,
    points: int = 0,
    now: datetime,
) -> RewardGrant | None:
    """One reward, once per (kind, unit, source); a credit posts its ledger entry."""
    if credit_fen <= 0 and points <= 0:
        return None
    grant = RewardGrant(
        community_id=community.id,
        unit_id=unit_id,
        kind=kind,
        source_key=source_key,
        credit_fen=max(credit_fen, 0),
        points=max(points, 0),
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(grant)
    except IntegrityError:
        return None  # already given: re-running the job changes nothing
    if credit_fen > 0:
        expense = ledger.expense(
            session,
            community_id=community.id,
            code=REWARD_ACCOUNT,
            name=reward_account_name(community),
        )
        prepaid = ledger.prepayment(session, community_id=community.id, unit_id=unit_id)
        entry = ledger.post(
            session,
            community_id=community.id,
            kind=EntryKind.ADJUSTMENT,
            memo=f"缴费奖励 {KIND_LABELS[kind]} {source_key}",
            source_type="reward",
            source_id=grant.id,
            legs=[ledger.Leg(expense, credit_fen), ledger.Leg(prepaid, -credit_fen)],
            now=now,
        )
        grant.journal_entry_id = entry.id
    session.flush()
    return grant


@dataclass(frozen=True)
class RunResult:
    early_points: int = 0
    autopay: int = 0
    prepay: int = 0
    credit_fen: int = 0


def paid_on_time(session: Session, *, community: Community) -> list[tuple[int, int]]:
    """(bill id, unit id) of the community's paid bills whose last payment came by the due
    date (community time), and that have no points yet."""
    tz = zone(community.timezone)
    last_paid = (
        select(
            Bill.id,
            Bill.unit_id,
            Bill.due_date,
            func.max(JournalEntry.created_at).label("paid_at"),
        )
        .join(BillLine, BillLine.bill_id == Bill.id)
        .join(Posting, Posting.bill_line_id == BillLine.id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .outerjoin(
            RewardGrant,
            and_(
                RewardGrant.kind == RewardKind.EARLY_POINTS,
                RewardGrant.unit_id == Bill.unit_id,
                RewardGrant.source_key == literal("bill:", String).concat(cast(Bill.id, String)),
            ),
        )
        .where(
            Bill.community_id == community.id,
            Bill.outstanding_fen == 0,
            Bill.amount_fen > Bill.waived_fen,
            JournalEntry.kind.in_((EntryKind.PAYMENT, EntryKind.PREPAYMENT_APPLIED)),
            RewardGrant.id.is_(None),
        )
        .group_by(Bill.id, Bill.unit_id, Bill.due_date)
    )
    found = []
    for bill_id, unit_id, due_date, paid_at in session.execute(last_paid):
        if paid_at is not None and _local_day(paid_at, tz) <= due_date:
            found.append((bill_id, unit_id))
    return found


def _local_day(instant: datetime, tz: Any) -> date:
    return to_local(instant, tz).date()


def run_rewards(session: Session, *, community: Community, now: datetime) -> RunResult:
    """Give every reward the policy earns that has not been given (idempotent)."""
    policy = get_policy(session, community=community)
    if policy is None:
        return RunResult()
    points = autopay = prepay = credit = 0
    if policy.early_points > 0:
        for bill_id, unit_id in paid_on_time(session, community=community):
            if _grant(
                session,
                community=community,
                unit_id=unit_id,
                kind=RewardKind.EARLY_POINTS,
                source_key=f"bill:{bill_id}",
                points=policy.early_points,
                now=now,
            ):
                points += 1
    if policy.autopay_credit_fen > 0:
        mandated = session.scalars(
            select(AutoDebitMandate.unit_id)
            .join(Unit, Unit.id == AutoDebitMandate.unit_id)
            .where(
                Unit.community_id == community.id, AutoDebitMandate.status == MandateStatus.ACTIVE
            )
            .distinct()
        )
        for unit_id in list(mandated):
            if _grant(
                session,
                community=community,
                unit_id=unit_id,
                kind=RewardKind.AUTOPAY,
                source_key="autopay",  # once per unit, however often it is set up again
                credit_fen=policy.autopay_credit_fen,
                now=now,
            ):
                autopay += 1
                credit += policy.autopay_credit_fen
    if policy.prepay_year_rate > 0:
        year = to_local(now, zone(community.timezone)).year
        for unit_id, monthly_fen in _latest_monthly_fees(session, community=community):
            year_fen = monthly_fen * 12
            if (
                year_fen <= 0
                or ledger.prepayment_balance(session, unit_id=unit_id, community_id=community.id)
                < year_fen
            ):
                continue
            reward = int(
                (Decimal(year_fen) * policy.prepay_year_rate).quantize(
                    Decimal(1), rounding=ROUND_HALF_UP
                )
            )
            if _grant(
                session,
                community=community,
                unit_id=unit_id,
                kind=RewardKind.PREPAY_YEAR,
                source_key=str(year),
                credit_fen=reward,
                now=now,
            ):
                prepay += 1
                credit += reward
    return RunResult(early_points=points, autopay=autopay, prepay=prepay, credit_fen=credit)


def _latest_monthly_fees(session: Session, *, community: Community) -> list[tuple[int, int]]:
    """(unit id, monthly amount of its latest bill) for the community's units."""
    latest = (
        select(Bill.unit_id, func.max(Bill.period).label("period"))
        .where(Bill.community_id == community.id)
        .group_by(Bill.unit_id)
        .subquery()
    )
    rows = session.execute(
        select(Bill.unit_id, Bill.amount_fen, Bill.period_months).join(
            latest, and_(latest.c.unit_id == Bill.unit_id, latest.c.period == Bill.period)
        )
    )
    return [(uid, amount // max(months, 1)) for uid, amount, months in rows]


def grants_of(session: Session, *, unit_ids: list[int], limit: int = 50) -> list[RewardGrant]:
    """A unit's rewards, newest first."""
    if not unit_ids:
        return []
    return list(
        session.scalars(
            select(RewardGrant)
            .where(RewardGrant.unit_id.in_(unit_ids))
            .order_by(RewardGrant.id.desc())
            .limit(limit)
        )
    )


def totals(session: Session, *, community: Community) -> dict[str, int]:
    """What the rewards have cost the community (credits) and the points given."""
    credit, points, grants = session.execute(
        select(
            func.coalesce(func.sum(RewardGrant.credit_fen), 0),
            func.coalesce(func.sum(RewardGrant.points), 0),
            func.count(RewardGrant.id),
        ).where(RewardGrant.community_id == community.id)
    ).one()
    return {"credit_fen": int(credit), "points": int(points), "grants": int(grants)}


def points_of(session: Session, *, unit_ids: list[int]) -> int:
    if not unit_ids:
        return 0
    return int(
        session.scalar(
            select(func.coalesce(func.sum(RewardGrant.points), 0)).where(
                RewardGrant.unit_id.in_(unit_ids)
            )
        )
        or 0
    )
