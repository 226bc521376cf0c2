"""Plotly figures of the KPI dashboards (pure: the board's numbers in, figure dicts out)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from portal.reports import kpis
from portal.reports.dashboard import Board
from portal.tickets.stats import json_number
from portal.transparency.figures import AMBER, GREY, PALETTE, RED, TEAL, label

FONT = {"family": "system-ui, 'PingFang SC', 'Noto Sans CJK SC', sans-serif", "size": 12}


def _n(value: Decimal | int | None) -> Any:
    return value if value is None or isinstance(value, int) else json_number(value)


def _pct(value: Decimal | None) -> Any:
    return None if value is None else json_number((value * 100).quantize(Decimal("0.1")))


def _layout(y_title: str, **extra: Any) -> dict[str, Any]:
    return {
        "margin": {"l": 48, "r": 16, "t": 16, "b": 56},
        "height": 300,
        "font": FONT,
        "colorway": PALETTE,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "gridcolor": "#e2e8f0"},
        "xaxis": {"type": "category", "automargin": True, "tickangle": -45},
        "legend": {"orientation": "h", "y": -0.35},
        **extra,
    }


def _target_line(months: list[str], target: Decimal, scale: int = 1) -> dict[str, Any]:
    value = json_number(target * scale)
    return {
        "type": "scatter",
        "mode": "lines",
        "x": [months[0], months[-1]],
        "y": [value, value],
        "name": _("目标"),
        "line": {"color": GREY, "dash": "dash"},
        "hoverinfo": "skip",
    }


def collection_figure(board: Board) -> dict[str, Any]:
    """收缴率 and 清欠率 by month; a month still in progress is a hollow grey point, off the
    line, so the month being paid never reads as a plunge."""
    months = [r.month for r in board.months]
    done = [_pct(r.collection_rate) if not r.in_progress else None for r in board.months]
    pending = [(r.month, _pct(r.collection_rate)) for r in board.months if r.in_progress]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": months,
            "y": done,
            "name": _("收缴率"),
            "line": {"color": TEAL},
            "hovertemplate": "%{x}: %{y:.1f}%<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": months,
            "y": [_pct(r.arrears_recovery_rate) for r in board.months],
            "name": _("清欠率"),
            "line": {"color": AMBER},
            "hovertemplate": "%{x}: %{y:.1f}%<extra></extra>",
        },
    ]
    if pending:
        data.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": [m for m, _v in pending],
                "y": [v for _m, v in pending],
                "name": _("进行中，未到期"),
                "text": [_("未到期")] * len(pending),
                "textposition": "top center",
                "textfont": {"color": GREY},
                "marker": {"color": "#ffffff", "line": {"color": GREY, "width": 2}, "size": 9},
                "hovertemplate": "%{x}: %{y:.1f}% (" + _("进行中，未到期") + ")<extra></extra>",
            }
        )
    return {"data": data, "layout": _layout("%", yaxis={"range": [0, 105], "ticksuffix": "%"})}


def service_figure(board: Board) -> dict[str, Any]:
    """Complaint rate and SLA compliance by month (%), with the complaint-rate target."""
    months = [r.month for r in board.months]
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": months,
            "y": [_pct(r.complaint_rate) for r in board.months],
            "name": _("投诉率"),
            "line": {"color": RED},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": months,
            "y": [_pct(r.sla_compliance) for r in board.months],
            "name": _("工单时限达标率"),
            "line": {"color": TEAL},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": months,
            "y": [_pct(r.online_payment_share) for r in board.months],
            "name": _("线上缴费占比"),
            "line": {"color": "#2563eb"},
        },
    ]
    target = kpis.BY_KEY["complaint_rate"].target
    if months and target is not None:
        line = _target_line(months, target, 100)
        line["name"] = _("投诉率目标")
        data.append(line)
    return {"data": data, "layout": _layout("%", yaxis={"range": [0, 105], "ticksuffix": "%"})}


def satisfaction_figure(board: Board) -> dict[str, Any]:
    months = [r.month for r in board.months]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": months,
            "y": [_n(r.satisfaction) for r in board.months],
            "name": _("满意度（0–100）"),
            "line": {"color": TEAL},
            "connectgaps": True,
        }
    ]
    target = kpis.BY_KEY["satisfaction"].target
    if months and target is not None:
        data.append(_target_line(months, target))
    return {"data": data, "layout": _layout(_("分"), yaxis={"range": [0, 100]})}


def communities_figure(board: Board) -> dict[str, Any]:
    """The latest month already due of each community: collection and complaint rate."""
    names, rates, complaints = [], [], []
    for c in board.communities:
        latest = kpis.last_complete(board.per_community.get(c.id, []))
        names.append(label(c.name))
        rates.append(_pct(latest.collection_rate) if latest else None)
        complaints.append(_pct(latest.complaint_rate) if latest else None)
    return {
        "data": [
            {"type": "bar", "x": names, "y": rates, "name": _("收缴率"), "marker": {"color": TEAL}},
            {
                "type": "bar",
                "x": names,
                "y": complaints,
                "name": _("投诉率"),
                "marker": {"color": RED},
            },
        ],
        "layout": _layout("%", barmode="group", yaxis={"range": [0, 105], "ticksuffix": "%"}),
    }


def buildings_figure(board: Board) -> dict[str, Any]:
    multi = len(board.communities) > 1
    shown = [b for b in board.buildings if b.collection_rate is not None]
    names = [label(f"{b.community} · {b.building}" if multi else b.building) for b in shown]
    return {
        "data": [
            {
                "type": "bar",
                "x": names,
                "y": [_pct(b.collection_rate) for b in shown],
                "name": _("收缴率"),
                "marker": {"color": TEAL},
            },
            {
                "type": "bar",
                "x": names,
                "y": [_n(b.satisfaction) for b in shown],
                "name": _("满意度（0–100）"),
                "marker": {"color": AMBER},
            },
        ],
        "layout": _layout("", barmode="group", yaxis={"range": [0, 105]}),
    }


def scatter_figure(board: Board) -> dict[str, Any]:
    """Satisfaction (y) against collection rate (x) per building, with the least-squares
    trend line: buildings low on both are the ones to visit first."""
    xs = [json_number(x.quantize(Decimal("0.1"))) for _name, x, _y in board.scatter]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            # Names beside the points while they fit; past 8 they would overlap on a phone,
            # so the hover and the table below name them.
            "mode": "markers+text" if len(xs) <= 8 else "markers",
            "x": xs,
            "y": [_n(y) for _name, _x, y in board.scatter],
            "text": [label(name) for name, _x, _y in board.scatter],
            "textposition": "top center",
            "textfont": {"size": 10},
            "marker": {"color": TEAL, "size": 10},
            "name": _("楼栋"),
            "hovertemplate": "%{text}<br>"
            + _("收缴率")
            + " %{x:.1f}%<br>"
            + _("满意度")
            + " %{y:.1f}<extra></extra>",
        }
    ]
    if board.trend is not None and board.scatter:
        slope, intercept = board.trend
        lo = min(x for _name, x, _y in board.scatter)
        hi = max(x for _name, x, _y in board.scatter)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [
                    json_number(lo.quantize(Decimal("0.1"))),
                    json_number(hi.quantize(Decimal("0.1"))),
                ],
                "y": [
                    json_number((slope * lo + intercept).quantize(Decimal("0.1"))),
                    json_number((slope * hi + intercept).quantize(Decimal("0.1"))),
                ],
                "name": _("最小二乘趋势线"),
                "line": {"color": AMBER, "dash": "dash"},
                "hoverinfo": "skip",
            }
        )
    return {
        "data": data,
        "layout": _layout(
            _("满意度（0–100）"),
            height=340,
            xaxis={"title": {"text": _("收缴率 %")}, "ticksuffix": "%", "automargin": True},
            yaxis={"title": {"text": _("满意度（0–100）")}, "range": [0, 100]},
        ),
    }


def aging_figure(board: Board) -> dict[str, Any]:
    names = list(board.aging)
    return {
        "data": [
            {
                "type": "bar",
                "x": names,
                "y": [json_number(Decimal(c["amount_fen"]) / 100) for c in board.aging.values()],
                "text": [c["units"] for c in board.aging.values()],
                "name": _("欠费金额（元）"),
                "marker": {"color": AMBER},
                "hovertemplate": "%{x}: ¥%{y:,.2f} (%{text})<extra></extra>",
            }
        ],
        "layout": _layout(_("元"), xaxis={"type": "category", "title": {"text": _("逾期天数")}}),
    }


def funnel_figure(board: Board) -> dict[str, Any]:
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [r["tier"] for r in board.funnel],
                "x": [r["cases"] for r in board.funnel],
                "name": _("在办案件"),
                "marker": {"color": TEAL},
            }
        ],
        "layout": _layout(
            "",
            height=240,
            xaxis={"title": {"text": _("在办案件")}, "rangemode": "tozero"},
            yaxis={"type": "category", "autorange": "reversed"},
        ),
    }


def recovery_figure(board: Board) -> dict[str, Any]:
    groups = (board.treated, board.untreated)
    return {
        "data": [
            {
                "type": "bar",
                "x": [_("完成服务补救"), _("未做服务补救")],
                "y": [_pct(g.paid_share) for g in groups],
                "text": [f"{g.paid_units}/{g.units}" for g in groups],
                "textposition": "outside",
                "marker": {"color": [TEAL, GREY]},
                "name": _("30 天内回款比例"),
                "hovertemplate": "%{x}: %{y:.1f}% (%{text})<extra></extra>",
            }
        ],
        "layout": _layout(
            "%", height=260, yaxis={"range": [0, 105], "ticksuffix": "%"}, showlegend=False
        ),
    }


def all_figures(board: Board) -> dict[str, dict[str, Any]]:
    return {
        "collection": collection_figure(board),
        "service": service_figure(board),
        "satisfaction": satisfaction_figure(board),
        "communities": communities_figure(board),
        "buildings": buildings_figure(board),
        "scatter": scatter_figure(board),
        "aging": aging_figure(board),
        "funnel": funnel_figure(board),
        "recovery": recovery_figure(board),
    }
