"""SQL building blocks that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal,
    literal_column,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.reports.periods import Period
from storage.models import Complaint, Timer

# Statuses of a complaint someone still has to act on (待受理, 处理中, 待回访).
OPEN_STATUSES = ("new", "in_progress", "resolved")


def is_open() -> ColumnElement[bool]:
    """complaints.status IN ('new', 'in_progress', 'resolved'), written with literals so the
    partial index ix_complaints_open_step (migration 0003_reports) matches on both databases."""
    return Complaint.status.in_([literal_column(f"'{status}'") for status in OPEN_STATUSES])


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def seconds_between(
    later: ColumnElement[Any], earlier: ColumnElement[Any], dialect: str
) -> ColumnElement[float]:
    """later - earlier in seconds (float). SQLite stores text, so go through julianday."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return cast(extract("epoch", later - earlier), Float)


def bucket_index(column: ColumnElement[Any], boundaries: Sequence[datetime]) -> ColumnElement[int]:
    """0-based index of the [boundaries[i], boundaries[i+1]) slot holding `column`.

    Slots are computed from local-time boundaries in Python and compared as instants, so months,
    weeks and DST need no time-zone support in the database. Callers restrict `column` to
    [boundaries[0], boundaries[-1]).
    """
    inner = boundaries[1:-1]
    if not inner:
        return literal(0)
    return case(
        *[(column < boundary, index) for index, boundary in enumerate(inner)],
        else_=len(inner),
    )


def breached_fired() -> ColumnElement[bool]:
    """A fired 'breached' timer, written with literals so the partial index
    ix_timers_breached_fired (migration 0003_reports) matches on both databases."""
    return and_(
        Timer.level == literal_column("'breached'"), Timer.status == literal_column("'fired'")
    )


def breached_exists() -> ColumnElement[bool]:
    """The complaint has a 'breached' timer that fired (it ran past its limit at least once)."""
    return exists().where(Timer.complaint_id == Complaint.id, breached_fired())


def as_float(value: Any) -> float | None:
    """Decimal/int/None from a driver as float/None."""
    return None if value is None else float(value)


@dataclass(frozen=True)
class Span:
    """Adjacent time slots [boundaries[i], boundaries[i+1]); slot i of a timestamp holds it."""

    boundaries: tuple[datetime, ...]

    @classmethod
    def of(cls, periods: Sequence[Period]) -> Span:
        """Slots for adjacent periods given in time order."""
        return cls((*(p.start for p in periods), periods[-1].end))

    @property
    def slots(self) -> int:
        return len(self.boundaries) - 1

    def covers(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        return and_(column >= self.boundaries[0], column < self.boundaries[-1])

    def slot(self, column: ColumnElement[Any]) -> ColumnElement[int]:
        return bucket_index(column, self.boundaries).label("slot")

    def slot_of(self, moment: datetime) -> int:
        return bisect.bisect_right(self.boundaries, moment) - 1


def span_for(period: Period, compare: bool) -> Span:
    """The period alone, or the previous period (slot 0) and the period (slot 1)."""
    return Span.of((period.previous(), period) if compare else (period,))
