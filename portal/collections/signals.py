"""Why is this owner behind? The signals a person reads, and the reason they suggest.

Each signal comes with its evidence in words, so a collector can see why a case is classified
as it is and confirm or override it. Dissatisfaction beats everything except hardship: an owner
who stopped paying because the lift is broken needs the lift fixed, not a lawyer's letter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from portal.billing.models import Bill, BillLine, EntryKind, JournalEntry, Posting
from portal.collections.models import (
    RESPONSIVE_OUTCOMES,
    ArrearsReason,
    CollectionCase,
    CollectionContact,
    ContactOutcome,
    Tier,
)
from portal.communities.models import Unit
from portal.db import chunked
from portal.disputes.models import OPEN_STATUSES as DISPUTE_OPEN
from portal.disputes.models import Dispute, TargetType
from portal.feedback.profile import (
    LOW_SCORE,
    SatisfactionProfile,
    satisfaction_profile,
    satisfaction_profiles,
)
from portal.tickets import queries as tickets_queries
from portal.tickets.models import OPEN_STATUSES as TICKET_OPEN
from portal.tickets.models import LocationType, Ticket, TicketCategory, TicketRating

LOOKBACK_DAYS = 365
ON_TIME_GOOD = 0.75  # 9 of the last 12 bills paid on time: most likely forgot


@dataclass
class Signals:
    on_time: tuple[int, int] = (0, 0)  # (paid on time, bills looked at)
    service: dict[str, Any] = field(default_factory=dict)
    common_overdue: list[dict[str, Any]] = field(default_factory=list)
    unit_overdue: list[dict[str, Any]] = field(default_factory=list)
    low_ratings: list[dict[str, Any]] = field(default_factory=list)
    service_disputes: list[dict[str, Any]] = field(default_factory=list)
    # From the feedback domain's satisfaction profile: survey answers of 2.5/5 or less, and
    # complaints (投诉) still open.
    low_surveys: list[dict[str, Any]] = field(default_factory=list)
    open_complaints: list[dict[str, Any]] = field(default_factory=list)
    satisfaction_score: int | None = None
    complained: int = 0
    refused: int = 0
    hardship: bool = False
    plan_requested: bool = False
    no_response: bool = False
    evidence: list[dict[str, str]] = field(default_factory=list)
    suggested: str = ArrearsReason.FORGOT

    @property
    def dissatisfied(self) -> bool:
        return bool(
            self.unit_overdue
            or self.common_overdue
            or self.low_ratings
            or self.service_disputes
            or self.low_surveys
            or self.open_complaints
            or self.complained
            # The same line as the arrears list's "dissatisfied" filter (feedback.profile).
            or (self.satisfaction_score is not None and self.satisfaction_score < LOW_SCORE)
        )

    def problems(self) -> list[dict[str, Any]]:
        """The specific problems a service-recovery task names."""
        out: list[dict[str, Any]] = []
        seen: set[tuple[str, int]] = set()
        for source in (
            self.unit_overdue,
            self.common_overdue,
            self.low_ratings,
            self.open_complaints,
        ):
            for item in source:
                key = ("ticket", item["ticket_id"])
                if key in seen:
                    continue
                seen.add(key)
                out.append({"type": "ticket", "id": item["ticket_id"], "text": item["text"]})
        for item in self.service_disputes:
            out.append({"type": "dispute", "id": item["dispute_id"], "text": item["text"]})
        for item in self.low_surveys:
            out.append({"type": "survey", "id": item["survey_id"], "text": item["text"]})
        if self.complained and not out:
            out.append({"type": "complaint", "id": None, "text": "催缴联系中业主投诉服务"})
        return out


def on_time_share(session: Session, *, unit_id: int, day: date) -> tuple[int, int]:
    """(paid in full by the due date, bills) over the unit's last 12 bills due before `day`."""
    bills = session.execute(
        select(Bill.id, Bill.due_date, Bill.outstanding_fen)
        .where(Bill.unit_id == unit_id, Bill.due_date < day)
        .order_by(Bill.period.desc())
        .limit(12)
    ).all()
    if not bills:
        return 0, 0
    ids = [b[0] for b in bills]
    last_paid = dict(
        session.execute(
            select(BillLine.bill_id, func.max(JournalEntry.created_at))
            .join(Posting, Posting.bill_line_id == BillLine.id)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(
                BillLine.bill_id.in_(ids),
                JournalEntry.kind.in_([EntryKind.PAYMENT, EntryKind.PREPAYMENT_APPLIED]),
            )
            .group_by(BillLine.bill_id)
        ).all()
    )
    on_time = 0
    for bill_id, due, outstanding in bills:
        if outstanding > 0:
            continue
        paid_at = last_paid.get(bill_id)
        # The due date's end in China (UTC+8): a bill paid that evening is on time.
        deadline = datetime.combine(due + timedelta(days=1), time(0), tzinfo=UTC) - timedelta(
            hours=8
        )
        if paid_at is None or paid_at <= deadline:
            on_time += 1
    return on_time, len(bills)


