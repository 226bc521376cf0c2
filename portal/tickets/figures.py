"""Plotly figures of the responsiveness statistics (pure: report in, figure dicts out)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from flask_babel import gettext as _

from portal.tickets.stats import Figures, Responsiveness, json_number

ACCENT = "#0f766e"
SECOND = "#d97706"
THIRD = "#2563eb"
MONTH_AXIS = {"type": "category", "tickangle": -45, "automargin": True, "nticks": 12}


def _layout(title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 15}},
        "margin": {"l": 48, "r": 48, "t": 64, "b": 40},
        "height": 360,
        "legend": {"orientation": "h", "y": -0.35},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        "font": {"family": "system-ui, 'PingFang SC', 'Noto Sans CJK SC', sans-serif"},
        "hovermode": "x unified",
        **extra,
    }


def _title(text: str, report: Responsiveness) -> str:
    """A chart title with its period on a second line (every figure states its period)."""
    period = _("%(a)s 至 %(b)s", a=report.period_from, b=report.period_to)
    return f"{text}<br><sup>{period}</sup>"


def _series(report: Responsiveness, pick: Any) -> list[Any]:
    return [json_number(pick(report.by_month.get(p, Figures()))) for p in report.periods]


def _percent(value: Any) -> Any:
    return None if value is None else json_number(value * 100)


def trend_hours(report: Responsiveness) -> dict[str, Any]:
    """Median first-response and resolution hours by month (gaps where too few to rate)."""
    fig = go.Figure(
        data=[
            go.Scatter(
                x=report.periods,
                y=_series(report, lambda f: f.median_resolution_h),
                name=_("解决用时中位数"),
                mode="lines+markers",
                line={"color": ACCENT},
            ),
            go.Scatter(
                x=report.periods,
                y=_series(report, lambda f: f.p90_resolution_h),
                name=_("解决用时 P90"),
                mode="lines+markers",
                line={"color": ACCENT, "dash": "dot"},
            ),
            go.Scatter(
                x=report.periods,
                y=_series(report, lambda f: f.median_first_response_h),
                name=_("首次响应中位数（右轴）"),
                mode="lines+markers",
                line={"color": SECOND},
                yaxis="y2",
            ),
        ],
        layout=_layout(
            _title(_("每月维修用时（小时）"), report),
            _("解决用时"),
            xaxis=MONTH_AXIS,
            yaxis2={
                "title": {"text": _("首次响应")},
                "overlaying": "y",
                "side": "right",
                "showgrid": False,
                "rangemode": "tozero",
            },
        ),
    )
    return fig.to_plotly_json()


def trend_sla(report: Responsiveness) -> dict[str, Any]:
    """Tickets received (bars) and SLA compliance % (line) by month."""
    fig = go.Figure(
        data=[
            go.Bar(
                x=report.periods,
                y=[report.by_month.get(p, Figures()).tickets for p in report.periods],
                name=_("受理工单数"),
                marker={"color": "#cbd5e1"},
                yaxis="y2",
            ),
            go.Scatter(
                x=report.periods,
                y=[
                    _percent(report.by_month.get(p, Figures()).sla_compliance)
                    for p in report.periods
                ],
                name=_("SLA 达标率 %"),
                mode="lines+markers",
                line={"color": THIRD},
            ),
        ],
        layout=_layout(
            _title(_("每月工单量与 SLA 达标率"), report),
            "%",
            xaxis=MONTH_AXIS,
            yaxis={"title": {"text": "%"}, "range": [0, 100]},
            yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "rangemode": "tozero"},
        ),
    )
    return fig.to_plotly_json()


def by_category(report: Responsiveness) -> dict[str, Any]:
    """Median resolution hours per category; categories too small to rate are left out."""
    rows = [r for r in report.categories if r.figures.median_resolution_h is not None]
    rows.sort(key=lambda r: r.figures.median_resolution_h or 0)
    fig = go.Figure(
        data=[
            go.Bar(
                y=[r.name for r in rows],
                x=[json_number(r.figures.median_resolution_h) for r in rows],
                orientation="h",
                name=_("解决用时中位数"),
                marker={"color": ACCENT},
                customdata=[_percent(r.figures.sla_compliance) for r in rows],
                hovertemplate=_("%{y}：%{x} 小时，SLA 达标 %{customdata}%") + "<extra></extra>",
            )
        ],
        layout=_layout(
            _title(_("各类别解决用时中位数"), report),
            "",
            xaxis={"title": {"text": _("小时")}, "rangemode": "tozero"},
            yaxis={"automargin": True},
            height=max(220, 48 * len(rows) + 90),
            hovermode="closest",
        ),
    )
    return fig.to_plotly_json()


def responsiveness_figures(report: Responsiveness) -> dict[str, dict[str, Any]]:
    """All charts of the page, by element id."""
    return {
        "chart-hours": trend_hours(report),
        "chart-sla": trend_sla(report),
        "chart-category": by_category(report),
    }
