"""KPI answers of the reports API: the KpiReport (bot/reports) as JSON, durations in seconds."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import Field

from bot.web.api_models import Out


class PeriodOut(Out):
    label: str
    first_day: date
    last_day: date = Field(description="Included")


class DurationOut(Out):
    count: int
    median_seconds: float | None
    p90_seconds: float | None


class RateOut(Out):
    numerator: int
    denominator: int
    value: float | None


class FiguresOut(Out):
    received: int
    closed: int
    first_response: DurationOut
    resolution: DurationOut
    first_response_working: DurationOut | None
    resolution_working: DurationOut | None
    first_contact_resolution: RateOut
    csat_satisfied: RateOut
    csat_average: float | None
    sla_compliance: RateOut


class ChangeOut(Out):
    current: float | None
    previous: float | None
    delta: float | None
    relative: float | None


class RankedOut(Out):
    name: str
    count: int
    previous: int


class BucketOut(Out):
    label: str
    count: int


class KpisOut(Out):
    current: FiguresOut
    previous: FiguresOut | None
    change: dict[str, ChangeOut]
    open_now: int
    status_now: dict[str, int]
    backlog_by_age: list[BucketOut]
    current_breaches: int
    top_types: list[RankedOut]
    top_products: list[RankedOut]


class GroupKpis(Out):
    key: str
    label: str
    kpis: KpisOut


class KpiAnswer(Out):
    period: PeriodOut
    previous_period: PeriodOut
    filter: dict[str, str]
    now: datetime
    kpis: KpisOut
    group_by: str | None
    groups: list[GroupKpis]


def _duration(stats: Any) -> DurationOut:
    def seconds(value: timedelta | None) -> float | None:
        return None if value is None else value.total_seconds()

    return DurationOut(
        count=stats.count, median_seconds=seconds(stats.median), p90_seconds=seconds(stats.p90)
    )


def _rate(rate: Any) -> RateOut:
    return RateOut(numerator=rate.numerator, denominator=rate.denominator, value=rate.value)


def figures_out(f: Any) -> FiguresOut:
    return FiguresOut(
        received=f.received,
        closed=f.closed,
        first_response=_duration(f.first_response),
        resolution=_duration(f.resolution),
        first_response_working=_duration(f.first_response_working)
        if f.first_response_working
        else None,
        resolution_working=_duration(f.resolution_working) if f.resolution_working else None,
        first_contact_resolution=_rate(f.first_contact_resolution),
        csat_satisfied=_rate(f.csat_satisfied),
        csat_average=f.csat_average,
        sla_compliance=_rate(f.sla_compliance),
    )


def period_out(p: Any) -> PeriodOut:
    return PeriodOut(label=p.label, first_day=p.first_day, last_day=p.last_day)


def kpis_out(report: Any) -> KpisOut:
    return KpisOut(
        current=figures_out(report.current),
        previous=figures_out(report.previous) if report.previous is not None else None,
        change={
            key: ChangeOut(
                current=c.current, previous=c.previous, delta=c.delta, relative=c.relative
            )
            for key, c in report.change.items()
        },
        open_now=report.open_now,
        status_now=dict(report.status_now),
        backlog_by_age=[BucketOut(label=b.label, count=b.count) for b in report.backlog_by_age],
        current_breaches=report.current_breaches,
        top_types=[
            RankedOut(name=r.name, count=r.count, previous=r.previous) for r in report.top_types
        ],
        top_products=[
            RankedOut(name=r.name, count=r.count, previous=r.previous) for r in report.top_products
        ],
    )
