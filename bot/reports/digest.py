"""Digest composition: KPIs, chart data and images for one digest and period."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.model import DigestConfig
from bot.domain.directory import Directory
from bot.reports.chart_model import CHART_TITLES, ChartData
from bot.reports.charts import chart_data
from bot.reports.filters import ReportFilter
from bot.reports.kpi_model import KpiReport, WorkingCalendar
from bot.reports.kpis import compute_kpis
from bot.reports.markdown import render_digest_markdown
from bot.reports.periods import Period, last_completed, parse_period
from bot.reports.renderer import ChartRenderer, RenderedChart

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Digest:
    """What a digest sends: the markdown summary and one PNG per configured chart, in order."""

    name: str
    period: Period
    markdown: str
    images: tuple[tuple[str, bytes], ...]  # (chart name, PNG bytes)
    kpis: KpiReport

    def write_to(self, out_dir: Path) -> list[Path]:
        """Write digest.md and <chart>.png into `out_dir` (for --dry-run --out DIR)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        written = [out_dir / "digest.md"]
        written[0].write_text(self.markdown, encoding="utf-8")
        for chart, png in self.images:
            path = out_dir / f"{chart}.png"
            path.write_bytes(png)
            written.append(path)
        return written


def digest_period_kind(digest: DigestConfig) -> Literal["day", "week", "month"]:
    """What a digest covers, read from its cron: a day-of-month means monthly, a weekday weekly."""
    fields = digest.cron.split()
    day_of_month, day_of_week = fields[2], fields[4]
    if day_of_month != "*":
        return "month"
    if day_of_week != "*":
        return "week"
    return "day"


def default_period(digest: DigestConfig, now: datetime) -> Period:
    """The whole period just ended at `now` in the digest's time zone (last week for 周一 9:00)."""
    return last_completed(digest_period_kind(digest), now, ZoneInfo(digest.timezone))


def parse_digest_period(digest: DigestConfig, text: str) -> Period:
    """A --period argument ("2026-W47", "2026-11", …) read in the digest's own time zone."""
    return parse_period(text, ZoneInfo(digest.timezone))


async def build_digest(
    session: AsyncSession,
    digest: DigestConfig,
    period: Period,
    *,
    now: datetime,
    renderer: ChartRenderer,
    directory: Directory | None = None,
    calendar: WorkingCalendar | None = None,
    progress: Progress | None = None,
) -> Digest:
    """KPIs, markdown and chart PNGs of `digest` for `period` (drawing overlaps the queries)."""
    say = progress or (lambda _message: None)
    flt = ReportFilter.from_mapping(digest.filter)
    say(f"{digest.name} {period.label}: computing KPIs")
    started = time.perf_counter()
    kpis = await compute_kpis(session, period, flt, now=now, calendar=calendar)
    say(f"KPIs ready in {time.perf_counter() - started:.2f} s")

    async def draw(chart: str, data_seconds: float, data: ChartData) -> RenderedChart:
        rendered = await renderer.render_chart(data)
        say(
            f"chart {chart} ({CHART_TITLES[chart]}): data {data_seconds:.2f} s, "
            f"drawn {rendered.draw_seconds:.2f} s, {len(rendered.png) // 1024} KB"
        )
        return rendered

    drawing: list[asyncio.Task[RenderedChart]] = []
    try:
        for chart in digest.charts:
            started = time.perf_counter()
            data = await chart_data(session, chart, period, flt, now=now, directory=directory)
            drawing.append(asyncio.create_task(draw(chart, time.perf_counter() - started, data)))
        rendered = await asyncio.gather(*drawing)
    except BaseException:
        for task in drawing:
            task.cancel()
        raise
    markdown = render_digest_markdown(
        kpis,
        kpis.problems,
        kpis.overdue,
        title=digest.name,
        overdue_total=kpis.current_breaches,
        directory=directory,
    )
    say(f"{digest.name} {period.label}: done ({len(rendered)} charts)")
    return Digest(digest.name, period, markdown, tuple((r.chart, r.png) for r in rendered), kpis)
