"""The management and committee dashboards: every figure of a set of communities, and each
figure's table (the page, the CSV and the XLSX export read the same rows, so an export is
always the whole table).

The committee's variant (`public=True`) carries aggregates only: no names, no unit numbers,
and per-building figures only for buildings of at least 5 units (k-anonymity).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from portal import pagecache
from portal.collections import dashboard as collections_dashboard
from portal.communities.models import Community
from portal.reports import kpis
from portal.timeutil import local_today, zone

TIERS = ("none", "L1", "L2", "L3", "L4")


@dataclass
class Board:
    communities: list[Community]
    months: list[kpis.MonthKpis]  # the set taken together
    per_community: dict[int, list[kpis.MonthKpis]]
    buildings: list[kpis.BuildingKpis]
    aging: dict[str, dict[str, int]]
    reach: tuple[int, int]
    funnel: list[dict[str, Any]]
    treated: kpis.RecoveryGroup
    untreated: kpis.RecoveryGroup
    public: bool = False
    scatter: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)
    trend: tuple[Decimal, Decimal] | None = None
    computed_at: datetime | None = None  # when these figures were computed (see cached)

    @property
    def latest(self) -> kpis.MonthKpis | None:
        return kpis.last_complete(self.months)

    @property
    def reach_rate(self) -> Decimal | None:
        return kpis.ratio(*self.reach)


def build(
    session: Session,
    *,
    communities: Sequence[Community],
    now: datetime,
    months: int = 12,
    public: bool = False,
) -> Board:
    """Every figure of the dashboard for these communities (grouped queries throughout)."""
    ids = [c.id for c in communities]
    today = min((local_today(zone(c.timezone), now) for c in communities), default=None)
    per = kpis.monthly(session, communities=communities, now=now, months=months)
    aging_per = kpis.arrears_by_bucket(session, community_ids=ids, today=today) if today else {}
    aging = {name: {"units": 0, "amount_fen": 0} for name in kpis.BUCKET_NAMES}
    for buckets in aging_per.values():
        for name, cell in buckets.items():
            aging[name]["units"] += cell["units"]
            aging[name]["amount_fen"] += cell["amount_fen"]
    reach_per = kpis.digital_reach(session, community_ids=ids, now=now)
    reach = (sum(r for r, _n in reach_per.values()), sum(n for _r, n in reach_per.values()))
    funnel = {t: {"tier": t, "cases": 0, "overdue_fen": 0} for t in TIERS}
    for cid in ids:
        for row in collections_dashboard.tier_funnel(session, community_id=cid):
            cell = funnel.setdefault(
                row["tier"], {"tier": row["tier"], "cases": 0, "overdue_fen": 0}
            )
            cell["cases"] += row["cases"]
            cell["overdue_fen"] += row["overdue_fen"]
    treated, untreated = kpis.recovery_effect(session, community_ids=ids, now=now)
    buildings = kpis.by_building(session, communities=communities, now=now, months=months)
    if public:
        for b in buildings:
            if b.units < kpis.K:
                b.billed_fen = b.collected_fen = 0
                b.satisfaction = b.complaint_rate = None
            b.arrears_units = b.arrears_fen = 0  # no arrears below community level for owners
    board = Board(
        communities=list(communities),
        months=kpis.pooled(per),
        per_community=per,
        buildings=buildings,
        aging=aging,
        reach=reach,
        funnel=list(funnel.values()),
        treated=treated,
        untreated=untreated,
        public=public,
        computed_at=now,
    )
    multi = len(communities) > 1
    for b in buildings:
        if b.collection_rate is not None and b.satisfaction is not None:
            name = f"{b.community} · {b.building}" if multi else b.building
            board.scatter.append((name, b.collection_rate * 100, b.satisfaction))
    board.trend = kpis.fit_line([(x, y) for _n, x, y in board.scatter])
    return board


FRESH_FOR = timedelta(hours=1)
T = TypeVar("T")


def _hourly(
    session: Session,
    communities: Sequence[Community],
    now: datetime,
    name: str,
    compute: Callable[[], T],
    *parts: Any,
) -> T:
    """compute(), kept for the hour per selection of communities and shared by every reader.
    At 20,000 units the monthly KPIs and the recovery comparison read a year of postings
    (seconds), and a payment changes the data every few seconds at month's end, so these
    figures are kept by the clock, not by the data version."""
    ids = tuple(sorted(c.id for c in communities))
    return pagecache.cached_value(
        session,
        community_id=ids[0],
        parts=(name, ids, *parts, int(now.timestamp() // FRESH_FOR.total_seconds())),
        compute=compute,
        versioned=False,
    )


def cached(
    session: Session,
    *,
    communities: Sequence[Community],
    now: datetime,
    months: int = 12,
    public: bool = False,
) -> Board:
    """build(), computed at most once an hour (the page says when)."""

    def compute() -> Board:
        return build(session, communities=communities, now=now, months=months, public=public)

    if not communities:
        return compute()
    board = _hourly(session, communities, now, "kpi-board", compute, months, public)
    board.communities = list(communities)  # this request's rows, not the pickled ones
    return board


def cached_headline(
    session: Session, *, communities: Sequence[Community], now: datetime
) -> kpis.MonthKpis | None:
    """kpis.headline (a manager's home page), computed at most once an hour."""
    if not communities:
        return None
    return _hourly(
        session,
        communities,
        now,
        "kpi-headline",
        lambda: kpis.headline(session, communities=communities, now=now),
    )


# ---------------------------------------------------------------- the tables


def _pct(value: Decimal | None) -> Decimal | None:
    return None if value is None else (value * 100).quantize(Decimal("0.1"))


def _yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


TABLES = ("months", "communities", "buildings", "aging", "funnel", "recovery")
TABLE_TITLES = {
    "months": _l("月度指标"),
    "communities": _l("各小区对比"),
    "buildings": _l("各楼栋对比"),
    "aging": _l("欠费账龄"),
    "funnel": _l("催缴分级漏斗"),
    "recovery": _l("服务补救后的回款"),
}


def table(board: Board, name: str) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of one of the dashboard's tables."""
    if name == "months":
        return [
            str(_l("月份")),
            str(_l("收缴率 %")),
            str(_l("未到期")),
            str(_l("应收（元）")),
            str(_l("已收（元）")),
            str(_l("清欠率 %")),
            str(_l("月初往期欠费（元）")),
            str(_l("投诉率 %")),
            str(_l("满意度")),
            str(_l("答卷数")),
            str(_l("工单时限达标率 %")),
            str(_l("线上缴费占比 %")),
            str(_l("异议办结天数中位数")),
        ], [
            [
                r.month,
                _pct(r.collection_rate),
                str(_l("是")) if r.in_progress else "",
                _yuan(r.billed_fen),
                _yuan(r.collected_fen),
                _pct(r.arrears_recovery_rate),
                _yuan(r.prior_arrears_fen),
                _pct(r.complaint_rate),
                r.satisfaction,
                r.responses,
                _pct(r.sla_compliance),
                _pct(r.online_payment_share),
                r.dispute_median_days,
            ]
            for r in board.months
        ]
    if name == "communities":
        rows = []
        for c in board.communities:
            latest = kpis.last_complete(board.per_community.get(c.id, []))
            series = board.per_community.get(c.id, [])
            scored = [r for r in series if r.satisfaction is not None]
            rows.append(
                [
                    c.code,
                    c.name,
                    latest.month if latest else "",
                    _pct(latest.collection_rate) if latest else None,
                    _pct(latest.arrears_recovery_rate) if latest else None,
                    _pct(latest.complaint_rate) if latest else None,
                    scored[-1].satisfaction if scored else None,
                    _pct(latest.sla_compliance) if latest else None,
                    _pct(latest.online_payment_share) if latest else None,
                ]
            )
        return [
            str(_l("小区编号")),
            str(_l("小区")),
            str(_l("最近已到期月份")),
            str(_l("收缴率 %")),
            str(_l("清欠率 %")),
            str(_l("投诉率 %")),
            str(_l("最近满意度")),
            str(_l("工单时限达标率 %")),
            str(_l("线上缴费占比 %")),
        ], rows
    if name == "buildings":
        header = [
            str(_l("小区")),
            str(_l("楼栋")),
            str(_l("房屋")),
            str(_l("收缴率 %")),
            str(_l("满意度")),
            str(_l("答卷数")),
            str(_l("投诉率 %")),
        ]
        if not board.public:
            header += [str(_l("欠费户数")), str(_l("欠费金额（元）"))]
        rows = []
        for b in board.buildings:
            row: list[Any] = [
                b.community,
                b.building,
                b.units,
                _pct(b.collection_rate),
                b.satisfaction,
                b.responses if not board.public or b.responses >= kpis.K else None,
                _pct(b.complaint_rate),
            ]
            if not board.public:
                row += [b.arrears_units, _yuan(b.arrears_fen)]
            rows.append(row)
        return header, rows
    if name == "aging":
        return [str(_l("逾期天数")), str(_l("欠费户数")), str(_l("欠费金额（元）"))], [
            [bucket, cell["units"], _yuan(cell["amount_fen"])]
            for bucket, cell in board.aging.items()
        ]
    if name == "funnel":
        return [str(_l("级别")), str(_l("在办案件")), str(_l("逾期金额（元）"))], [
            [row["tier"], row["cases"], _yuan(row["overdue_fen"])] for row in board.funnel
        ]
    if name == "recovery":
        return [
            str(_l("分组")),
            str(_l("欠费房屋（次）")),
            str(_l("30 天内回款")),
            str(_l("回款比例 %")),
            str(_l("欠费金额（元）")),
            str(_l("30 天内回款金额（元）")),
        ], [
            [
                str(_l("完成服务补救")) if g.treated else str(_l("未做服务补救")),
                g.units,
                g.paid_units,
                _pct(g.paid_share),
                _yuan(g.arrears_fen),
                _yuan(g.paid_fen),
            ]
            for g in (board.treated, board.untreated)
        ]
    raise KeyError(name)
