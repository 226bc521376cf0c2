"""The company's KPIs with stated definitions, by community and local month.

Each KPI is computed for a set of communities in grouped SQL (one query per KPI, grouped by
community and month; no per-unit loops) and carries its definition: the formula, the period it
covers, what it excludes and its target. The definitions page, the dashboards, the exports and
the public stats API all read `DEFINITIONS`, so the words and the numbers cannot drift apart.

Months are the community's local calendar months ("2026-11"). Money is integer fen, ratios are
Decimal fractions 0-1 rounded to four places, scores 0-100 to one place.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Interval, and_, case, exists, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from portal.accounts.models import User
from portal.billing import queries as billing_queries
from portal.billing.models import Bill, BillLine, EntryKind, JournalEntry, Posting
from portal.billing.runs import add_months
from portal.collections import aging as collections_aging
from portal.communities.models import Building, Community, Ownership, Unit
from portal.db import UTCDateTime
from portal.disputes.models import Dispute
from portal.feedback import kpis as feedback_kpis
from portal.feedback.models import RecoveryStatus, RecoveryTask
from portal.notify.models import ChannelName, Message, MessageStatus
from portal.payments.models import ONLINE_CHANNELS, Payment
from portal.tickets.models import Ticket, TicketStatus
from portal.tickets.stats import json_number
from portal.timeutil import local_today, zone

K = 5  # k-anonymity: no public figure for a group of fewer than 5 units (or answers)
RATE = Decimal("0.0001")
SCORE = Decimal("0.1")
DAY_S = 86400
RECOVERY_WINDOW_DAYS = 30
REACH_FAILURE_DAYS = 90
PAID_KINDS = (EntryKind.PAYMENT, EntryKind.PREPAYMENT_APPLIED)
PUSH_CHANNELS = (ChannelName.SMS, ChannelName.WECHAT, ChannelName.EMAIL)


def ratio(num: int | Decimal, den: int | Decimal) -> Decimal | None:
    """num / den as a fraction rounded half-up to four places; None when den is 0."""
    if not den:
        return None
    return (Decimal(num) / Decimal(den)).quantize(RATE, ROUND_HALF_UP)


# ---------------------------------------------------------------- definitions


@dataclass(frozen=True)
class Definition:
    key: str
    name: Any
    formula: Any
    period: Any
    exclusions: Any
    kind: str  # "rate" (fraction 0-1), "score" (0-100), "days", "fen", "count"
    target: Decimal | None = None
    target_op: str | None = None  # "<" or ">": the direction that meets the target

    def meets(self, value: Decimal | None) -> bool | None:
        """Whether a value meets the target (None when no target or no value)."""
        if self.target is None or value is None:
            return None
        return value < self.target if self.target_op == "<" else value > self.target

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": str(self.name),
            "formula": str(self.formula),
            "period": str(self.period),
            "exclusions": str(self.exclusions),
            "unit": self.kind,
            "target": None if self.target is None else _number(self.target),
            "target_op": self.target_op,
        }


DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "collection_rate",
        _l("收缴率"),
        _l("该月账期账单已收金额 ÷ 该月账期应收金额（应收 = 账单金额 − 减免）"),
        _l("按账期（账单所属月份）；已收金额截至今日"),
        _l("减免不计入应收；缴费截止日未到的账期标记为“进行中”，不与已到期月份比较"),
        "rate",
    ),
    Definition(
        "arrears_recovery_rate",
        _l("清欠率"),
        _l("当月收回的往期欠费 ÷ 月初往期欠费余额（往期 = 缴费截止日早于月初的账单）"),
        _l("自然月（小区当地时间）"),
        _l("只计缴费与预存款冲抵，不计减免、调账和冲正；当月到期的账单不算往期"),
        "rate",
    ),
    Definition(
        "arrears",
        _l("欠费户数与金额（按账龄）"),
        _l("已过缴费截止日仍未缴清的房屋数与金额，按最早一笔未缴账单的逾期天数分段"),
        _l("截至今日"),
        _l("含争议中暂缓催缴的金额；预存款余额未抵扣的不计"),
        "fen",
    ),
    Definition(
        "complaint_rate",
        _l("投诉率"),
        _l("当月有投诉的房屋数 ÷ 房屋总数"),
        _l("按投诉受理月份"),
        _l("不含已取消的投诉；同一房屋当月多次投诉只算一户"),
        "rate",
        Decimal("0.05"),
        "<",
    ),
    Definition(
        "satisfaction",
        _l("满意度"),
        _l("当月满意度调查答卷的平均分（每份取评分题平均，1–5 分按 (分−1)×25 换算为 0–100）"),
        _l("按答卷提交月份"),
        _l("少于 5 份答卷的月份不计算；未作答的评分题不计"),
        "score",
        Decimal(80),
        ">",
    ),
    Definition(
        "sla_compliance",
        _l("工单时限达标率"),
        _l("在处理时限内办结的工单 ÷ 时限已有结果的工单"),
        _l("按工单受理月份"),
        _l("不含已取消的工单和尚未到期且未办结的工单（时限未有结果）"),
        "rate",
    ),
    Definition(
        "online_payment_share",
        _l("线上缴费占比"),
        _l("微信、支付宝等线上渠道缴费金额 ÷ 全部缴费金额"),
        _l("按到账月份"),
        _l("银行转账、现金、POS 刷卡和银行代扣算线下；退款不冲减"),
        "rate",
    ),
    Definition(
        "dispute_median_days",
        _l("异议办结天数（中位数）"),
        _l("当月办结的异议从提交到办结天数的中位数"),
        _l("按办结月份"),
        _l("不含尚未办结的异议"),
        "days",
    ),
    Definition(
        "digital_reach",
        _l("线上触达率"),
        _l("有可用消息渠道的房屋 ÷ 房屋总数（可用 = 现业主账户有效，且绑定微信、手机或邮箱）"),
        _l("截至今日"),
        _l("近 90 天内发往该业主的推送消息有失败记录的不算可用；站内信和纸质信函不算"),
        "rate",
    ),
)
BY_KEY = {d.key: d for d in DEFINITIONS}


def _number(value: Decimal | None) -> Any:
    return json_number(value)


# ---------------------------------------------------------------- months


@dataclass(frozen=True)
class Month:
    label: str  # "2026-11"
    first_day: date
    start_at: datetime  # local midnight of the first day, in UTC
    end_at: datetime  # local midnight of the next month's first day, in UTC


def months_of(now: datetime, tz_name: str | None, count: int) -> list[Month]:
    """The last `count` local months up to now's, oldest first, with their UTC bounds."""
    tz = zone(tz_name)
    out = []
    for label in feedback_kpis.month_list(now, tz_name, count):
        first = date(int(label[:4]), int(label[5:]), 1)
        nxt = add_months(first, 1)
        out.append(
            Month(
                label,
                first,
                datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC),
                datetime.combine(nxt, time(0), tzinfo=tz).astimezone(UTC),
            )
        )
    return out


