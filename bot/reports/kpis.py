"""KPI queries: SQLAlchemy Core aggregates over complaints, surveys and timers, on both databases.

The current and the previous period are adjacent, so each figure is one query over their joint
span with a slot column (0 = previous, 1 = current) instead of two queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.reports.filters import ReportFilter, product_column
from bot.reports.kpi_model import (
    AgeBucket,
    KpiReport,
    OverdueComplaint,
    PeriodFigures,
    Problem,
    Ranked,
    WorkingCalendar,
    headline_changes,
)
from bot.reports.periods import Period
from bot.reports.sqlparts import (
    OPEN_STATUSES,
    Span,
    as_float,
    breached_exists,
    breached_fired,
    dialect_name,
    is_open,
    seconds_between,
    span_for,
)
from bot.reports.stats import DurationStats, Rate, as_duration
from storage.models import Complaint, SurveyAnswer, Timer

# Backlog age slots: (upper bound of age, label); the last slot is open-ended.
AGE_SLOTS: tuple[tuple[timedelta | None, str], ...] = (
    (timedelta(days=1), "1天内"),
    (timedelta(days=3), "1–3天"),
    (timedelta(days=7), "3–7天"),
    (timedelta(days=30), "7–30天"),
    (None, "30天以上"),
)


async def _received(
    session: AsyncSession, span: Span, conditions: Sequence[ColumnElement[bool]]
) -> dict[int, dict[tuple[str | None, str | None], int]]:
    """Complaints created per slot, by (type, product)."""
    inner = (
        select(
            span.slot(Complaint.created_at),
            Complaint.type.label("type"),
            product_column().label("product"),
        )
        .where(span.covers(Complaint.created_at), *conditions)
        .subquery()
    )
    query = select(inner.c.slot, inner.c.type, inner.c.product, func.count()).group_by(
        inner.c.slot, inner.c.type, inner.c.product
    )
    out: dict[int, dict[tuple[str | None, str | None], int]] = defaultdict(dict)
    for slot, kind, product, count in await session.execute(query):
        out[slot][(kind, product)] = count
    return out


async def _closed(
    session: AsyncSession, span: Span, conditions: Sequence[ColumnElement[bool]]
) -> dict[int, Rate]:
    """Per slot: first-contact resolutions / complaints closed (and still closed)."""
    first_contact = case(((Complaint.reassigned == 0) & (Complaint.reopened == 0), 1), else_=0)
    inner = (
        select(span.slot(Complaint.closed_at), first_contact.label("fcr"))
        .where(span.covers(Complaint.closed_at), Complaint.status == "closed", *conditions)
        .subquery()
    )
    query = select(inner.c.slot, func.count(), func.sum(inner.c.fcr)).group_by(inner.c.slot)
    return {slot: Rate(int(fcr or 0), count) for slot, count, fcr in await session.execute(query)}


@dataclass(frozen=True)
class DurationFigures:
    wall: DurationStats
    working: DurationStats | None
    flagged: int  # rows whose flag was 1 (e.g. resolved within the limit)


async def _durations(
    session: AsyncSession,
    span: Span,
    conditions: Sequence[ColumnElement[bool]],
    *,
    begin: ColumnElement[datetime],
    finish: ColumnElement[datetime],
    flag: ColumnElement[int],
    calendar: WorkingCalendar | None,
) -> dict[int, DurationFigures]:
    """Median/p90 of finish - begin over rows whose `finish` falls in each slot."""
    where = (span.covers(finish), *conditions)
    dialect = dialect_name(session)
    if dialect == "postgresql" and calendar is None:
        inner = (
            select(
                span.slot(finish),
                seconds_between(finish, begin, dialect).label("seconds"),
                flag.label("flag"),
            )
            .where(*where)
            .subquery()
        )
        query = select(
            inner.c.slot,
            func.count(),
            func.percentile_cont(0.5).within_group(inner.c.seconds),
            func.percentile_cont(0.9).within_group(inner.c.seconds),
            func.sum(inner.c.flag),
        ).group_by(inner.c.slot)
        return {
            slot: DurationFigures(
                DurationStats(count, as_duration(median), as_duration(p90)), None, int(flags or 0)
            )
            for slot, count, median, p90, flags in await session.execute(query)
        }
    # SQLite has no percentile_cont; the same interpolation runs here over the fetched column.
    # With a calendar the working time needs each pair of timestamps anyway.
    rows = await session.execute(select(begin, finish, flag).where(*where))
    wall: dict[int, list[float]] = defaultdict(list)
    working: dict[int, list[float]] = defaultdict(list)
    flagged: dict[int, int] = defaultdict(int)
    for started, finished, flag_value in rows:
        slot = span.slot_of(finished)
        wall[slot].append((finished - started).total_seconds())
        if calendar is not None:
            working[slot].append(calendar.elapsed(started, finished).total_seconds())
        flagged[slot] += int(flag_value)
    return {
        slot: DurationFigures(
            DurationStats.of_seconds(values),
            DurationStats.of_seconds(working[slot]) if calendar is not None else None,
            flagged[slot],
        )
        for slot, values in wall.items()
    }


async def _csat(
    session: AsyncSession, span: Span, conditions: Sequence[ColumnElement[bool]]
) -> dict[int, tuple[Rate, float | None]]:
    """Per slot: (4-5 star answers / answers, average score) over answers given in the slot."""
    answers = select(span.slot(SurveyAnswer.answered_at), SurveyAnswer.score.label("score"))
    if conditions:  # the filter is on the complaint; without one, skip the join
        answers = answers.join(Complaint, Complaint.id == SurveyAnswer.complaint_id)
    inner = answers.where(span.covers(SurveyAnswer.answered_at), *conditions).subquery()
    satisfied = func.sum(case((inner.c.score >= 4, 1), else_=0))
    query = select(inner.c.slot, func.count(), satisfied, func.avg(inner.c.score)).group_by(
        inner.c.slot
    )
    return {
        slot: (Rate(int(happy or 0), count), as_float(average))
        for slot, count, happy, average in await session.execute(query)
    }


def age_slot(now: datetime) -> ColumnElement[int]:
    """Index into AGE_SLOTS of a complaint's age at `now` (from created_at)."""
    whens = [
        (Complaint.created_at > now - limit, index)
        for index, (limit, _label) in enumerate(AGE_SLOTS)
        if limit is not None
    ]
    return case(*whens, else_=len(AGE_SLOTS) - 1)