def prefetch(session: Session, *, unit_ids: list[int], day: date, now: datetime) -> dict[str, Any]:
    """The per-unit signals of many units in a few set-based queries (the daily run's cache):
    on-time share, open tickets, overdue tickets, their buildings' overdue common-area tickets,
    low ratings, open service disputes and the feedback domain's satisfaction profiles."""
    since = now - timedelta(days=LOOKBACK_DAYS)
    on_time: dict[int, list[int]] = {}
    open_tickets: dict[int, int] = {}
    unit_overdue: dict[int, list[dict[str, Any]]] = {}
    low: dict[int, list[dict[str, Any]]] = {}
    disputes: dict[int, list[dict[str, Any]]] = {}
    overdue = tickets_queries.overdue_clause(now)
    deadline_shift = timedelta(hours=8)
    for part in chunked(unit_ids):
        ranked = (
            select(
                Bill.id,
                Bill.unit_id,
                Bill.due_date,
                Bill.outstanding_fen,
                func.row_number()
                .over(partition_by=Bill.unit_id, order_by=Bill.period.desc())
                .label("rn"),
            )
            .where(Bill.unit_id.in_(part), Bill.due_date < day)
            .subquery()
        )
        bills = session.execute(
            select(
                ranked.c.id, ranked.c.unit_id, ranked.c.due_date, ranked.c.outstanding_fen
            ).where(ranked.c.rn <= 12)
        ).all()
        last_paid: dict[int, datetime] = {}
        # Only a paid bill has a payment date to compare with its due date.
        for ids in chunked([b[0] for b in bills if b[3] <= 0], 5000):
            last_paid.update(
                session.execute(
                    select(BillLine.bill_id, func.max(JournalEntry.created_at))
                    .join(Posting, Posting.bill_line_id == BillLine.id)
                    .join(JournalEntry, JournalEntry.id == Posting.entry_id)
                    .where(
                        BillLine.bill_id.in_(ids),
                        JournalEntry.kind.in_([EntryKind.PAYMENT, EntryKind.PREPAYMENT_APPLIED]),
                    )
                    .group_by(BillLine.bill_id)
                ).all()
            )
        for bill_id, unit_id, due, outstanding in bills:
            counts = on_time.setdefault(unit_id, [0, 0])
            counts[1] += 1
            if outstanding > 0:
                continue
            paid_at = last_paid.get(bill_id)
            deadline = datetime.combine(due + timedelta(days=1), time(0), tzinfo=UTC)
            if paid_at is None or paid_at <= deadline - deadline_shift:
                counts[0] += 1
        for unit_id, n in session.execute(
            select(Ticket.unit_id, func.count(Ticket.id))
            .where(Ticket.unit_id.in_(part), Ticket.status.in_(TICKET_OPEN))
            .group_by(Ticket.unit_id)
        ):
            open_tickets[unit_id] = int(n)
        for unit_id, tid, number, category, description in session.execute(
            select(
                Ticket.unit_id, Ticket.id, Ticket.number, TicketCategory.name, Ticket.description
            )
            .join(TicketCategory, TicketCategory.id == Ticket.category_id)
            .where(Ticket.unit_id.in_(part), overdue)
            .order_by(Ticket.created_at)
        ):
            items = unit_overdue.setdefault(unit_id, [])
            if len(items) < 10:
                items.append(_overdue(tid, number, category, description, UNIT_NOTE))
        for unit_id, tid, number, score, comment, category in session.execute(
            select(
                Ticket.unit_id,
                Ticket.id,
                Ticket.number,
                TicketRating.score,
                TicketRating.comment,
                TicketCategory.name,
            )
            .join(TicketRating, TicketRating.ticket_id == Ticket.id)
            .join(TicketCategory, TicketCategory.id == Ticket.category_id)
            .where(
                Ticket.unit_id.in_(part),
                TicketRating.score <= tickets_queries.LOW_RATING,
                TicketRating.created_at >= since,
            )
            .order_by(TicketRating.created_at.desc())
        ):
            low.setdefault(unit_id, []).append(
                {"ticket_id": tid, "text": _rating_text(number, category, score, comment)}
            )
        for unit_id, did, statement in session.execute(
            select(Dispute.unit_id, Dispute.id, Dispute.statement).where(
                Dispute.unit_id.in_(part),
                Dispute.target_type == TargetType.SERVICE,
                Dispute.status.in_(DISPUTE_OPEN),
            )
        ):
            disputes.setdefault(unit_id, []).append(
                {"dispute_id": did, "text": f"D{did:06d}：{statement[:40]}"}
            )
    common: dict[str, list[dict[str, Any]]] = {}
    buildings = sorted(
        {
            building_id
            for part in chunked(unit_ids)
            for building_id in session.scalars(
                select(Unit.building_id).where(Unit.id.in_(part), Unit.building_id.is_not(None))
            )
        }
    )
    for part in chunked(buildings):
        for building_id in part:
            common[f"common:{building_id}"] = []
        for building_id, tid, number, category, description in session.execute(
            select(
                Ticket.building_id,
                Ticket.id,
                Ticket.number,
                TicketCategory.name,
                Ticket.description,
            )
            .join(TicketCategory, TicketCategory.id == Ticket.category_id)
            .where(
                Ticket.building_id.in_(part),
                Ticket.location_type == LocationType.COMMON_AREA,
                overdue,
            )
            .order_by(Ticket.created_at)
        ):
            items = common[f"common:{building_id}"]
            if len(items) < 10:
                items.append(_overdue(tid, number, category, description, COMMON_NOTE))
    return {
        **common,  # the keys `gather` caches each building's common-area tickets under
        "prefetched": True,
        "on_time": {u: (c[0], c[1]) for u, c in on_time.items()},
        "open_tickets": open_tickets,
        "unit_overdue": unit_overdue,
        "low_ratings": low,
        "service_disputes": disputes,
        "profiles": satisfaction_profiles(session, unit_ids, now),
    }


