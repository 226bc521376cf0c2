"""Plotly figures of survey results and the KPI dashboard (pure: rows in, figure dicts out)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from portal.feedback.surveys import QuestionResult, SurveyResults
from portal.tickets.stats import json_number

ACCENT = "#0f766e"
SECOND = "#d97706"
THIRD = "#2563eb"
FONT = {"family": "system-ui, 'PingFang SC', 'Noto Sans CJK SC', sans-serif"}


def _layout(title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 15}},
        "margin": {"l": 48, "r": 24, "t": 56, "b": 48},
        "height": 320,
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        "xaxis": {"type": "category", "automargin": True, "tickangle": -45},
        "legend": {"orientation": "h", "y": -0.3},
        "font": FONT,
        **extra,
    }


def question_figure(result: QuestionResult) -> dict[str, Any] | None:
    """Answers per score or option; None when suppressed (below k) or a text question."""
    if result.suppressed or not result.counts:
        return None
    labels = list(result.counts)
    if result.question.kind == "rating":
        labels = [ngettext("%(n)s 分", "%(n)s 分", int(s), n=s) for s in result.counts]
    return {
        "data": [
            {
                "type": "bar",
                "x": labels,
                "y": list(result.counts.values()),
                "marker": {"color": ACCENT},
                "name": _("回答数"),
            }
        ],
        "layout": _layout(result.question.text, _("回答数")),
    }


def dimensions_figure(report: SurveyResults) -> dict[str, Any] | None:
    """The 0-100 score of each rating question shown (suppressed ones left out)."""
    rated = [q for q in report.questions if q.score_100 is not None]
    if not rated:
        return None
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [q.question.text for q in rated],
                "x": [json_number(q.score_100) for q in rated],
                "marker": {"color": ACCENT},
                "name": _("满意度（0–100）"),
            }
        ],
        "layout": {
            **_layout(_("各题满意度（0–100）"), ""),
            "xaxis": {"range": [0, 100]},
            "yaxis": {"automargin": True, "autorange": "reversed"},
            "height": 120 + 36 * len(rated),
        },
    }


def _number(value: Any) -> Any:
    return value if value is None or isinstance(value, int) else json_number(value)


def line_figure(
    title: str,
    months: list[str],
    series: list[tuple[str, list[Any]]],
    y_title: str,
    target: Any = None,
) -> dict[str, Any]:
    """Monthly lines (Decimal or None values), with an optional dashed target line."""
    colors = [ACCENT, SECOND, THIRD]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": months,
            "y": [_number(v) for v in values],
            "name": name,
            "line": {"color": colors[i % 3]},
        }
        for i, (name, values) in enumerate(series)
    ]
    if target is not None and months:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [months[0], months[-1]],
                "y": [json_number(target), json_number(target)],
                "name": _("目标"),
                "line": {"color": "#9ca3af", "dash": "dash"},
            }
        )
    return {"data": data, "layout": _layout(title, y_title)}
