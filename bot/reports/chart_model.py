"""Chart data as plain, picklable values: what the child process draws, nothing it must query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ChartKind = Literal["donut", "line", "hbar", "table"]
ValueUnit = Literal["count", "hours", "percent"]

CHART_TITLES = {
    "type_share": "投诉类型占比",
    "monthly_trend": "月度投诉趋势",
    "weekly_trend": "每周投诉趋势",
    "department_handling_time": "各部门平均处理时长",
    "status_table": "投诉状态统计",
    "csat_trend": "客户满意度趋势",
    "sla_by_department": "各部门处理时限达成率",
}

NO_DATA = "本期暂无数据"


@dataclass(frozen=True)
class Series:
    """One line or set of bars; `muted` draws a comparison series (previous period) quietly."""

    name: str
    values: tuple[float | None, ...]
    muted: bool = False


@dataclass(frozen=True)
class ChartData:
    """Everything needed to draw one chart: labels in Chinese, values already aggregated."""

    chart: str  # one of bot.config.model.CHART_NAMES
    kind: ChartKind
    title: str
    subtitle: str
    categories: tuple[str, ...] = ()
    series: tuple[Series, ...] = ()
    unit: ValueUnit = "count"
    axis_label: str = ""
    columns: tuple[str, ...] = ()  # table header
    rows: tuple[tuple[str, ...], ...] = ()  # table body

    @property
    def is_empty(self) -> bool:
        if self.kind == "table":
            return not self.rows
        return not any(v for s in self.series for v in s.values if v is not None)