def _rating_text(number: str, category: str, score: int, comment: str) -> str:
    return f"{number} {category}：评分 {score}" + (f"，“{comment[:40]}”" if comment else "")


UNIT_NOTE, COMMON_NOTE = "已超时", "本楼公共区域，已超时"


def _overdue(tid: int, number: str, category: str, description: str, note: str) -> dict[str, Any]:
    """One overdue ticket as evidence: its id and a line naming it."""
    return {"ticket_id": tid, "text": f"{number} {category}：{description[:40]}（{note}）"}


def gather(
    session: Session,
    *,
    case: CollectionCase,
    unit: Unit,
    day: date,
    now: datetime,
    contacts: list[tuple[int, str, str, bool, str, bool]] | None = None,
    cache: dict[str, Any] | None = None,
) -> Signals:
    """Every signal about the unit's owner as of `day`, with evidence and a suggested reason."""
    s = Signals()
    since = now - timedelta(days=LOOKBACK_DAYS)
    pre = cache if cache is not None and cache.get("prefetched") else None

    def tickets(*where: Any) -> Any:  # built only when a query runs (20k cases a run)
        return session.execute(
            select(Ticket.id, Ticket.number, TicketCategory.name, Ticket.description)
            .join(TicketCategory, TicketCategory.id == Ticket.category_id)
            .where(*where, tickets_queries.overdue_clause(now))
            .order_by(Ticket.created_at)
            .limit(10)
        )

    if pre is not None:
        s.on_time = pre["on_time"].get(unit.id, (0, 0))
        s.service = {"open_tickets": pre["open_tickets"].get(unit.id, 0)}
        s.unit_overdue = list(pre["unit_overdue"].get(unit.id, []))
    else:
        s.on_time = on_time_share(session, unit_id=unit.id, day=day)
        s.service = tickets_queries.unit_service_signals(
            session, unit_id=unit.id, since=since, now=now
        )
        for tid, number, category, description in tickets(Ticket.unit_id == unit.id):
            s.unit_overdue.append(_overdue(tid, number, category, description, UNIT_NOTE))
    key = f"common:{unit.building_id}"
    common = cache.get(key) if cache is not None else None
    if common is None:
        common = [
            _overdue(tid, number, category, description, COMMON_NOTE)
            for tid, number, category, description in tickets(
                Ticket.building_id == unit.building_id,
                Ticket.location_type == LocationType.COMMON_AREA,
            )
        ]
        if cache is not None:
            cache[key] = common
    s.common_overdue = list(common)
    if pre is not None:
        s.low_ratings = list(pre["low_ratings"].get(unit.id, []))
        s.service_disputes = list(pre["service_disputes"].get(unit.id, []))
    else:
        for rating in tickets_queries.unit_low_ratings(session, unit_id=unit.id, since=since):
            s.low_ratings.append(
                {
                    "ticket_id": rating["ticket_id"],
                    "text": _rating_text(
                        rating["number"], rating["category"], rating["score"], rating["comment"]
                    ),
                }
            )
        for did, statement in session.execute(
            select(Dispute.id, Dispute.statement).where(
                Dispute.unit_id == unit.id,
                Dispute.target_type == TargetType.SERVICE,
                Dispute.status.in_(DISPUTE_OPEN),
            )
        ):
            s.service_disputes.append({"dispute_id": did, "text": f"D{did:06d}：{statement[:40]}"})
    profile = pre["profiles"].get(unit.id) if pre is not None else None
    _satisfaction(session, s, unit_id=unit.id, now=now, profile=profile)
    outcomes = (
        [
            o
            for episode, _t, _c, _d, o, by_person in contacts
            if by_person and episode == case.episode
        ]
        if contacts is not None
        else [
            o
            for (o,) in session.execute(
                select(CollectionContact.outcome).where(
                    CollectionContact.case_id == case.id,
                    CollectionContact.staff_id.is_not(None),
                    CollectionContact.episode == case.episode,
                )
            )
        ]
    )
    s.complained = outcomes.count(ContactOutcome.COMPLAINED)
    s.refused = outcomes.count(ContactOutcome.REFUSED)
    s.hardship = case.hardship_flag or ContactOutcome.HARDSHIP in outcomes
    s.plan_requested = case.plan_requested
    tier_index = [Tier.NONE, Tier.L1, Tier.L2, Tier.L3, Tier.L4].index(Tier(case.tier))
    s.no_response = tier_index >= 2 and not any(o in RESPONSIVE_OUTCOMES for o in outcomes)
    s.evidence = _evidence(s)
    s.suggested = _suggest(s)
    return s