async def _open_now(
    session: AsyncSession, now: datetime, conditions: Sequence[ColumnElement[bool]]
) -> tuple[dict[str, int], tuple[AgeBucket, ...]]:
    """Open complaints now, by status and by age."""
    inner = (
        select(Complaint.status.label("status"), age_slot(now).label("age"))
        .where(is_open(), Complaint.created_at <= now, *conditions)
        .subquery()
    )
    query = select(inner.c.status, inner.c.age, func.count()).group_by(inner.c.status, inner.c.age)
    by_status: dict[str, int] = {status: 0 for status in OPEN_STATUSES}
    by_age = [0] * len(AGE_SLOTS)
    for status, age, count in await session.execute(query):
        by_status[status] += count
        by_age[age] += count
    buckets = tuple(AgeBucket(label, by_age[i]) for i, (_limit, label) in enumerate(AGE_SLOTS))
    return by_status, buckets


def overdue_query(conditions: Sequence[ColumnElement[bool]], limit: int) -> Select[Any]:
    """Open complaints whose current step has a fired 'breached' timer, oldest breach first.

    The breach list is found on ids alone (open complaints joined to the partial timer index),
    and only the `limit` shown are read in full: there may be tens of thousands.
    """
    overdue = (
        select(Timer.complaint_id.label("id"), func.min(Timer.due_at).label("breached_at"))
        .join(
            Complaint,
            (Complaint.id == Timer.complaint_id) & (Complaint.current_step == Timer.step_id),
        )
        .where(breached_fired(), is_open(), *conditions)
        .group_by(Timer.complaint_id)
        .cte("overdue")
    )
    total = select(func.count()).select_from(overdue).scalar_subquery()
    oldest = (
        select(overdue.c.id, overdue.c.breached_at)
        .order_by(overdue.c.breached_at, overdue.c.id)
        .limit(limit)
        .subquery("oldest")
    )
    return (
        select(
            Complaint.number,
            Complaint.type,
            Complaint.department,
            Complaint.current_step,
            Complaint.assignee,
            Complaint.created_at,
            oldest.c.breached_at,
            total.label("total"),
        )
        .join(oldest, oldest.c.id == Complaint.id)
        .order_by(oldest.c.breached_at, Complaint.number)
    )


async def current_breaches(
    session: AsyncSession, filter: ReportFilter, *, limit: int = 20
) -> tuple[int, tuple[OverdueComplaint, ...]]:
    """How many open complaints are past their current step's limit, and the `limit` oldest."""
    rows = (await session.execute(overdue_query(filter.conditions(), max(limit, 1)))).all()
    total = rows[0].total if rows else 0
    items = tuple(
        OverdueComplaint(
            r.number, r.type, r.department, r.current_step, r.assignee, r.created_at, r.breached_at
        )
        for r in rows
    )
    return total, items


