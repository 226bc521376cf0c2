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


def test_the_month_not_yet_due_is_not_drawn_as_a_plunge() -> None:
    line = figures.rate_line(
        [("2026-10", Decimal("91.2")), ("2026-11", Decimal("3.6"))],
        in_progress=["2026-11"],
        in_progress_label="进行中，未到期",
    )
    solid, pending = line["data"]
    assert solid["y"] == [91.2, None]  # the line stops at the last month already due
    assert pending["x"] == ["2026-11"]
    assert pending["y"] == [3.6]
    assert pending["text"] == ["进行中，未到期"]
    assert pending["marker"]["color"] == "#ffffff"  # hollow


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