def _satisfaction(
    session: Session,
    s: Signals,
    *,
    unit_id: int,
    now: datetime,
    profile: SatisfactionProfile | None = None,
) -> None:
    """What the feedback domain knows: low survey answers and open complaints (low ticket
    ratings, overdue tickets and service disputes are read above, with their own wording).
    The daily run passes the profile it prefetched for all its units."""
    if profile is None:
        profile = satisfaction_profile(session, unit_id=unit_id, now=now)
    s.satisfaction_score = profile.score
    for item in profile.evidence:
        kind, _, ref = str(item.get("ref", "")).partition(":")
        if item["signal"] == "low_survey" and kind == "survey":
            s.low_surveys.append({"survey_id": int(ref), "text": f"问卷：{item['detail']}"})
        elif item["signal"] == "open_complaints" and kind == "ticket":
            s.open_complaints.append(
                {"ticket_id": int(ref), "text": f"{item['detail']}（投诉未办结）"}
            )


def _evidence(s: Signals) -> list[dict[str, str]]:
    """Each signal in words, Chinese and English (`detail_en`); tickets and disputes quote
    what the owner wrote."""
    out: list[dict[str, str]] = []

    def add(signal: str, zh: str, en: str) -> None:
        out.append({"signal": signal, "detail": zh, "detail_en": en})

    paid, total = s.on_time
    if total:
        share = round(100 * paid / total)
        add(
            "on_time_share",
            f"最近 {total} 期账单中 {paid} 期按时缴清（{share}%）",
            f"{paid} of the last {total} bills paid on time ({share}%)",
        )
    if s.service.get("open_tickets"):
        n = s.service["open_tickets"]
        add("open_tickets", f"本户有 {n} 张未完成报修", f"{n} open repair requests")
    for item in s.unit_overdue:
        add("overdue_ticket", item["text"], "Overdue repair: " + item["text"])
    for item in s.common_overdue:
        add("common_area_ticket", item["text"], "Overdue in the building: " + item["text"])
    for item in s.low_ratings:
        add("low_rating", item["text"], "Low rating: " + item["text"])
    for item in s.service_disputes:
        add("service_dispute", item["text"], "Open service dispute: " + item["text"])
    for item in s.open_complaints:
        add("open_complaint", item["text"], "Open complaint: " + item["text"])
    for item in s.low_surveys:
        add("low_survey", item["text"], "Low survey answer: " + item["text"])
    if s.satisfaction_score is not None and s.satisfaction_score < LOW_SCORE:
        score = s.satisfaction_score
        add("satisfaction", f"满意度 {score}/100", f"Satisfaction {score}/100")
    if s.complained:
        add(
            "complained",
            f"催缴联系中投诉服务 {s.complained} 次",
            f"Complained about the service {s.complained} times when contacted",
        )
    if s.hardship:
        add("hardship", "业主说明经济困难", "The owner told us of financial hardship")
    if s.plan_requested:
        add("plan_request", "业主申请分期缴纳", "The owner asked to pay by instalments")
    if s.refused:
        add("refused", f"明确拒缴 {s.refused} 次", f"Refused to pay {s.refused} times")
    if s.no_response:
        add("no_response", "多级催缴后仍无任何回应", "No response across the tiers")
    return out