def _rank(
    groups: dict[tuple[str | None, str | None], int],
    before: dict[tuple[str | None, str | None], int],
    side: int,
    top: int,
) -> tuple[Ranked, ...]:
    """Fold (type, product) counts onto one side (0 = type, 1 = product), skipping None."""

    def fold(source: dict[tuple[str | None, str | None], int]) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for pair, count in source.items():
            name = pair[side]
            if name is not None:
                out[name] += count
        return out

    now, then = fold(groups), fold(before)
    ordered = sorted(now.items(), key=lambda item: (-item[1], item[0]))[:top]
    return tuple(Ranked(name, count, then.get(name, 0)) for name, count in ordered)


# A product is named as the heart of a problem when it holds at least this share of the type.
PROBLEM_PRODUCT_SHARE = 0.2


def _problems(
    groups: dict[tuple[str | None, str | None], int],
    before: dict[tuple[str | None, str | None], int],
    top: int,
) -> tuple[Problem, ...]:
    """The `top` complaint types, each with its most named product when that is a clear share."""
    by_type: dict[str | None, int] = defaultdict(int)
    before_by_type: dict[str | None, int] = defaultdict(int)
    for (kind, _product), count in groups.items():
        by_type[kind] += count
    for (kind, _product), count in before.items():
        before_by_type[kind] += count
    ordered = sorted(by_type.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))[
        :top
    ]
    out = []
    for kind, count in ordered:
        products = [(n, p) for (t, p), n in groups.items() if t == kind and p is not None]
        best_count, best = max(products, default=(0, None))
        named = best if best_count >= PROBLEM_PRODUCT_SHARE * count else None
        out.append(
            Problem(kind, count, before_by_type.get(kind, 0), named, best_count if named else 0)
        )
    return tuple(out)


async def compute_kpis(
    session: AsyncSession,
    period: Period,
    filter: ReportFilter | None = None,
    *,
    now: datetime,
    calendar: WorkingCalendar | None = None,
    compare: bool = True,
    top: int = 5,
    overdue_limit: int = 20,
) -> KpiReport:
    """Every KPI for `period` (and the previous equal period when `compare`) as of `now`."""
    flt = filter or ReportFilter()
    conditions = flt.conditions()
    span = span_for(period, compare)
    current_slot = span.slots - 1

    received = await _received(session, span, conditions)
    closed = await _closed(session, span, conditions)
    first_response = await _durations(
        session,
        span,
        conditions,
        begin=Complaint.created_at,
        finish=Complaint.first_response_at,
        flag=literal(0),
        calendar=calendar,
    )
    within_limit = case((breached_exists(), 0), else_=1)
    resolution = await _durations(
        session,
        span,
        conditions,
        begin=Complaint.created_at,
        finish=Complaint.resolved_at,
        flag=within_limit,
        calendar=calendar,
    )
    csat = await _csat(session, span, conditions)
    status_now, backlog = await _open_now(session, now, conditions)
    breach_count, overdue = await current_breaches(session, flt, limit=overdue_limit)

    def figures(slot: int) -> PeriodFigures:
        nothing = DurationFigures(DurationStats(), None, 0)
        frt = first_response.get(slot, nothing)
        art = resolution.get(slot, nothing)
        satisfied, average = csat.get(slot, (Rate(), None))
        empty_working = DurationStats() if calendar is not None else None
        return PeriodFigures(
            received=sum(received.get(slot, {}).values()),
            closed=closed.get(slot, Rate()).denominator,
            first_response=frt.wall,
            resolution=art.wall,
            first_response_working=frt.working if slot in first_response else empty_working,
            resolution_working=art.working if slot in resolution else empty_working,
            first_contact_resolution=closed.get(slot, Rate()),
            csat_satisfied=satisfied,
            csat_average=average,
            sla_compliance=Rate(art.flagged, art.wall.count),
        )

    current = figures(current_slot)
    previous = figures(0) if compare else None
    groups = received.get(current_slot, {})
    before = received.get(0, {}) if compare else {}
    return KpiReport(
        period=period,
        filter=flt,
        now=now,
        current=current,
        previous=previous,
        open_now=sum(status_now.values()),
        status_now=status_now,
        backlog_by_age=backlog,
        current_breaches=breach_count,
        overdue=overdue,
        top_types=_rank(groups, before, 0, top),
        top_products=_rank(groups, before, 1, top),
        problems=_problems(groups, before, 3),
        change=headline_changes(current, previous),
    )
