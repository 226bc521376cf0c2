"""Plotly figure builders: query rows in, figure dicts out (pure, so tests can check them).

Templates embed each figure as JSON in a <script type="application/json"> block and
static/js/charts.js draws it with the vendored plotly.js basic bundle (bar, pie, scatter).
Money arrives as integer fen and is plotted in yuan (Decimal → JSON number).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

TEAL = "#0f766e"
AMBER = "#d97706"
RED = "#dc2626"
GREY = "#94a3b8"
PALETTE = [
    "#0f766e", "#2563eb", "#d97706", "#7c3aed", "#db2777",
    "#059669", "#0891b2", "#ca8a04", "#4f46e5", "#64748b", "#be123c",
]  # fmt: skip
PERCENT_AXIS = {"range": [0, 105], "ticksuffix": "%", "gridcolor": "#e2e8f0", "automargin": True}
YUAN_HOVER = "%{y}: ¥%{x:,.2f}<extra></extra>"


def yuan(fen: int) -> Decimal:
    """Fen as a Decimal number of yuan (exact; plotted as a JSON number)."""
    return Decimal(int(fen)) / 100


def label(text: Any) -> str:
    """Plotly reads a little HTML in labels; staff-entered names must stay plain text."""
    return str(text).replace("<", "‹").replace(">", "›")


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": "none",
        "height": height,
        "margin": {"l": 8, "r": 16, "t": 12, "b": 32},
        "font": {"family": "system-ui, 'PingFang SC', 'Noto Sans CJK SC', sans-serif", "size": 12},
        "colorway": PALETTE,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "showlegend": False,
        "separators": ".,",
    }
    layout.update(extra)
    return layout


def to_dict(fig: go.Figure) -> dict[str, Any]:
    """The figure as plain JSON data, without Plotly's (large) template."""
    data: dict[str, Any] = json.loads(pio.to_json(fig, validate=False))
    data.get("layout", {}).pop("template", None)
    return data


def category_bar(rows: Sequence[tuple[str, int]], *, unit_label: str = "¥") -> dict[str, Any]:
    """Horizontal bars, largest on top: fits long Chinese category names on a phone."""
    ordered = sorted(rows, key=lambda r: r[1])
    fig = go.Figure(
        go.Bar(
            x=[yuan(fen) for _, fen in ordered],
            y=[label(name) for name, _ in ordered],
            orientation="h",
            marker={"color": TEAL},
            hovertemplate=YUAN_HOVER,
        ),
        layout=_layout(
            max(160, 34 * len(ordered) + 50),
            xaxis={
                "tickprefix": unit_label,
                "tickformat": ",.0f",
                "automargin": True,
                "gridcolor": "#e2e8f0",
            },
            yaxis={"automargin": True},
        ),
    )
    return to_dict(fig)


