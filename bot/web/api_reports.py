"""Reports over the API: KPIs as JSON, charts as PNG, the complaint list as CSV for Excel.

Periods are local days: ?period=2026-W47 | 2026-11 | 2026-11-23 | 2026-11-01..2026-11-30, or
?from=2026-11-01&to=2026-11-30 (both included); none: the last 7 days up to today.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from bot.domain.complaint import long_time, status_label
from bot.forms import display_value
from bot.reports import ReportError, ReportFilter, chart_data, compute_kpis
from bot.reports.filters import product_column
from bot.reports.periods import Period, parse_period, range_period
from bot.service.views import step_name, typed_values
from bot.web.api_charts import charts_of
from bot.web.api_core import Answer, ApiCall, ApiError, ApiTable, json_response
from bot.web.api_models import dump
from bot.web.api_params import ChartPath, ComplaintFilter, KpiQuery, ReportQuery
from bot.web.api_query import filtered
from bot.web.api_report_models import GroupKpis, KpiAnswer, kpis_out, period_out
from storage.models import Complaint

table = ApiTable("reports")
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_DAYS = 3660
MAX_GROUPS = 20
EXPORT_BATCH = 500
FILTER_KEYS = ("type", "department", "channel", "product", "assignee")
GROUP_COLUMNS = {
    "type": lambda: Complaint.type,
    "department": lambda: Complaint.department,
    "channel": lambda: Complaint.channel,
    "assignee": lambda: Complaint.assignee,
    "product": product_column,
}


def _day(name: str, text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "expected a date like 2026-11-23", field=name) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ApiError(400, f"dates run from {FIRST_YEAR} to {LAST_YEAR}", field=name)
    return day


def report_period(call: ApiCall, q: ReportQuery) -> Period:
    """The period asked for (see the module docstring); ApiError 400 when it makes no sense."""
    rt = call.service.rt
    tz = rt.tz
    if q.period:
        try:
            period = parse_period(q.period, tz)
        except ReportError as exc:
            raise ApiError(400, str(exc), field="period") from None
        if not FIRST_YEAR <= period.first_day.year <= LAST_YEAR or period.end_day.year > LAST_YEAR:
            raise ApiError(400, f"dates run from {FIRST_YEAR} to {LAST_YEAR}", field="period")
    else:
        today = rt.now().astimezone(tz).date()
        last = _day("to", q.to) if q.to else (today if not q.from_ else None)
        first = _day("from", q.from_) if q.from_ else None
        if first is None:
            first = (last or today) - timedelta(days=6)
        if last is None:
            last = max(first, today)
        if last < first:
            raise ApiError(400, "the period ends before it starts", field="to")
        period = range_period(first, last, tz)
    if period.days > MAX_DAYS:
        raise ApiError(400, f"a period spans at most {MAX_DAYS} days", field="period")
    return period


def report_filter(q: ReportQuery) -> ReportFilter:
    return ReportFilter(**{k: getattr(q, k) for k in FILTER_KEYS if getattr(q, k)})


@table.add(
    "GET",
    "/api/v1/reports/kpis",
    summary="KPIs for a period (optionally per group)",
    scope="read",
    query_model=KpiQuery,
    answers=(Answer(200, "The KPIs", KpiAnswer),),
)
async def kpis(call: ApiCall) -> web.Response:
    q: KpiQuery = call.query
    rt = call.service.rt
    period = report_period(call, q)
    flt = report_filter(q)
    now = rt.now()
    calendar = rt.config.calendar
    groups: list[GroupKpis] = []
    async with call.db.read() as session:
        report = await compute_kpis(session, period, flt, now=now, calendar=calendar)
        if q.group_by:
            column = GROUP_COLUMNS[q.group_by]()
            values = await session.execute(
                select(column, func.count())
                .where(Complaint.created_at >= period.start, Complaint.created_at < period.end)
                .where(*flt.conditions(), column.is_not(None))
                .group_by(column)
                .order_by(func.count().desc(), column)
                .limit(MAX_GROUPS)
            )
            for value, _count in values.all():
                narrowed = ReportFilter(**{**_fields(flt), q.group_by: str(value)})
                part = await compute_kpis(session, period, narrowed, now=now, calendar=calendar)
                groups.append(
                    GroupKpis(
                        key=str(value),
                        label=_label(rt, q.group_by, str(value)),
                        kpis=kpis_out(part),
                    )
                )
    answer = KpiAnswer(
        period=period_out(period),
        previous_period=period_out(period.previous()),
        filter={k: str(v) for k, v in _fields(flt).items()},
        now=now,
        kpis=kpis_out(report),
        group_by=q.group_by,
        groups=groups,
    )
    return json_response(dump(answer))


def _fields(flt: ReportFilter) -> dict[str, Any]:
    return {k: getattr(flt, k) for k in FILTER_KEYS if getattr(flt, k) is not None}


def _label(rt: Any, group_by: str, value: str) -> str:
    directory = rt.config.directory
    if group_by == "department":
        return directory.department_name(value) or value
    if group_by == "assignee":
        return directory.name_of(value) or value
    return value


@table.add(
    "GET",
    "/api/v1/reports/charts/{chart}.png",
    summary="One chart as a PNG (800 x 450)",
    scope="read",
    path_model=ChartPath,
    query_model=ReportQuery,
    answers=(
        Answer(200, "The chart", media_type="image/png"),
        Answer(503, "Charts cannot be drawn here (no CJK font, drawing failed)"),
    ),
)
async def chart(call: ApiCall) -> web.Response:
    q: ReportQuery = call.query
    rt = call.service.rt
    period = report_period(call, q)
    async with call.db.read() as session:
        data = await chart_data(
            session,
            call.path.chart,
            period,
            report_filter(q),
            now=rt.now(),
            directory=rt.config.directory,
        )
    try:
        png = await charts_of(call.request.app).render(data)
    except ReportError as exc:
        raise ApiError(503, str(exc)) from None
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=60"}
    )


# --- CSV export ----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "编号",
    "状态",
    "投诉类型",
    "优先级",
    "渠道",
    "部门",
    "处理人",
    "当前步骤",
    "创建时间",
    "首次响应时间",
    "解决时间",
    "关闭时间",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A cell Excel shows as text: a leading = + - @ would make it a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@table.add(
    "GET",
    "/api/v1/complaints.csv",
    summary="Export complaints as CSV (UTF-8 with BOM)",
    scope="read",
    query_model=ComplaintFilter,
    answers=(Answer(200, "The complaints, newest first", media_type="text/csv"),),
)
async def export_csv(call: ApiCall) -> web.StreamResponse:
    rt = call.service.rt
    config = rt.config
    form = config.form_of(config.intake_flow)
    directory = config.directory
    stmt = filtered(call.query)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="complaints.csv"; '
            "filename*=UTF-8''%E6%8A%95%E8%AF%89.csv",
        }
    )
    await response.prepare(call.request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*CSV_COLUMNS, *(f.label for f in form.fields)])
    await response.write(b"\xef\xbb\xbf" + buffer.getvalue().encode())

    def when(value: datetime | None) -> str:
        return long_time(value, rt.tz) if value else ""

    after: int | None = None
    while True:
        batch = stmt if after is None else stmt.where(Complaint.id < after)
        async with call.db.read() as session:
            rows = list(
                (await session.scalars(batch.order_by(Complaint.id.desc()).limit(EXPORT_BATCH)))
                .unique()
                .all()
            )
        if not rows:
            break
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for c in rows:
            own = config.forms.get(c.form)
            values = typed_values(own, c) if own else {}
            flow = config.flows.get(c.flow)
            writer.writerow(
                [
                    _cell(v)
                    for v in (
                        c.number,
                        status_label(c.status),
                        c.type,
                        c.priority,
                        c.channel,
                        directory.department_name(c.department) if c.department else "",
                        directory.name_of(c.assignee) if c.assignee else "",
                        step_name(flow, c.current_step) if flow else c.current_step,
                        when(c.created_at),
                        when(c.first_response_at),
                        when(c.resolved_at),
                        when(c.closed_at),
                        *(
                            display_value(f, values.get(f.key), directory=directory)
                            if values.get(f.key) not in (None, "", [])
                            else ""
                            for f in form.fields
                        ),
                    )
                ]
            )
        await response.write(buffer.getvalue().encode())
        after = rows[-1].id
        if len(rows) < EXPORT_BATCH:
            break
    await response.write_eof()
    return response
