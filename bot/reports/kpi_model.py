"""The KPI report as plain frozen data: figures per period, "now" figures and headline changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.reports.filters import ReportFilter
from bot.reports.periods import Period
from bot.reports.stats import Change, DurationStats, Rate


class WorkingCalendar(Protocol):
    """The SLA timers' working calendar (bot.workflow.calendar.WorkingCalendar fits)."""

    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...


@dataclass(frozen=True)
class PeriodFigures:
    """What happened inside one period (each figure counts the events that fell in it)."""

    received: int = 0  # created in the period
    closed: int = 0  # closed in the period and still closed
    first_response: DurationStats = DurationStats()  # over complaints first answered in the period
    resolution: DurationStats = DurationStats()  # over complaints resolved in the period
    first_response_working: DurationStats | None = None  # same, in working time (calendar given)
    resolution_working: DurationStats | None = None
    # Closed in the period without a reassignment or a reopening / closed in the period.
    first_contact_resolution: Rate = Rate()
    csat_satisfied: Rate = Rate()  # 4-5 star answers / answers given in the period
    csat_average: float | None = None
    # Resolved in the period without a fired 'breached' timer / resolved in the period.
    sla_compliance: Rate = Rate()


@dataclass(frozen=True)
class Ranked:
    """A complaint type or product with its count now and in the previous period."""

    name: str
    count: int
    previous: int = 0


@dataclass(frozen=True)
class Problem:
    """One of the largest problems: a complaint type, with the product most of it is about."""

    type: str | None
    count: int
    previous: int = 0
    product: str | None = None  # the type's most named product, when it carries a clear share
    product_count: int = 0

    @property
    def label(self) -> str:
        return self.type or "未分类"


@dataclass(frozen=True)
class OverdueComplaint:
    """An open complaint whose current step ran past its limit ('breached' timer fired)."""

    number: str
    type: str | None
    department: str | None
    step: str | None
    assignee: str | None
    created_at: datetime
    breached_at: datetime  # when the limit ran out (the timer's due time)


@dataclass(frozen=True)
class AgeBucket:
    label: str
    count: int


HEADLINE = (
    "received",
    "closed",
    "first_response_median",
    "resolution_median",
    "first_contact_resolution",
    "csat_satisfied",
    "csat_average",
    "sla_compliance",
)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def headline_values(figures: PeriodFigures) -> dict[str, tuple[float | None, bool]]:
    """The headline figures of one period as (value, is_rate): durations in seconds, rates 0..1."""
    return {
        "received": (float(figures.received), False),
        "closed": (float(figures.closed), False),
        "first_response_median": (_seconds(figures.first_response.median), False),
        "resolution_median": (_seconds(figures.resolution.median), False),
        "first_contact_resolution": (figures.first_contact_resolution.value, True),
        "csat_satisfied": (figures.csat_satisfied.value, True),
        "csat_average": (figures.csat_average, False),
        "sla_compliance": (figures.sla_compliance.value, True),
    }


@dataclass(frozen=True)
class KpiReport:
    """Every KPI for one period and filter, with the previous equal period for comparison."""

    period: Period
    filter: ReportFilter
    now: datetime
    current: PeriodFigures
    previous: PeriodFigures | None
    open_now: int  # not closed or cancelled, now
    status_now: Mapping[str, int]  # new / in_progress / resolved -> count, now
    backlog_by_age: tuple[AgeBucket, ...]  # open complaints by age, now
    current_breaches: int  # open complaints whose current step ran past its limit, now
    overdue: tuple[OverdueComplaint, ...]  # the oldest of those, capped
    top_types: tuple[Ranked, ...]
    top_products: tuple[Ranked, ...]
    problems: tuple[Problem, ...]  # the largest complaint types received in the period
    change: Mapping[str, Change] = field(default_factory=dict)

    @property
    def previous_period(self) -> Period:
        return self.period.previous()


def headline_changes(current: PeriodFigures, previous: PeriodFigures | None) -> dict[str, Change]:
    """Each headline figure's change against the previous period (None: no comparison)."""
    now_values = headline_values(current)
    before = headline_values(previous) if previous is not None else {}
    return {
        key: Change(value, before.get(key, (None, is_rate))[0], is_rate)
        for key, (value, is_rate) in now_values.items()
    }
