import json
from decimal import Decimal

from portal.transparency import figures


def test_category_bar_is_horizontal_in_yuan_largest_on_top() -> None:
    figure = figures.category_bar([("保洁", 128_050), ("人员<b>费用</b>", 1_000_000)])
    trace = figure["data"][0]
    assert trace["type"] == "bar"
    assert trace["orientation"] == "h"
    assert trace["x"] == [1280.5, 10000]
    assert trace["y"] == ["保洁", "人员‹b›费用‹/b›"]  # staff-entered names stay plain text
    assert "template" not in figure["layout"]
    json.dumps(figure)  # plain JSON, ready for the page


def test_budget_vs_actual_colours_over_and_ahead() -> None:
    figure = figures.budget_vs_actual(
        [
            ("保洁", 100_000, 120_000, "over"),
            ("绿化", 100_000, 90_000, "ahead"),
            ("税费", None, 5_000, "unbudgeted"),
        ],
        budget_label="预算",
        actual_label="实际",
    )
    budget, actual = figure["data"]
    assert budget["name"] == "预算"
    assert budget["x"] == [0, 1000, 1000]  # reversed so the first row is on top
    assert actual["marker"]["color"] == [figures.TEAL, figures.AMBER, figures.RED]
    assert figure["layout"]["barmode"] == "group"


def test_rate_charts_and_pie() -> None:
    line = figures.rate_line([("2026-09", Decimal("91.2")), ("2026-10", None)])
    assert line["data"][0]["y"] == [91.2, None]
    assert line["layout"]["yaxis"]["ticksuffix"] == "%"
    pie = figures.share_pie([("酬金", 36_000), ("保洁", 324_000)])
    assert pie["data"][0]["type"] == "pie"
    assert pie["data"][0]["values"] == [360, 3240]
    bars = figures.in_out_bar([("广告收入", 10_000, "in"), ("税费", 500, "out")])
    assert bars["data"][0]["marker"]["color"] == [figures.AMBER, figures.TEAL]
    months = figures.monthly_bar([("2026-01", 1), ("2026-02", 250)])
    assert months["data"][0]["y"] == [0.01, 2.5]