BEFORE = "0000-00"  # the label of everything before the first month shown


def _month_of(
    column: Any, months: Sequence[Month], before: str | None = None
) -> ColumnElement[Any]:
    """The month label of an instant column (rows outside the months get NULL, or `before`
    for rows before the first month when given)."""
    whens = [(and_(column >= m.start_at, column < m.end_at), literal(m.label)) for m in months]
    if before is not None:
        whens.insert(0, (column < months[0].start_at, literal(before)))
    return case(*whens, else_=None)


def _day_month_of(column: Any, months: Sequence[Month]) -> ColumnElement[Any]:
    """The month label of a local date column ("0000-00" before the first month shown)."""
    whens = [(column < months[0].first_day, literal(BEFORE))]
    whens += [(column < add_months(m.first_day, 1), literal(m.label)) for m in months]
    return case(*whens, else_=literal("9999-99"))


# ---------------------------------------------------------------- monthly KPIs


@dataclass
class MonthKpis:
    community_id: int | None  # None: the set of communities taken together
    month: str
    units: int = 0
    billed_fen: int = 0
    collected_fen: int = 0
    in_progress: bool = False
    prior_arrears_fen: int = 0
    prior_collected_fen: int = 0
    complaint_units: int = 0
    responses: int = 0
    satisfaction: Decimal | None = None
    satisfaction_sum: Decimal = Decimal(0)  # responses × score, to pool communities
    scored_responses: int = 0  # responses of the months shown (≥ 5), the pool's weights
    sla_met: int = 0
    sla_decided: int = 0
    online_fen: int = 0
    paid_fen: int = 0
    disputes_closed: int = 0
    dispute_days: list[Decimal] = field(default_factory=list, repr=False)

    @property
    def collection_rate(self) -> Decimal | None:
        return ratio(self.collected_fen, self.billed_fen)

    @property
    def arrears_recovery_rate(self) -> Decimal | None:
        return ratio(self.prior_collected_fen, self.prior_arrears_fen)

    @property
    def complaint_rate(self) -> Decimal | None:
        return ratio(self.complaint_units, self.units)

    @property
    def sla_compliance(self) -> Decimal | None:
        return ratio(self.sla_met, self.sla_decided)

    @property
    def online_payment_share(self) -> Decimal | None:
        return ratio(self.online_fen, self.paid_fen)

    @property
    def dispute_median_days(self) -> Decimal | None:
        return median(self.dispute_days)

    def add(self, other: MonthKpis) -> None:
        """Pool another community's month into this one (sums, never averaged ratios)."""
        for name in (
            "units",
            "billed_fen",
            "collected_fen",
            "prior_arrears_fen",
            "prior_collected_fen",
            "complaint_units",
            "responses",
            "sla_met",
            "sla_decided",
            "online_fen",
            "paid_fen",
            "disputes_closed",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.in_progress = self.in_progress or other.in_progress
        self.satisfaction_sum += other.satisfaction_sum
        self.scored_responses += other.scored_responses
        self.dispute_days = self.dispute_days + other.dispute_days
        self.satisfaction = (
            (self.satisfaction_sum / self.scored_responses).quantize(SCORE, ROUND_HALF_UP)
            if self.scored_responses >= K
            else None
        )


def median(values: Iterable[Decimal]) -> Decimal | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    value = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return value.quantize(SCORE, ROUND_HALF_UP)


def unit_counts(session: Session, community_ids: Sequence[int]) -> dict[int, int]:
    return {
        int(c): int(n)
        for c, n in session.execute(
            select(Unit.community_id, func.count(Unit.id))
            .where(Unit.community_id.in_(community_ids))
            .group_by(Unit.community_id)
        )
    }


def monthly(
    session: Session, *, communities: Sequence[Community], now: datetime, months: int = 12
) -> dict[int, list[MonthKpis]]:
    """Every KPI by month for each community: {community_id: [MonthKpis oldest first]}."""
    out: dict[int, list[MonthKpis]] = {}
    by_tz: dict[str | None, list[Community]] = defaultdict(list)
    for c in communities:
        by_tz[c.timezone].append(c)
    for tz_name, group in by_tz.items():
        out.update(_monthly_in_zone(session, group, now, months, tz_name))
    return out


def _monthly_in_zone(
    session: Session,
    communities: Sequence[Community],
    now: datetime,
    count: int,
    tz_name: str | None,
) -> dict[int, list[MonthKpis]]:
    ids = [c.id for c in communities]
    months = months_of(now, tz_name, count)
    labels = [m.label for m in months]
    today = local_today(zone(tz_name), now)
    units = unit_counts(session, ids)
    rows = {(cid, m): MonthKpis(cid, m, units=units.get(cid, 0)) for cid in ids for m in labels}

    def row(cid: Any, month: Any) -> MonthKpis | None:
        return rows.get((int(cid), str(month)))

    # Collection rate: billing's own figures (one grouped query per community there).
    not_due = billing_queries.periods_not_yet_due(session, community_ids=ids, today=today)
    for c in communities:
        stats = billing_queries.collection_stats(
            session, community_id=c.id, months=count, today=today
        )
        for m in stats.get("collection_rate_by_month", []):
            r = row(c.id, m["month"])
            if r is not None:
                r.billed_fen += int(m["billed_fen"] or 0)
                r.collected_fen += int(m["collected_fen"] or 0)
    for cid, period in not_due:
        r = row(cid, period.strftime("%Y-%m"))
        if r is not None:
            r.in_progress = True

    # Arrears recovery: each posting is labelled with the month of its bill's due date and
    # the month it was posted ("0000-00" before the window). A posting counts in month m's
    # opening arrears when both labels are before m, and a payment posted in m on a bill due
    # before m is prior arrears collected in m. Only the window's postings are read (through
    # the entries' community and date index): what was posted before the window on bills of
    # each due month is what those bills owe now less what was posted on them since.
    due_month = _day_month_of(Bill.due_date, months)
    posted = (
        select(
            Bill.community_id.label("community_id"),
            due_month.label("due_month"),
            _month_of(JournalEntry.created_at, months).label("posted_month"),
            case((JournalEntry.kind.in_(PAID_KINDS), 1), else_=0).label("paid"),
            Posting.amount_fen.label("amount_fen"),
        )
        .join(BillLine, BillLine.bill_id == Bill.id)
        .join(Posting, Posting.bill_line_id == BillLine.id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(
            Bill.community_id.in_(ids),
            Bill.due_date < months[-1].first_day,
            JournalEntry.community_id.in_(ids),
            JournalEntry.created_at >= months[0].start_at,
        )
        .subquery()
    )
    flows: list[tuple[Any, Any, Any, Any, Any]] = []
    before: dict[tuple[int, str], int] = defaultdict(int)
    for cid, due, fen in session.execute(
        select(Bill.community_id, due_month, func.sum(Bill.outstanding_fen))
        .where(
            Bill.community_id.in_(ids),
            Bill.due_date < months[-1].first_day,
            Bill.outstanding_fen != 0,
        )
        .group_by(Bill.community_id, due_month)
    ):
        before[(int(cid), str(due))] += int(fen)
    for cid, due, month, paid_flag, amount in session.execute(
        select(
            posted.c.community_id,
            posted.c.due_month,
            posted.c.posted_month,
            posted.c.paid,
            func.sum(posted.c.amount_fen),
        ).group_by(posted.c.community_id, posted.c.due_month, posted.c.posted_month, posted.c.paid)
    ):
        before[(int(cid), str(due))] -= int(amount)
        if month is not None:  # None: posted after the window (a clock set in the past)
            flows.append((cid, due, month, paid_flag, amount))
    flows += [(cid, due, BEFORE, 0, fen) for (cid, due), fen in before.items() if fen]
    for cid, due_month_label, posted_month, paid_flag, amount in flows:
        for label in labels:
            r = rows.get((int(cid), label))
            if r is None:
                continue
            if due_month_label < label and posted_month < label:
                r.prior_arrears_fen += int(amount)
            elif paid_flag and posted_month == label and due_month_label < label:
                r.prior_collected_fen -= int(amount)

    # Complaint rate and satisfaction: feedback's own monthly KPIs.
    for c in communities:
        board = feedback_kpis.dashboard(session, community=c, now=now, months=count)
        for fr in board.rows:
            r = row(c.id, fr.month)
            if r is None:
                continue
            r.complaint_units = fr.complaint_units
            r.responses = fr.responses
            r.satisfaction = fr.survey_satisfaction
            if fr.survey_satisfaction is not None:
                r.satisfaction_sum = fr.survey_satisfaction * fr.responses
                r.scored_responses = fr.responses

    # SLA compliance of every ticket kind, by the month received.
    for cid, month, met, decided in session.execute(
        select(
            Ticket.community_id,
            Ticket.period,
            func.coalesce(func.sum(case((Ticket.resolution_met.is_(True), 1), else_=0)), 0),
            func.count(Ticket.resolution_met),
        )
        .where(
            Ticket.community_id.in_(ids),
            Ticket.status != TicketStatus.CANCELLED,
            Ticket.period.in_(labels),
        )
        .group_by(Ticket.community_id, Ticket.period)
    ):
        r = row(cid, month)
        if r is not None:
            r.sla_met, r.sla_decided = int(met), int(decided)

    # Online-payment share, by the month received (the month worked out in a subquery, so
    # the GROUP BY names a column, not a CASE with parameters of its own).
    online = Payment.channel.in_([str(ch) for ch in ONLINE_CHANNELS])
    paid = (
        select(
            Payment.community_id.label("community_id"),
            _month_of(Payment.received_at, months).label("month"),
            case((online, Payment.amount_fen), else_=0).label("online_fen"),
            Payment.amount_fen.label("amount_fen"),
        )
        .where(
            Payment.community_id.in_(ids),
            Payment.received_at >= months[0].start_at,
            Payment.received_at < months[-1].end_at,
        )
        .subquery()
    )
    for cid, month, online_fen, total in session.execute(
        select(
            paid.c.community_id,
            paid.c.month,
            func.coalesce(func.sum(paid.c.online_fen), 0),
            func.coalesce(func.sum(paid.c.amount_fen), 0),
        ).group_by(paid.c.community_id, paid.c.month)
    ):
        r = row(cid, month)
        if r is not None:
            r.online_fen, r.paid_fen = int(online_fen), int(total)

    # Dispute days to close: the closed disputes' two instants (a median needs the values).
    for cid, created, closed in session.execute(
        select(Dispute.community_id, Dispute.created_at, Dispute.closed_at).where(
            Dispute.community_id.in_(ids),
            Dispute.closed_at >= months[0].start_at,
            Dispute.closed_at < months[-1].end_at,
        )
    ):
        label = next(m.label for m in months if m.start_at <= closed < m.end_at)
        r = rows[(int(cid), label)]
        r.disputes_closed += 1
        seconds = int((closed - created).total_seconds())
        r.dispute_days.append(Decimal(seconds) / DAY_S)

    return {cid: [rows[(cid, m)] for m in labels] for cid in ids}


def pooled(per_community: dict[int, list[MonthKpis]]) -> list[MonthKpis]:
    """The set of communities taken together, month by month (numerators and denominators
    summed, so a large community weighs as much as its units)."""
    series = list(per_community.values())
    if not series:
        return []
    out = []
    for i, first in enumerate(series[0]):
        total = MonthKpis(None, first.month)
        for s in series:
            total.add(s[i])
        out.append(total)
    return out


def last_complete(rows: Sequence[MonthKpis]) -> MonthKpis | None:
    """The latest month whose collection is no longer in progress."""
    done = [r for r in rows if not r.in_progress]
    return done[-1] if done else None


# ---------------------------------------------------------------- aging and reach


BUCKET_NAMES = collections_aging.BUCKET_NAMES


def _bucket_case(oldest: Any, today: date) -> ColumnElement[Any]:
    """The aging bucket of a unit from its oldest unpaid due date (collections' buckets)."""
    whens = []
    for name, _low, high in collections_aging.BUCKETS:
        if high is None:
            continue
        whens.append((oldest >= today - timedelta(days=high), literal(name)))
    return case(*whens, else_=literal(BUCKET_NAMES[-1]))


def arrears_by_bucket(
    session: Session, *, community_ids: Sequence[int], today: date
) -> dict[int, dict[str, dict[str, int]]]:
    """Units in arrears and the amount past due, per community and aging bucket."""
    per_unit = (
        select(
            Bill.community_id.label("community_id"),
            Bill.unit_id.label("unit_id"),
            func.min(Bill.due_date).label("oldest"),
            func.sum(Bill.outstanding_fen).label("owed"),
        )
        .where(
            Bill.community_id.in_(community_ids),
            Bill.due_date < today,
            Bill.outstanding_fen > 0,
        )
        .group_by(Bill.community_id, Bill.unit_id)
        .subquery()
    )
    bucketed = select(
        per_unit.c.community_id,
        _bucket_case(per_unit.c.oldest, today).label("bucket"),
        per_unit.c.owed,
    ).subquery()
    out: dict[int, dict[str, dict[str, int]]] = {
        cid: {name: {"units": 0, "amount_fen": 0} for name in BUCKET_NAMES} for cid in community_ids
    }
    for cid, name, n, owed in session.execute(
        select(
            bucketed.c.community_id, bucketed.c.bucket, func.count(), func.sum(bucketed.c.owed)
        ).group_by(bucketed.c.community_id, bucketed.c.bucket)
    ):
        out[int(cid)][str(name)] = {"units": int(n), "amount_fen": int(owed or 0)}
    return out


def digital_reach(
    session: Session, *, community_ids: Sequence[int], now: datetime
) -> dict[int, tuple[int, int]]:
    """(units reachable, units) per community: a current owner with a working push channel."""
    since = now - timedelta(days=REACH_FAILURE_DAYS)
    failed = exists().where(
        Message.recipient_id == User.id,
        Message.channel.in_([str(c) for c in PUSH_CHANNELS]),
        Message.status == MessageStatus.FAILED,
        Message.updated_at >= since,
    )
    has_address = (
        (func.coalesce(User.phone, "") != "")
        | (func.coalesce(User.wechat_openid, "") != "")
        | (func.coalesce(User.email, "") != "")
    )
    reachable = exists().where(
        Ownership.unit_id == Unit.id,
        Ownership.ended_on.is_(None),
        User.id == Ownership.user_id,
        User.active.is_(True),
        has_address,
        ~failed,
    )
    units = unit_counts(session, community_ids)
    reached = dict(
        session.execute(
            select(Unit.community_id, func.count(Unit.id))
            .where(Unit.community_id.in_(community_ids), reachable)
            .group_by(Unit.community_id)
        ).all()
    )
    return {cid: (int(reached.get(cid, 0)), units.get(cid, 0)) for cid in community_ids}


# ---------------------------------------------------------------- buildings


@dataclass
class BuildingKpis:
    community_id: int
    community: str
    building: str
    units: int
    billed_fen: int = 0
    collected_fen: int = 0
    arrears_units: int = 0
    arrears_fen: int = 0
    responses: int = 0
    satisfaction: Decimal | None = None
    complaint_units: int = 0
    complaint_rate: Decimal | None = None

    @property
    def collection_rate(self) -> Decimal | None:
        return ratio(self.collected_fen, self.billed_fen)


def by_building(
    session: Session,
    *,
    communities: Sequence[Community],
    now: datetime,
    months: int = 12,
) -> list[BuildingKpis]:
    """Per building: the collection rate of the last `months` billing periods already due,
    arrears now, and survey satisfaction and complaint rate over the last year (feedback)."""
    ids = [c.id for c in communities]
    names = {c.id: c.name for c in communities}
    out: dict[int, BuildingKpis] = {}
    for bid, cid, name, n in session.execute(
        select(Building.id, Building.community_id, Building.name, func.count(Unit.id))
        .outerjoin(Unit, Unit.building_id == Building.id)
        .where(Building.community_id.in_(ids))
        .group_by(Building.id, Building.community_id, Building.name)
        .order_by(Building.community_id, Building.code)
    ):
        out[int(bid)] = BuildingKpis(int(cid), names[int(cid)], str(name), int(n))
    today_of = {c.id: local_today(zone(c.timezone), now) for c in communities}
    today = min(today_of.values()) if today_of else local_today(now=now)
    since = add_months(today.replace(day=1), -(months - 1))
    for bid, billed, collected in session.execute(
        select(
            Unit.building_id,
            func.sum(Bill.amount_fen - Bill.waived_fen),
            func.sum(Bill.amount_fen - Bill.waived_fen - Bill.outstanding_fen),
        )
        .join(Unit, Unit.id == Bill.unit_id)
        .where(Bill.community_id.in_(ids), Bill.period >= since, Bill.due_date < today)
        .group_by(Unit.building_id)
    ):
        if bid in out:
            out[bid].billed_fen, out[bid].collected_fen = int(billed or 0), int(collected or 0)
    owing = (
        select(Bill.unit_id.label("unit_id"), func.sum(Bill.outstanding_fen).label("owed"))
        .where(Bill.community_id.in_(ids), Bill.due_date < today, Bill.outstanding_fen > 0)
        .group_by(Bill.unit_id)
        .subquery()
    )
    for bid, n, owed in session.execute(
        select(Unit.building_id, func.count(), func.sum(owing.c.owed))
        .join(Unit, Unit.id == owing.c.unit_id)
        .group_by(Unit.building_id)
    ):
        if bid in out:
            out[bid].arrears_units, out[bid].arrears_fen = int(n), int(owed or 0)
    for c in communities:
        by_name = {b.building: b for b in out.values() if b.community_id == c.id}
        for fb in feedback_kpis.by_building(session, community=c, now=now):
            b = by_name.get(fb.building)
            if b is not None:
                b.responses = fb.responses
                b.satisfaction = fb.satisfaction
                b.complaint_units = fb.complaint_units
                b.complaint_rate = fb.complaint_rate
    return list(out.values())


def fit_line(points: Sequence[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal] | None:
    """Least-squares (slope, intercept) of y on x; None with fewer than 2 distinct x."""
    n = len(points)
    if n < 2:
        return None
    sx = sum((x for x, _ in points), Decimal(0))
    sy = sum((y for _, y in points), Decimal(0))
    sxx = sum((x * x for x, _ in points), Decimal(0))
    sxy = sum((x * y for x, y in points), Decimal(0))
    den = n * sxx - sx * sx
    if den == 0:
        return None
    slope = (n * sxy - sx * sy) / den
    return slope, (sy - slope * sx) / n


# ---------------------------------------------------------------- service recovery


@dataclass
class RecoveryGroup:
    treated: bool
    units: int = 0  # (unit, start) pairs in arrears at the start
    paid_units: int = 0  # of those, paid towards the arrears within 30 days
    arrears_fen: int = 0
    paid_fen: int = 0  # paid within the window, at most the arrears

    @property
    def paid_share(self) -> Decimal | None:
        return ratio(self.paid_units, self.units)


def _plus_days(session: Session, column: Any, days: int) -> Any:
    """column + days, in the database's own date arithmetic."""
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H:%M:%f", column, f"+{days} days")
    return column + literal(timedelta(days=days), Interval())


def recovery_effect(
    session: Session, *, community_ids: Sequence[int], now: datetime, days: int = 365
) -> tuple[RecoveryGroup, RecoveryGroup]:
    """(with a completed recovery task, in arrears without any): of the units in arrears at
    the start, the share that paid towards them within 30 days.

    Start: the task's completion for the first group; for the comparison group, the first of
    each month in the same window (a unit counts once per month it was in arrears). Only
    starts at least 30 days ago, so every window is complete.
    """
    window = timedelta(days=RECOVERY_WINDOW_DAYS)
    earliest, latest = now - timedelta(days=days), now - window
    treated = select(
        RecoveryTask.unit_id.label("unit_id"),
        RecoveryTask.done_at.label("start_at"),
        literal(1).label("treated"),
    ).where(
        RecoveryTask.community_id.in_(community_ids),
        RecoveryTask.status == RecoveryStatus.DONE,
        RecoveryTask.done_at >= earliest,
        RecoveryTask.done_at <= latest,
    )
    starts = []
    first = add_months(earliest.date().replace(day=1), 1)
    while first <= latest.date():
        starts.append(datetime.combine(first, time(0), tzinfo=UTC))
        first = add_months(first, 1)
    pairs = treated.cte("recovery_pairs")
    arrears = (
        select(
            pairs.c.unit_id,
            pairs.c.start_at,
            pairs.c.treated,
            func.sum(Posting.amount_fen).label("owed"),
        )
        .select_from(pairs)
        .join(
            Bill, and_(Bill.unit_id == pairs.c.unit_id, Bill.due_date < func.date(pairs.c.start_at))
        )
        .join(BillLine, BillLine.bill_id == Bill.id)
        .join(Posting, Posting.bill_line_id == BillLine.id)
        .join(
            JournalEntry,
            and_(JournalEntry.id == Posting.entry_id, JournalEntry.created_at < pairs.c.start_at),
        )
        .group_by(pairs.c.unit_id, pairs.c.start_at, pairs.c.treated)
        .having(func.sum(Posting.amount_fen) > 0)
        .subquery()
    )
    paid = (
        select(
            arrears.c.unit_id,
            arrears.c.start_at,
            arrears.c.treated,
            func.coalesce(func.sum(Payment.amount_fen), 0).label("paid"),
        )
        .select_from(arrears)
        .outerjoin(
            Payment,
            and_(
                Payment.unit_id == arrears.c.unit_id,
                Payment.received_at >= arrears.c.start_at,
                Payment.received_at < _plus_days(session, arrears.c.start_at, RECOVERY_WINDOW_DAYS),
            ),
        )
        .group_by(arrears.c.unit_id, arrears.c.start_at, arrears.c.treated)
        .subquery()
    )
    capped = case((paid.c.paid < arrears.c.owed, paid.c.paid), else_=arrears.c.owed)
    groups = {1: RecoveryGroup(True), 0: RecoveryGroup(False)}
    for flag, n, n_paid, owed, got in session.execute(
        select(
            arrears.c.treated,
            func.count(),
            func.coalesce(func.sum(case((paid.c.paid > 0, 1), else_=0)), 0),
            func.coalesce(func.sum(arrears.c.owed), 0),
            func.coalesce(func.sum(capped), 0),
        )
        .select_from(arrears)
        .join(
            paid,
            and_(
                paid.c.unit_id == arrears.c.unit_id,
                paid.c.start_at == arrears.c.start_at,
                paid.c.treated == arrears.c.treated,
            ),
        )
        .group_by(arrears.c.treated)
    ):
        g = groups[int(flag)]
        g.units, g.paid_units, g.arrears_fen, g.paid_fen = int(n), int(n_paid), int(owed), int(got)
    if starts:
        groups[0] = _untreated_effect(session, community_ids=community_ids, starts=starts)
    return groups[1], groups[0]


def _untreated_effect(
    session: Session, *, community_ids: Sequence[int], starts: list[datetime]
) -> RecoveryGroup:
    """The comparison group of `recovery_effect`: each unit without a recovery task, at each
    month start s, in arrears if its bills due before s had postings before s summing to more
    than 0; paid if it paid within 30 days.

    Read without a units × months × postings join (minutes at 20,000 units): what a unit
    owed at s is what its bills due before s owe now less what was posted on them since s,
    and only open bills and the last year's postings are read. Both are grouped by the month
    start they fall in, and the running sums are taken here.
    """
    untreated = select(Unit.id).where(
        Unit.community_id.in_(community_ids), ~exists().where(RecoveryTask.unit_id == Unit.id)
    )
    days = [s.date() for s in starts]
    # The first start whose day is after the due date: the bill counts from that start on.
    due_from = case(*[(Bill.due_date < d, k) for k, d in enumerate(days)], else_=None)
    # The last start at or before the posting: the posting is undone for starts up to it.
    posted_until = case(
        *[(JournalEntry.created_at >= s, k) for k, s in reversed(list(enumerate(starts)))],
        else_=None,
    )
    owed_now: dict[int, dict[int, int]] = defaultdict(dict)
    for unit_id, k, fen in session.execute(
        select(Bill.unit_id, due_from, func.sum(Bill.outstanding_fen))
        .where(Bill.unit_id.in_(untreated), Bill.outstanding_fen != 0, Bill.due_date < days[-1])
        .group_by(Bill.unit_id, due_from)
    ):
        owed_now[unit_id][int(k)] = int(fen)
    since: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for unit_id, k, until, fen in session.execute(
        select(Bill.unit_id, due_from, posted_until, func.sum(Posting.amount_fen))
        .join(BillLine, BillLine.bill_id == Bill.id)
        .join(Posting, Posting.bill_line_id == BillLine.id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(
            Bill.unit_id.in_(untreated),
            Bill.due_date < days[-1],
            JournalEntry.community_id.in_(community_ids),  # the entries' (community, date) index
            JournalEntry.created_at >= starts[0],
        )
        .group_by(Bill.unit_id, due_from, posted_until)
    ):
        since[unit_id].append((int(k), int(until), int(fen)))
    window = timedelta(days=RECOVERY_WINDOW_DAYS)
    starts_cte = union_all(
        *[
            select(literal(k).label("k"), literal(s, UTCDateTime()).label("start_at"))
            for k, s in enumerate(starts)
        ]
    ).cte("recovery_starts")
    paid: dict[tuple[int, int], int] = {
        (int(unit_id), int(k)): int(fen)
        for unit_id, k, fen in session.execute(
            select(Payment.unit_id, starts_cte.c.k, func.sum(Payment.amount_fen))
            .join(
                starts_cte,
                and_(
                    Payment.received_at >= starts_cte.c.start_at,
                    Payment.received_at < _plus_days(session, starts_cte.c.start_at, window.days),
                ),
            )
            .where(
                Payment.unit_id.in_(untreated),
                Payment.received_at >= starts[0],
                Payment.received_at < starts[-1] + window,
            )
            .group_by(Payment.unit_id, starts_cte.c.k)
        )
    }
    group = RecoveryGroup(False)
    for unit_id in set(owed_now) | set(since):
        for k in range(len(starts)):
            owed = sum(fen for due_k, fen in owed_now.get(unit_id, {}).items() if due_k <= k)
            owed -= sum(fen for due_k, until, fen in since.get(unit_id, ()) if due_k <= k <= until)
            if owed <= 0:
                continue
            got = paid.get((unit_id, k), 0)
            group.units += 1
            group.paid_units += 1 if got > 0 else 0
            group.arrears_fen += owed
            group.paid_fen += min(got, owed)
    return group


def headline(
    session: Session, *, communities: Sequence[Community], now: datetime
) -> MonthKpis | None:
    """The communities taken together in their latest month already due: the figures a
    manager's home page opens with."""
    if not communities:
        return None
    return last_complete(pooled(monthly(session, communities=communities, now=now, months=3)))
