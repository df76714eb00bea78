"""Chart data queries on hand-built rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest

from bot.config.model import CHART_NAMES
from bot.domain.directory import Department, Directory
from bot.reports import ChartData, ReportError, ReportFilter, chart_data, parse_period
from storage.db import Database
from tests.integration.reports.builders import SHANGHAI, answer, complaint, local, timer

W47 = parse_period("2026-W47", SHANGHAI)
NOW = local(2026, 11, 24, 9)
DIRECTORY = Directory(
    departments={
        "product": Department("product", "产品部"),
        "logistics": Department("logistics", "物流部"),
    }
)


async def add(db: Database, *rows: object) -> None:
    async with db.write() as session:
        session.add_all(rows)
        await session.flush()


async def data(db: Database, chart: str, period=W47, **kwargs: object) -> ChartData:  # type: ignore[no-untyped-def]
    async with db.read() as session:
        return await chart_data(
            session,
            chart,
            period,
            now=NOW,
            directory=DIRECTORY,
            **kwargs,  # type: ignore[arg-type]
        )


async def test_type_share_folds_small_types_into_other(db: Database) -> None:
    day = local(2026, 11, 18, 10)
    counts = {
        "产品质量": 5,
        "物流问题": 4,
        "服务态度": 3,
        "退换货": 2,
        "账单": 2,
        "安装": 1,
        "其他": 1,
    }
    rows = []
    for kind, count in counts.items():
        for _ in range(count):
            rows.append(complaint(len(rows) + 1, day, type=kind))
    rows.append(complaint(len(rows) + 1, day, type=None))
    rows.append(complaint(len(rows) + 1, local(2026, 11, 10), type="产品质量"))  # last week
    await add(db, *rows)
    chart = await data(db, "type_share")
    assert chart.kind == "donut" and chart.title == "投诉类型占比"
    assert chart.categories == ("产品质量", "物流问题", "服务态度", "账单", "退换货", "其他类型")
    assert chart.series[0].values == (5, 4, 3, 2, 2, 3)
    assert "共 19 起" in chart.subtitle


async def test_weekly_trend_uses_local_weeks_and_the_12_weeks_before(db: Database) -> None:
    await add(
        db,
        complaint(1, local(2026, 11, 16, 0)),  # W47, first instant
        complaint(2, local(2026, 11, 15, 23, 59)),  # W46, last minute
        complaint(3, local(2026, 8, 31, 8)),  # W36: first shown week
        complaint(4, local(2026, 8, 30, 8)),  # W35: last week of the comparison line
        complaint(5, local(2026, 6, 8, 8)),  # W24: first comparison week
        complaint(6, local(2026, 6, 7, 8)),  # W23: outside both
    )
    chart = await data(db, "weekly_trend")
    assert chart.categories[0] == "W36" and chart.categories[-1] == "W47"
    current, previous = chart.series
    assert current.values[-1] == 1 and current.values[-2] == 1 and current.values[0] == 1
    assert sum(v or 0 for v in current.values) == 3
    assert previous.muted and previous.values[-1] == 1 and previous.values[0] == 1
    assert sum(v or 0 for v in previous.values) == 2


async def test_monthly_trend_compares_with_the_same_months_a_year_earlier(db: Database) -> None:
    await add(
        db,
        complaint(1, local(2026, 11, 1, 0)),
        complaint(2, local(2026, 11, 30, 23)),
        complaint(3, local(2025, 12, 1, 0)),  # first shown month
        complaint(4, local(2025, 11, 30, 23)),  # a year before November 2026
        complaint(5, local(2024, 11, 30, 23)),  # outside
    )
    chart = await data(db, "monthly_trend", parse_period("2026-11", SHANGHAI))
    assert chart.categories == tuple(f"{m}月" for m in (12, *range(1, 12)))
    assert chart.series[0].values[-1] == 2 and chart.series[0].values[0] == 1
    assert chart.series[1].values[-1] == 1 and sum(chart.series[1].values) == 1  # type: ignore[arg-type]


async def test_department_handling_time_averages_hours_with_names(db: Database) -> None:
    created = local(2026, 11, 17, 8)
    await add(
        db,
        complaint(1, created, department="product", resolved=created + timedelta(hours=2)),
        complaint(2, created, department="product", resolved=created + timedelta(hours=4)),
        complaint(3, created, department="logistics", resolved=created + timedelta(hours=30)),
        complaint(4, created, department=None, resolved=created + timedelta(hours=1)),
        complaint(5, created, department="product"),  # unresolved
    )
    chart = await data(db, "department_handling_time")
    assert chart.categories == ("物流部（1起）", "产品部（2起）", "未分配（1起）")
    assert chart.series[0].values == (30.0, 3.0, 1.0)
    assert chart.unit == "hours"


async def test_status_table_counts_now_and_in_the_period(db: Database) -> None:
    day = local(2026, 11, 18, 10)
    await add(
        db,
        complaint(1, day, status="new"),
        complaint(2, day, status="in_progress"),
        complaint(3, local(2026, 10, 1), status="in_progress"),  # old but still open
        complaint(4, day, status="resolved"),
        complaint(5, day, status="closed", closed=day + timedelta(hours=3)),
        complaint(6, local(2026, 10, 1), status="closed", closed=day),
        complaint(7, local(2026, 10, 1), status="closed", closed=local(2026, 10, 2)),
    )
    chart = await data(db, "status_table")
    assert chart.kind == "table"
    assert [row[:2] for row in chart.rows] == [
        ("待受理", "1"),
        ("处理中", "2"),
        ("待回访", "1"),
        ("已关闭", "2"),
        ("新增投诉", "4"),
    ]


async def test_csat_trend_shares_per_week_with_gaps(db: Database) -> None:
    closed = local(2026, 11, 2, 8)
    await add(db, *[complaint(n, closed, status="closed", closed=closed) for n in range(1, 6)])
    await add(
        db,
        answer(1, 5, local(2026, 11, 17, 9)),  # W47
        answer(2, 2, local(2026, 11, 18, 9)),  # W47
        answer(3, 4, local(2026, 11, 3, 9)),  # W45
        answer(4, 1, local(2026, 8, 30, 9)),  # W35: before the 12 weeks shown
    )
    chart = await data(db, "csat_trend")
    shares = chart.series[0].values
    assert chart.categories[-1] == "W47" and len(shares) == 12
    assert shares[-1] == 50.0 and shares[-2] is None and shares[-3] == 100.0
    assert "平均 3.5 分" in chart.subtitle


async def test_sla_by_department_is_a_percentage_worst_first(db: Database) -> None:
    created = local(2026, 11, 17, 8)
    resolved = created + timedelta(hours=30)
    await add(
        db,
        complaint(1, created, department="product", resolved=resolved),
        complaint(2, created, department="product", resolved=resolved),
        complaint(3, created, department="logistics", resolved=resolved),
    )
    await add(
        db,
        timer(2, "handle", "breached", created + timedelta(hours=24), "fired"),
        timer(3, "handle", "breached", created + timedelta(hours=24), "fired"),
    )
    chart = await data(db, "sla_by_department")
    assert chart.categories == ("物流部（1起）", "产品部（2起）")
    assert chart.series[0].values == (0.0, 50.0)


async def test_filter_applies_to_chart_data(db: Database) -> None:
    day = local(2026, 11, 18, 10)
    await add(
        db,
        complaint(1, day, type="产品质量", product="型号A"),
        complaint(2, day, type="物流问题", product="型号B"),
    )
    chart = await data(db, "type_share", filter=ReportFilter(product="型号B"))
    assert chart.categories == ("物流问题",)


@pytest.mark.parametrize("name", CHART_NAMES)
async def test_every_chart_is_plain_picklable_data_even_when_empty(db: Database, name: str) -> None:
    chart = await data(db, name)
    assert pickle.loads(pickle.dumps(chart)) == chart
    if chart.kind != "table":
        assert chart.is_empty


async def test_unknown_chart_is_refused(db: Database) -> None:
    with pytest.raises(ReportError, match="unknown chart 'pie'"):
        await data(db, "pie")
