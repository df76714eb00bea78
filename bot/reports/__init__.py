"""Reports: KPIs in SQL, chart data, charts drawn in a child process, digest composition.

Names are imported on first use (PEP 562): the chart child processes import
bot.reports.renderer, which makes Python import this package first, and they must not pay for
SQLAlchemy and the config models (seconds on a busy machine) at every spawn. Importing this
package never imports matplotlib: drawing happens only in the renderer's children.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.reports.chart_model import CHART_TITLES, ChartData, Series
    from bot.reports.charts import chart_data
    from bot.reports.digest import (
        Digest,
        build_digest,
        default_period,
        digest_period_kind,
        parse_digest_period,
    )
    from bot.reports.errors import ChartRenderError, FontMissing, ReportError
    from bot.reports.filters import ReportFilter, check_report_filter
    from bot.reports.kpi_model import (
        AgeBucket,
        KpiReport,
        OverdueComplaint,
        PeriodFigures,
        Problem,
        Ranked,
        WorkingCalendar,
    )
    from bot.reports.kpis import compute_kpis, current_breaches
    from bot.reports.markdown import render_digest_markdown
    from bot.reports.periods import (
        Period,
        last_completed,
        month_period,
        parse_period,
        period_containing,
        week_period,
    )
    from bot.reports.renderer import ChartRenderer, ChartWarning, RenderedChart
    from bot.reports.stats import Change, DurationStats, Rate, percentile

_EXPORTS = {
    "AgeBucket": "bot.reports.kpi_model",
    "CHART_TITLES": "bot.reports.chart_model",
    "Change": "bot.reports.stats",
    "ChartData": "bot.reports.chart_model",
    "ChartRenderError": "bot.reports.errors",
    "ChartRenderer": "bot.reports.renderer",
    "ChartWarning": "bot.reports.renderer",
    "Digest": "bot.reports.digest",
    "DurationStats": "bot.reports.stats",
    "FontMissing": "bot.reports.errors",
    "KpiReport": "bot.reports.kpi_model",
    "OverdueComplaint": "bot.reports.kpi_model",
    "Period": "bot.reports.periods",
    "PeriodFigures": "bot.reports.kpi_model",
    "Problem": "bot.reports.kpi_model",
    "Ranked": "bot.reports.kpi_model",
    "Rate": "bot.reports.stats",
    "RenderedChart": "bot.reports.renderer",
    "ReportError": "bot.reports.errors",
    "ReportFilter": "bot.reports.filters",
    "Series": "bot.reports.chart_model",
    "WorkingCalendar": "bot.reports.kpi_model",
    "build_digest": "bot.reports.digest",
    "chart_data": "bot.reports.charts",
    "check_report_filter": "bot.reports.filters",
    "compute_kpis": "bot.reports.kpis",
    "current_breaches": "bot.reports.kpis",
    "default_period": "bot.reports.digest",
    "digest_period_kind": "bot.reports.digest",
    "last_completed": "bot.reports.periods",
    "month_period": "bot.reports.periods",
    "parse_digest_period": "bot.reports.digest",
    "parse_period": "bot.reports.periods",
    "percentile": "bot.reports.stats",
    "period_containing": "bot.reports.periods",
    "render_digest_markdown": "bot.reports.markdown",
    "week_period": "bot.reports.periods",
}

__all__ = [
    "AgeBucket",
    "CHART_TITLES",
    "Change",
    "ChartData",
    "ChartRenderError",
    "ChartRenderer",
    "ChartWarning",
    "Digest",
    "DurationStats",
    "FontMissing",
    "KpiReport",
    "OverdueComplaint",
    "Period",
    "PeriodFigures",
    "Problem",
    "Ranked",
    "Rate",
    "RenderedChart",
    "ReportError",
    "ReportFilter",
    "Series",
    "WorkingCalendar",
    "build_digest",
    "chart_data",
    "check_report_filter",
    "compute_kpis",
    "current_breaches",
    "default_period",
    "digest_period_kind",
    "last_completed",
    "month_period",
    "parse_digest_period",
    "parse_period",
    "percentile",
    "period_containing",
    "render_digest_markdown",
    "week_period",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bot.reports' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
