"""The console's dashboard: KPI tiles (this period against the one before) and the report charts.

Figures come from bot.reports (compute_kpis, chart_data); charts are drawn here as inline SVG
(console_charts.py), so the server process never imports matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from aiohttp import web
from markupsafe import Markup

from bot.appkeys import CONFIG, DATABASE, SERVICE
from bot.config.model import CHART_NAMES
from bot.reports import (
    Change,
    KpiReport,
    Period,
    ReportError,
    chart_data,
    compute_kpis,
    parse_period,
    period_containing,
)
from bot.reports.markdown import format_change, format_duration, format_share
from bot.web.console import page
from bot.web.console_charts import render_chart
from bot.web.console_format import local_text

routes = web.RouteTableDef()

# Which way is better, for the colour of a change: up, down, or neither.
Better = Literal["up", "down", "none"]


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    value: str
    previous: str  # 上期 …, or "" when there is no comparison
    change: str  # （↑12%）, or ""
    tone: str  # good, bad, neutral
    note: str = ""


def _duration(value: timedelta | None) -> str:
    return format_duration(value) if value is not None else "—"


def _share(value: float | None) -> str:
    return format_share(value) if value is not None else "—"


def _tone(change: Change | None, better: Better) -> str:
    if change is None or change.delta in (None, 0) or better == "none":
        return "neutral"
    assert change.delta is not None
    return "good" if (change.delta > 0) == (better == "up") else "bad"


def kpi_tiles(report: KpiReport) -> list[Tile]:
    """The headline tiles, each with last period's figure and the change."""
    now, before = report.current, report.previous
    change = report.change

    def tile(
        key: str, label: str, value: str, previous: str | None, better: Better, note: str = ""
    ) -> Tile:
        moved = change.get(key)
        return Tile(
            key=key,
            label=label,
            value=value,
            previous=f"上期 {previous}" if previous is not None and before is not None else "",
            change=format_change(moved) if before is not None else "",
            tone=_tone(moved, better),
            note=note,
        )

    csat_note = f"平均 {now.csat_average:.1f} 分" if now.csat_average is not None else ""
    return [
        tile(
            "received",
            "新增投诉",
            f"{now.received}",
            f"{before.received}" if before else None,
            "none",
        ),
        Tile("open_now", "未结投诉", f"{report.open_now}", "", "", "neutral", "当前"),
        tile("closed", "结案", f"{now.closed}", f"{before.closed}" if before else None, "up"),
        tile(
            "first_response_median",
            "首次响应（中位数）",
            _duration(now.first_response.median),
            _duration(before.first_response.median) if before else None,
            "down",
        ),
        tile(
            "resolution_median",
            "解决时长（中位数）",
            _duration(now.resolution.median),
            _duration(before.resolution.median) if before else None,
            "down",
        ),
        tile(
            "csat_satisfied",
            "满意率（4–5星）",
            _share(now.csat_satisfied.value),
            _share(before.csat_satisfied.value) if before else None,
            "up",
            csat_note,
        ),
        tile(
            "sla_compliance",
            "时限达成率",
            _share(now.sla_compliance.value),
            _share(before.sla_compliance.value) if before else None,
            "up",
        ),
        Tile(
            "current_breaches",
            "当前超时",
            f"{report.current_breaches}",
            "",
            "",
            "bad" if report.current_breaches else "neutral",
            "当前",
        ),
    ]


def _neighbours(period: Period) -> tuple[str, str | None]:
    """Labels of the period before and after `period` (None after a range)."""
    before = period.previous().label
    if period.kind == "range":
        return before, None
    return before, period_containing(period.end, period.kind, period.tz).label


@routes.get("/console/dashboard")
async def dashboard(request: web.Request) -> web.Response:
    """KPI tiles and charts for `?period=` (2026-W47, 2026-11, …; default: this week)."""
    rt = request.app[SERVICE].rt
    config = request.app[CONFIG]
    now, tz = rt.now(), rt.tz
    this_week = period_containing(now, "week", tz)
    error = None
    raw = request.query.get("period", "").strip()
    try:
        period = parse_period(raw, tz) if raw else this_week
    except ReportError as exc:
        error, period = str(exc), this_week
    async with request.app[DATABASE].read() as session:
        report = await compute_kpis(session, period, now=now, calendar=config.calendar)
        charts = [
            await chart_data(session, name, period, now=now, directory=config.directory)
            for name in CHART_NAMES
        ]
    before, after = _neighbours(period)
    directory = config.directory
    overdue: list[dict[str, Any]] = [
        {
            "number": item.number,
            "type": item.type or "",
            "department": directory.department_name(item.department),
            "assignee": directory.name_of(item.assignee),
            "breached": local_text(item.breached_at, tz),
            "late": format_duration(now - item.breached_at),
        }
        for item in report.overdue
    ]
    return page(
        request,
        "console_dashboard.html",
        title="数据看板",
        section="dashboard",
        status=400 if error else 200,
        error=error,
        period=period,
        period_text=period.describe(),
        previous_text=period.previous().describe(),
        raw_period=raw,
        before=before,
        after=after,
        this_week=this_week.label,
        tiles=kpi_tiles(report),
        charts=[
            {
                "name": c.chart,
                "title": c.title,
                "subtitle": c.subtitle,
                "html": Markup(render_chart(c)),
            }  # noqa: S704 - render_chart escapes every text
            for c in charts
        ],
        backlog=[(b.label, b.count) for b in report.backlog_by_age],
        overdue=overdue,
        as_of=local_text(now, tz),
    )