def _suggest(s: Signals) -> str:
    if s.hardship or s.plan_requested:
        return ArrearsReason.HARDSHIP
    if s.dissatisfied:
        return ArrearsReason.DISSATISFIED
    if s.refused or s.no_response:
        return ArrearsReason.WILFUL
    return ArrearsReason.FORGOT


def open_service_dispute(session: Session, *, unit_id: int) -> bool:
    """Does the unit have an open service dispute (collections stays at L1 while it does)?"""
    return (
        session.scalar(
            select(Dispute.id)
            .where(
                Dispute.unit_id == unit_id,
                Dispute.target_type == TargetType.SERVICE,
                Dispute.status.in_(DISPUTE_OPEN),
            )
            .limit(1)
        )
        is not None
    )


def unit_tickets(session: Session, *, unit: Unit, limit: int = 20) -> list[Ticket]:
    """The unit's recent tickets and its building's open common-area ones (for the case page)."""
    return list(
        session.scalars(
            select(Ticket)
            .where(
                or_(
                    Ticket.unit_id == unit.id,
                    and_(
                        Ticket.building_id == unit.building_id,
                        Ticket.location_type == LocationType.COMMON_AREA,
                        Ticket.status.in_(TICKET_OPEN),
                    ),
                )
            )
            .order_by(Ticket.created_at.desc())
            .limit(limit)
        )
    )
