"""Charts drawn in the child process: real PNGs, 800 x 450, not blank, no missing CJK glyphs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from bot.config.model import CHART_NAMES
from bot.reports import (
    ChartData,
    ChartRenderer,
    ChartRenderError,
    ChartWarning,
    FontMissing,
    Series,
    chart_data,
    parse_period,
)
from bot.reports.fonts import find_cjk_font
from storage.db import Database
from tests.integration.reports.builders import SHANGHAI, answer, complaint, local, timer
from tests.integration.reports.pngcheck import assert_real_chart

# Warnings raised in this module fail the test: a ChartWarning re-issued from the child included.
pytestmark = pytest.mark.filterwarnings("error")

ROOT = Path(__file__).resolve().parents[3]
WEEKS = tuple(f"W{n}" for n in range(36, 48))

SAMPLES = {
    "type_share": ChartData(
        "type_share",
        "donut",
        "投诉类型占比",
        "2026-W47（2026年11月16日—11月22日）　共 412 起",
        ("产品质量", "物流问题", "服务态度", "退换货", "账单问题", "其他类型"),
        (Series("投诉数", (160.0, 110.0, 70.0, 40.0, 20.0, 12.0)),),
    ),
    "monthly_trend": ChartData(
        "monthly_trend",
        "line",
        "月度投诉趋势",
        "2025-12 至 2026-11　单位：起",
        tuple(f"{m}月" for m in (12, *range(1, 12))),
        (
            Series("近12个月", tuple(float(1500 + 40 * i) for i in range(12))),
            Series("上年同期", tuple(float(1400 + 30 * i) for i in range(12)), muted=True),
        ),
    ),
    "weekly_trend": ChartData(
        "weekly_trend",
        "line",
        "每周投诉趋势",
        "2026-W36 至 2026-W47　单位：起",
        WEEKS,
        (
            Series("近12周", tuple(float(380 + (i * 7) % 40) for i in range(12))),
            Series("前12周", tuple(float(350 + (i * 5) % 30) for i in range(12)), muted=True),
        ),
    ),
    "department_handling_time": ChartData(
        "department_handling_time",
        "hbar",
        "各部门平均处理时长",
        "2026-W47　本期解决 380 起",
        ("物流部（120起）", "产品部（150起）", "技术支持部（80起）", "客服部（30起）"),
        (Series("平均处理时长", (31.5, 22.1, 18.4, 6.2)),),
        unit="hours",
    ),
    "status_table": ChartData(
        "status_table",
        "table",
        "投诉状态统计",
        "2026-W47（2026年11月16日—11月22日）",
        columns=("状态", "数量（起）", "统计口径"),
        rows=(("待受理", "12", "当前"), ("处理中", "48", "当前"), ("已关闭", "350", "本期")),
    ),
    "csat_trend": ChartData(
        "csat_trend",
        "line",
        "客户满意度趋势",
        "2026-W36 至 2026-W47　最近一期 53 份评价，平均 4.3 分",
        WEEKS,
        (Series("满意率（4–5星）", (80.0, 82.5, None, 79.0, 85, 88, 84, 86, 90, 87, 85, 88)),),
        unit="percent",
    ),
    "sla_by_department": ChartData(
        "sla_by_department",
        "hbar",
        "各部门处理时限达成率",
        "2026-W47　本期解决 380 起",
        ("物流部（120起）", "产品部（150起）", "技术支持部（80起）"),
        (Series("时限内解决", (72.5, 88.0, 95.0)),),
        unit="percent",
    ),
}


def test_there_is_a_sample_for_every_configurable_chart() -> None:
    assert set(SAMPLES) == set(CHART_NAMES)


@pytest.mark.parametrize("name", CHART_NAMES)
async def test_each_chart_renders_a_real_png_with_all_glyphs(
    renderer: ChartRenderer, name: str
) -> None:
    rendered = await renderer.render_chart(SAMPLES[name])
    assert rendered.warnings == ()
    assert_real_chart(rendered.png)


async def test_an_empty_chart_says_so_instead_of_drawing_nothing(renderer: ChartRenderer) -> None:
    empty = ChartData(
        "type_share", "donut", "投诉类型占比", "2026-W47", (), (Series("投诉数", ()),)
    )
    assert_real_chart(await renderer.render(empty))


async def test_a_missing_glyph_fails_a_strict_render(renderer: ChartRenderer) -> None:
    # U+13000 (an Egyptian hieroglyph) is in no CJK font: matplotlib warns "Glyph … missing".
    broken = ChartData(
        "status_table", "table", "投诉状态 \U00013000", "", columns=("a",), rows=(("1",),)
    )
    with pytest.raises(ChartRenderError, match="missing from font"):
        await renderer.render(broken)


async def test_a_missing_glyph_comes_back_as_a_warning_when_not_strict() -> None:
    broken = ChartData(
        "status_table", "table", "投诉状态 \U00013000", "", columns=("a",), rows=(("1",),)
    )
    async with ChartRenderer(strict=False) as lenient:
        with pytest.warns(ChartWarning, match="missing from font"):
            rendered = await lenient.render_chart(broken)
    assert any("missing from font" in message for message in rendered.warnings)


async def test_children_are_recycled_and_stay_small() -> None:
    async with ChartRenderer(strict=True, max_tasks_per_child=2) as short_lived:
        results = [await short_lived.render_chart(SAMPLES["weekly_trend"]) for _ in range(5)]
    assert len({r.child_pid for r in results}) == 3
    assert all(r.child_pid != os.getpid() for r in results)
    assert max(r.child_peak_rss for r in results) < 250 * 1024 * 1024


async def test_concurrent_charts_with_recycled_children_do_not_deadlock() -> None:
    # Regression: a digest submits its charts at once; with a backlog in the pool, Python 3.11's
    # ProcessPoolExecutor never replaces a worker recycled by max_tasks_per_child (gh-115634).
    async with ChartRenderer(strict=True, max_tasks_per_child=2) as short_lived:
        charts = [SAMPLES[name] for name in CHART_NAMES]
        results = await asyncio.wait_for(
            asyncio.gather(*(short_lived.render_chart(chart) for chart in charts)), timeout=120
        )
    assert [r.chart for r in results] == list(CHART_NAMES)
    assert len({r.child_pid for r in results}) == 4


async def test_a_killed_child_is_replaced_and_the_chart_still_renders() -> None:
    async with ChartRenderer(strict=True) as chart_renderer:
        first = await chart_renderer.render_chart(SAMPLES["status_table"])
        os.kill(first.child_pid, signal.SIGKILL)
        second = await chart_renderer.render_chart(SAMPLES["status_table"])
    assert second.child_pid != first.child_pid
    assert_real_chart(second.png)


def test_a_missing_font_names_the_package_to_install(tmp_path: Path) -> None:
    with pytest.raises(FontMissing, match="fonts-noto-cjk"):
        ChartRenderer(font_path=tmp_path / "none.ttc").start()


def test_font_search_falls_back_and_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.reports import fonts

    monkeypatch.setattr(fonts, "CJK_FONT_CANDIDATES", (("/nonexistent/a.ttc", "fonts-a"),))
    with pytest.raises(FontMissing, match="/nonexistent/a.ttc"):
        find_cjk_font()


def test_the_service_process_never_imports_matplotlib() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from bot.reports import ChartData, ChartRenderer

        async def main():
            async with ChartRenderer(strict=True) as renderer:
                cells = ("状态",)
                chart = ChartData("status_table", "table", "t", "", columns=cells, rows=(cells,))
                png = await renderer.render(chart)
            assert png.startswith(b"\\x89PNG"), png[:8]
            assert "matplotlib" not in sys.modules, "parent imported matplotlib"
            print("ok")

        if __name__ == "__main__":
            asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


async def test_charts_from_the_database_render(db: Database, renderer: ChartRenderer) -> None:
    day = local(2026, 11, 18, 10)
    rows = [
        complaint(
            n,
            day - timedelta_hours(n),
            type=kind,
            department=dept,
            status="closed",
            first_response=day,
            resolved=day + timedelta_hours(n),
            closed=day + timedelta_hours(n + 1),
        )
        for n, (kind, dept) in enumerate(
            [("产品质量", "product")] * 5
            + [("物流问题", "logistics")] * 3
            + [("服务态度", "support")],
            start=1,
        )
    ]
    async with db.write() as session:
        session.add_all(rows)
        await session.flush()
        session.add_all(
            [answer(1, 5, day + timedelta_hours(30)), answer(2, 2, day + timedelta_hours(30))]
        )
        session.add(timer(3, "handle", "breached", day, "fired"))
    period = parse_period("2026-W47", SHANGHAI)
    async with db.read() as session:
        for name in CHART_NAMES:
            data = await chart_data(session, name, period, now=local(2026, 11, 24, 9))
            assert_real_chart(await renderer.render(data))


def timedelta_hours(hours: float):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(hours=hours)


def test_warnings_filter_is_active_here() -> None:
    with pytest.raises(UserWarning):
        warnings.warn("checked", UserWarning, stacklevel=1)
