"""The digest's markdown: headline KPIs with change, the largest problems, overdue numbers."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.directory import Department, Directory
from bot.reports import (
    DurationStats,
    KpiReport,
    OverdueComplaint,
    PeriodFigures,
    Problem,
    Rate,
    ReportFilter,
    parse_period,
    render_digest_markdown,
)
from bot.reports.kpi_model import headline_changes
from bot.reports.markdown import format_change, format_duration
from bot.reports.stats import Change

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, tzinfo=SHANGHAI)
DIRECTORY = Directory(departments={"logistics": Department("logistics", "物流部")})


def figures(**overrides: object) -> PeriodFigures:
    base: dict[str, object] = {
        "received": 132,
        "closed": 120,
        "first_response": DurationStats(100, timedelta(minutes=90), timedelta(hours=6)),
        "resolution": DurationStats(110, timedelta(hours=20), timedelta(days=3.2)),
        "first_contact_resolution": Rate(81, 100),
        "csat_satisfied": Rate(44, 50),
        "csat_average": 4.4,
        "sla_compliance": Rate(93, 100),
    }
    base.update(overrides)
    return PeriodFigures(**base)  # type: ignore[arg-type]


def overdue(n: int) -> OverdueComplaint:
    created = NOW - timedelta(days=3)
    return OverdueComplaint(
        f"TS20261120-{n:04d}",
        "物流问题",
        "logistics",
        "handle",
        "zhaoliu",
        created,
        NOW - timedelta(hours=30),
    )


def report(current: PeriodFigures, previous: PeriodFigures | None, breaches: int = 0) -> KpiReport:
    return KpiReport(
        period=parse_period("2026-W47", SHANGHAI),
        filter=ReportFilter(),
        now=NOW,
        current=current,
        previous=previous,
        open_now=45,
        status_now={"new": 5, "in_progress": 30, "resolved": 10},
        backlog_by_age=(),
        current_breaches=breaches,
        overdue=tuple(overdue(n) for n in range(1, min(breaches, 20) + 1)),
        top_types=(),
        top_products=(),
        problems=(),
        change=headline_changes(current, previous),
    )


def test_headline_kpis_carry_their_change() -> None:
    previous = figures(
        received=118,
        closed=124,
        first_response=DurationStats(90, timedelta(minutes=120), timedelta(hours=7)),
        first_contact_resolution=Rate(84, 100),
        csat_satisfied=Rate(43, 50),
        csat_average=4.4,
    )
    text = render_digest_markdown(report(figures(), previous), [], [], title="客服周报")
    assert text.startswith("## 客服周报｜2026-W47\n2026年11月16日—11月22日\n")
    assert "- 新增投诉 **132** 起（↑12%），关闭 **120** 起（↓3%）" in text
    assert "- 首次响应中位 **1.5 小时**（↓25%），90% 在 6.0 小时内" in text
    assert "- 解决用时中位 **20.0 小时**（持平），90% 在 3.2 天内" in text
    assert "- 一次解决率 **81%**（↓3.0个百分点）" in text
    assert "- 满意率 **88%**（↑2.0个百分点），平均 **4.4** 分（持平），共 50 份评价" in text
    assert "- 时限达成率 **93%**（持平）" in text
    assert "**超时未结**：无" in text


def test_without_a_previous_period_no_change_is_claimed() -> None:
    text = render_digest_markdown(report(figures(), None), [], [], title="客服周报")
    assert "↑" not in text and "↓" not in text and "持平" not in text


def test_empty_period_says_there_is_no_data() -> None:
    empty = PeriodFigures()
    text = render_digest_markdown(report(empty, empty), [], [], title="客服周报")
    assert "- 新增投诉 **0** 起（持平），关闭 **0** 起（持平）" in text
    assert "- 首次响应：本期无数据" in text
    assert "- 满意度：本期暂无评价" in text
    assert "- 一次解决率：本期无关闭投诉" in text
    assert "- 时限达成率：本期无解决投诉" in text


def test_working_time_is_shown_when_a_calendar_was_used() -> None:
    current = figures(first_response_working=DurationStats(100, timedelta(minutes=40), None))
    text = render_digest_markdown(report(current, None), [], [], title="客服周报")
    assert "（工作时间中位 40 分钟）" in text


def test_the_largest_problems_with_share_and_change() -> None:
    problems = [
        Problem("产品质量", 52, 44, "型号A", 20),
        Problem("物流问题", 33, 33),
        Problem("服务态度", 12, 0),
    ]
    text = render_digest_markdown(report(figures(), figures()), problems, [], title="客服周报")
    assert "**主要问题（前 3）**" in text
    assert "1. 产品质量：52 起，占 39%（↑18%），集中在型号A（20 起）" in text
    assert "2. 物流问题：33 起，占 25%（持平）" in text
    assert "3. 服务态度：12 起，占 9%（上期为 0）" in text


def test_overdue_list_is_capped_with_the_total() -> None:
    kpis = report(figures(), None, breaches=25)
    text = render_digest_markdown(
        kpis, [], kpis.overdue, title="客服周报", overdue_total=25, directory=DIRECTORY
    )
    assert "当前未结 **45** 起，其中超时 **25** 起" in text
    assert "**超时未结 25 起**" in text
    assert "- TS20261120-0001（物流部·物流问题，已超时 30.0 小时）" in text
    assert "TS20261120-0005" in text and "TS20261120-0006" not in text
    assert text.rstrip().endswith("- …等 25 起")


def test_formatting_helpers() -> None:
    assert format_duration(timedelta(minutes=12)) == "12 分钟"
    assert format_duration(timedelta(hours=47)) == "47.0 小时"
    assert format_duration(timedelta(days=3)) == "3.0 天"
    assert format_change(Change(3.0, 0.0)) == "（上期为 0）"
    assert format_change(Change(0.5, 0.75, is_rate=True)) == "（↓25.0个百分点）"
    assert format_change(None) == ""
    assert format_change(Change(1001.0, 1000.0)) == "（持平）"
    assert format_change(Change(0.8001, 0.8, is_rate=True)) == "（持平）"