def share_pie(rows: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """A doughnut of shares (owner's fee by category)."""
    fig = go.Figure(
        go.Pie(
            labels=[label(name) for name, _ in rows],
            values=[yuan(fen) for _, fen in rows],
            hole=0.45,
            sort=False,
            textinfo="percent",
            hovertemplate="%{label}: ¥%{value:,.2f} (%{percent})<extra></extra>",
            marker={"colors": PALETTE[: len(rows)] or None},
        ),
        layout=_layout(
            320, showlegend=True, legend={"orientation": "h", "y": -0.05, "font": {"size": 11}}
        ),
    )
    return to_dict(fig)


def monthly_bar(rows: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """Monthly totals as columns."""
    fig = go.Figure(
        go.Bar(
            x=[month for month, _ in rows],
            y=[yuan(fen) for _, fen in rows],
            marker={"color": TEAL},
            hovertemplate="%{x}: ¥%{y:,.2f}<extra></extra>",
        ),
        layout=_layout(
            260,
            xaxis={"type": "category", "tickangle": -45, "automargin": True},
            yaxis={
                "tickprefix": "¥",
                "tickformat": ",.0f",
                "automargin": True,
                "gridcolor": "#e2e8f0",
            },
        ),
    )
    return to_dict(fig)


def budget_vs_actual(
    rows: Sequence[tuple[str, int | None, int, str]], *, budget_label: str, actual_label: str
) -> dict[str, Any]:
    """Grouped horizontal bars: budget (grey) against actual (teal, amber ahead, red over)."""
    ordered = list(reversed(rows))
    colours = {"over": RED, "ahead": AMBER}
    fig = go.Figure(
        [
            go.Bar(
                name=budget_label,
                x=[yuan(b or 0) for _, b, _, _ in ordered],
                y=[label(n) for n, _, _, _ in ordered],
                orientation="h",
                marker={"color": GREY},
                hovertemplate=budget_label + " %{y}: ¥%{x:,.2f}<extra></extra>",
            ),
            go.Bar(
                name=actual_label,
                x=[yuan(a) for _, _, a, _ in ordered],
                y=[label(n) for n, _, _, _ in ordered],
                orientation="h",
                marker={"color": [colours.get(s, TEAL) for _, _, _, s in ordered]},
                hovertemplate=actual_label + " %{y}: ¥%{x:,.2f}<extra></extra>",
            ),
        ],
        layout=_layout(
            max(200, 52 * len(ordered) + 70),
            barmode="group",
            showlegend=True,
            legend={"orientation": "h", "y": 1.08, "x": 0},
            margin={"l": 8, "r": 16, "t": 36, "b": 32},
            xaxis={
                "tickprefix": "¥",
                "tickformat": ",.0f",
                "automargin": True,
                "gridcolor": "#e2e8f0",
            },
            yaxis={"automargin": True},
        ),
    )
    return to_dict(fig)


def rate_line(
    rows: Sequence[tuple[str, Decimal | None]],
    *,
    in_progress: Sequence[str] = (),
    in_progress_label: str = "",
) -> dict[str, Any]:
    """A percentage (0-100) by month, as a line with markers. Months still in progress (a
    bill not yet due) leave the line and show as hollow grey points with their label, so the
    month being paid is never drawn as a plunge."""
    open_months = set(in_progress)
    fig = go.Figure(
        go.Scatter(
            x=[m for m, _ in rows],
            y=[None if m in open_months else r for m, r in rows],
            mode="lines+markers",
            line={"color": TEAL},
            hovertemplate="%{x}: %{y:.1f}%<extra></extra>",
        ),
        layout=_layout(
            240,
            xaxis={"type": "category", "tickangle": -45, "automargin": True},
            yaxis=PERCENT_AXIS,
        ),
    )
    pending = [(m, r) for m, r in rows if m in open_months]
    if pending:
        fig.add_trace(
            go.Scatter(
                x=[m for m, _ in pending],
                y=[r for _, r in pending],
                mode="markers+text",
                marker={"color": "#ffffff", "line": {"color": GREY, "width": 2}, "size": 9},
                text=[in_progress_label] * len(pending),
                textposition="top center",
                textfont={"color": GREY},
                name=in_progress_label,
                hovertemplate="%{x}: %{y:.1f}% (" + in_progress_label + ")<extra></extra>",
            )
        )
    return to_dict(fig)


def rate_bar(rows: Sequence[tuple[str, Decimal]]) -> dict[str, Any]:
    """A percentage (0-100) per group, as columns."""
    fig = go.Figure(
        go.Bar(
            x=[label(name) for name, _ in rows],
            y=[r for _, r in rows],
            marker={"color": TEAL},
            hovertemplate="%{x}: %{y:.1f}%<extra></extra>",
        ),
        layout=_layout(
            240,
            xaxis={"type": "category", "automargin": True},
            yaxis=PERCENT_AXIS,
        ),
    )
    return to_dict(fig)


def in_out_bar(rows: Sequence[tuple[str, int, str]]) -> dict[str, Any]:
    """Income (teal) and spending (amber) of an account by kind, as horizontal bars."""
    ordered = list(reversed(rows))
    fig = go.Figure(
        go.Bar(
            x=[yuan(fen) for _, fen, _ in ordered],
            y=[label(name) for name, _, _ in ordered],
            orientation="h",
            marker={"color": [TEAL if d == "in" else AMBER for _, _, d in ordered]},
            hovertemplate=YUAN_HOVER,
        ),
        layout=_layout(
            max(160, 34 * len(ordered) + 50),
            xaxis={
                "tickprefix": "¥",
                "tickformat": ",.0f",
                "automargin": True,
                "gridcolor": "#e2e8f0",
            },
            yaxis={"automargin": True},
        ),
    )
    return to_dict(fig)
