"""Chart data queries: one aggregate per chart, returned as plain ChartData for the renderer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.directory import Directory
from bot.reports.chart_model import CHART_TITLES, ChartData, Series
from bot.reports.errors import ReportError
from bot.reports.filters import ReportFilter
from bot.reports.periods import Period, month_of, week_of
from bot.reports.sqlparts import (
    Span,
    as_float,
    breached_exists,
    dialect_name,
    is_open,
    seconds_between,
)
from storage.models import Complaint, SurveyAnswer

TREND_SLOTS = 12  # points on a trend line; the comparison line covers the 12 before them
TOP_SLICES = 5  # slices of the type donut before the rest is folded into 其他


def _subtitle(period: Period, extra: str = "") -> str:
    base = f"{period.label}（{period.describe()}）"
    return f"{base}　{extra}" if extra else base


def _walk_back(last: Period, count: int) -> list[Period]:
    """`count` adjacent periods ending with `last`, oldest first."""
    out = [last]
    while len(out) < count:
        out.append(out[-1].previous())
    return out[::-1]


async def _counts_by_slot(
    session: AsyncSession,
    column: ColumnElement[datetime],
    span: Span,
    conditions: Sequence[ColumnElement[bool]],
) -> list[int]:
    """Rows per slot, as one count(*) per slot in a single statement.

    Each count is an index range scan (an index-only scan without a filter); measured on
    1,000,000 complaints that is ~4x faster than one scan that maps rows to slots and groups.
    """
    bounds = span.boundaries
    counts = [
        select(func.count())
        .where(column >= start, column < end, *conditions)
        .scalar_subquery()
        .label(f"slot{index}")
        for index, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False))
    ]
    row = (await session.execute(select(*counts))).one()
    return [int(value) for value in row]


def _department_label(directory: Directory | None, department: str | None) -> str:
    if department is None:
        return "未分配"
    return directory.department_name(department) if directory else department


async def _type_share(session: AsyncSession, period: Period, ctx: _Context) -> ChartData:
    query = (
        select(Complaint.type, func.count())
        .where(Complaint.created_at >= period.start, Complaint.created_at < period.end)
        .where(*ctx.conditions)
        .group_by(Complaint.type)
    )
    counts = sorted(
        ((kind or "未分类", n) for kind, n in await session.execute(query)),
        key=lambda item: (-item[1], item[0]),
    )
    if len(counts) > TOP_SLICES + 1:
        counts = [*counts[:TOP_SLICES], ("其他类型", sum(n for _, n in counts[TOP_SLICES:]))]
    total = sum(n for _, n in counts)
    return ChartData(
        chart="type_share",
        kind="donut",
        title=CHART_TITLES["type_share"],
        subtitle=_subtitle(period, f"共 {total} 起"),
        categories=tuple(name for name, _ in counts),
        series=(Series("投诉数", tuple(float(n) for _, n in counts)),),
    )


async def _trend(
    session: AsyncSession, period: Period, ctx: _Context, *, monthly: bool
) -> ChartData:
    last = month_of(period.last_day, period.tz) if monthly else week_of(period.last_day, period.tz)
    slots = _walk_back(last, 2 * TREND_SLOTS)
    counts = await _counts_by_slot(session, Complaint.created_at, Span.of(slots), ctx.conditions)
    shown = slots[TREND_SLOTS:]
    if monthly:
        categories = tuple(f"{p.first_day.month}月" for p in shown)
        names = ("近12个月", "上年同期")
        chart = "monthly_trend"
        span_text = f"{shown[0].label} 至 {shown[-1].label}　单位：起"
    else:
        categories = tuple(f"W{p.first_day.isocalendar()[1]:02d}" for p in shown)
        names = ("近12周", "前12周")
        chart = "weekly_trend"
        span_text = f"{shown[0].label} 至 {shown[-1].label}　单位：起"
    return ChartData(
        chart=chart,
        kind="line",
        title=CHART_TITLES[chart],
        subtitle=span_text,
        categories=categories,
        series=(
            Series(names[0], tuple(float(n) for n in counts[TREND_SLOTS:])),
            Series(names[1], tuple(float(n) for n in counts[:TREND_SLOTS]), muted=True),
        ),
        axis_label="投诉数（起）",
    )


async def _department_handling_time(
    session: AsyncSession, period: Period, ctx: _Context
) -> ChartData:
    hours = seconds_between(Complaint.resolved_at, Complaint.created_at, ctx.dialect) / 3600.0
    query = (
        select(Complaint.department, func.avg(hours), func.count())
        .where(Complaint.resolved_at >= period.start, Complaint.resolved_at < period.end)
        .where(*ctx.conditions)
        .group_by(Complaint.department)
    )
    rows = sorted(
        (
            (_department_label(ctx.directory, d), as_float(avg) or 0.0, n)
            for d, avg, n in await session.execute(query)
        ),
        key=lambda row: (-row[1], row[0]),
    )
    total = sum(n for *_, n in rows)
    return ChartData(
        chart="department_handling_time",
        kind="hbar",
        title=CHART_TITLES["department_handling_time"],
        subtitle=_subtitle(period, f"本期解决 {total} 起"),
        categories=tuple(f"{name}（{n}起）" for name, _, n in rows),
        series=(Series("平均处理时长", tuple(round(avg, 1) for _, avg, _ in rows)),),
        unit="hours",
        axis_label="小时（受理至解决）",
    )


async def _status_table(session: AsyncSession, period: Period, ctx: _Context) -> ChartData:
    now_query = (
        select(Complaint.status, func.count())
        .where(is_open(), Complaint.created_at <= ctx.now)
        .where(*ctx.conditions)
        .group_by(Complaint.status)
    )
    by_status = dict((await session.execute(now_query)).all())
    # Two counts, each on its own timestamp's index (one scan with an OR would read the table).
    received_count = (
        select(func.count())
        .where(Complaint.created_at >= period.start, Complaint.created_at < period.end)
        .where(*ctx.conditions)
        .scalar_subquery()
    )
    closed_count = (
        select(func.count())
        .where(Complaint.closed_at >= period.start, Complaint.closed_at < period.end)
        .where(Complaint.status == "closed", *ctx.conditions)
        .scalar_subquery()
    )
    in_period = select(received_count, closed_count)
    received, closed = (await session.execute(in_period)).one()
    as_of = ctx.now.astimezone(period.tz).strftime("%m-%d %H:%M")
    rows = (
        ("待受理", str(by_status.get("new", 0)), f"当前（{as_of}）"),
        ("处理中", str(by_status.get("in_progress", 0)), f"当前（{as_of}）"),
        ("待回访", str(by_status.get("resolved", 0)), f"当前（{as_of}）"),
        ("已关闭", str(closed), "本期"),
        ("新增投诉", str(received), "本期"),
    )
    return ChartData(
        chart="status_table",
        kind="table",
        title=CHART_TITLES["status_table"],
        subtitle=_subtitle(period),
        columns=("状态", "数量（起）", "统计口径"),
        rows=rows,
    )


async def _csat_trend(session: AsyncSession, period: Period, ctx: _Context) -> ChartData:
    monthly = period.kind == "month"
    last = month_of(period.last_day, period.tz) if monthly else week_of(period.last_day, period.tz)
    slots = _walk_back(last, TREND_SLOTS)
    span = Span.of(slots)
    per_slot = []
    for index, (start, end) in enumerate(zip(span.boundaries, span.boundaries[1:], strict=False)):
        answers = select(
            literal(index).label("slot"),
            func.count().label("answers"),
            func.sum(case((SurveyAnswer.score >= 4, 1), else_=0)).label("satisfied"),
            func.avg(SurveyAnswer.score).label("average"),
        ).where(SurveyAnswer.answered_at >= start, SurveyAnswer.answered_at < end)
        if ctx.conditions:  # the filter is on the complaint; without one, skip the join
            answers = answers.join(Complaint, Complaint.id == SurveyAnswer.complaint_id).where(
                *ctx.conditions
            )
        per_slot.append(answers)
    shares: list[float | None] = [None] * span.slots
    answers_per_slot = [0] * span.slots
    averages: list[float | None] = [None] * span.slots
    for slot, count, happy, average in await session.execute(union_all(*per_slot)):
        shares[slot] = round(100.0 * int(happy or 0) / count, 1) if count else None
        answers_per_slot[slot] = count
        averages[slot] = as_float(average)
    latest = averages[-1]
    extra = (
        f"最近一期 {answers_per_slot[-1]} 份评价，平均 {latest:.1f} 分"
        if latest
        else "最近一期暂无评价"
    )
    if monthly:
        categories = tuple(f"{p.first_day.month}月" for p in slots)
    else:
        categories = tuple(f"W{p.first_day.isocalendar()[1]:02d}" for p in slots)
    return ChartData(
        chart="csat_trend",
        kind="line",
        title=CHART_TITLES["csat_trend"],
        subtitle=f"{slots[0].label} 至 {slots[-1].label}　{extra}",
        categories=categories,
        series=(Series("满意率（4–5星）", tuple(shares)),),
        unit="percent",
        axis_label="满意率（%）",
    )


async def _sla_by_department(session: AsyncSession, period: Period, ctx: _Context) -> ChartData:
    within_limit = case((breached_exists(), 0), else_=1)
    query = (
        select(Complaint.department, func.count(), func.sum(within_limit))
        .where(Complaint.resolved_at >= period.start, Complaint.resolved_at < period.end)
        .where(*ctx.conditions)
        .group_by(Complaint.department)
    )
    rows = sorted(
        (
            (_department_label(ctx.directory, d), 100.0 * int(ok or 0) / n, n)
            for d, n, ok in await session.execute(query)
            if n
        ),
        key=lambda row: (row[1], row[0]),
    )
    total = sum(n for *_, n in rows)
    return ChartData(
        chart="sla_by_department",
        kind="hbar",
        title=CHART_TITLES["sla_by_department"],
        subtitle=_subtitle(period, f"本期解决 {total} 起"),
        categories=tuple(f"{name}（{n}起）" for name, _, n in rows),
        series=(Series("时限内解决", tuple(round(share, 1) for _, share, _ in rows)),),
        unit="percent",
        axis_label="时限内解决占比（%）",
    )


class _Context:
    """What every chart query needs besides the period."""

    def __init__(
        self, session: AsyncSession, flt: ReportFilter, now: datetime, directory: Directory | None
    ):
        self.conditions = flt.conditions()
        self.now = now
        self.directory = directory
        self.dialect = dialect_name(session)


async def _monthly(session: AsyncSession, period: Period, ctx: _Context) -> ChartData:
    return await _trend(session, period, ctx, monthly=True)


async def _weekly(session: AsyncSession, period: Period, ctx: _Context) -> ChartData:
    return await _trend(session, period, ctx, monthly=False)


ChartQuery = Callable[[AsyncSession, Period, _Context], Awaitable[ChartData]]

CHART_QUERIES: dict[str, ChartQuery] = {
    "type_share": _type_share,
    "monthly_trend": _monthly,
    "weekly_trend": _weekly,
    "department_handling_time": _department_handling_time,
    "status_table": _status_table,
    "csat_trend": _csat_trend,
    "sla_by_department": _sla_by_department,
}


async def chart_data(
    session: AsyncSession,
    chart: str,
    period: Period,
    filter: ReportFilter | None = None,
    *,
    now: datetime,
    directory: Directory | None = None,
) -> ChartData:
    """The aggregated, labelled data of one chart (see CHART_NAMES) for `period` as of `now`."""
    query = CHART_QUERIES.get(chart)
    if query is None:
        raise ReportError(f"unknown chart '{chart}' (use {', '.join(CHART_QUERIES)})")
    context = _Context(session, filter or ReportFilter(), now, directory)
    return await query(session, period, context)
