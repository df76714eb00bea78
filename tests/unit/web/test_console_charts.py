"""Dashboard charts drawn inline from ChartData: well-formed, escaped, honest when empty."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bot.reports.chart_model import NO_DATA, ChartData, Series
from bot.web.console_charts import render_chart

DONUT = ChartData(
    "type_share",
    "donut",
    "投诉类型占比",
    "2026-W48",
    categories=("产品质量", "物流问题", "<script>坏</script>"),
    series=(Series("投诉数", (3.0, 1.0, 1.0)),),
)
LINE = ChartData(
    "weekly_trend",
    "line",
    "每周投诉趋势",
    "",
    categories=tuple(f"W{i:02d}" for i in range(1, 13)),
    series=(
        Series("近12周", tuple(float(i % 4) for i in range(12))),
        Series("前12周", (1.0,) * 12, muted=True),
    ),
)
HBAR = ChartData(
    "department_handling_time",
    "hbar",
    "各部门平均处理时长",
    "",
    categories=("产品部（2起）", "物流部（1起）"),
    series=(Series("平均处理时长", (30.5, 4.0)),),
    unit="hours",
)
TABLE = ChartData(
    "status_table",
    "table",
    "投诉状态统计",
    "",
    columns=("状态", "数量（起）"),
    rows=(("待受理", "3"), ("<script>x</script>", "1")),
)


@pytest.mark.parametrize("data", [DONUT, LINE, HBAR, TABLE], ids=lambda d: d.kind)
def test_each_kind_is_a_well_formed_fragment(data: ChartData):
    html = render_chart(data)
    ET.fromstring(f"<div>{html}</div>")
    assert "<script>" not in html  # category text is escaped


def test_values_and_labels_are_written_out():
    assert "产品质量" in render_chart(DONUT) and "60%" in render_chart(DONUT)
    assert "30.5小时" in render_chart(HBAR)
    assert "stroke-dasharray" in render_chart(LINE)  # the comparison line is dashed
    assert "<td>待受理</td>" in render_chart(TABLE)


def test_a_single_slice_is_a_full_ring():
    one = ChartData(
        "type_share", "donut", "t", "", categories=("产品质量",), series=(Series("n", (4.0,)),)
    )
    svg = render_chart(one)
    assert "<circle" in svg and "100%" in svg


@pytest.mark.parametrize("kind", ["donut", "line", "hbar", "table"])
def test_empty_charts_say_there_is_no_data(kind: str):
    empty = ChartData("x", kind, "t", "", categories=("a",), series=(Series("n", (0.0,)),))
    assert NO_DATA in render_chart(empty)
