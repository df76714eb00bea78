"""Plain statistics shared by the KPI queries: percentiles, rates and period-over-period change."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, exactly as PostgreSQL's percentile_cont."""
    count = len(sorted_values)
    if count == 0:
        return None
    position = fraction * (count - 1)
    lower = math.floor(position)
    upper = min(lower + 1, count - 1)
    low, high = sorted_values[lower], sorted_values[upper]
    return low + (high - low) * (position - lower)


def as_duration(seconds: float | None) -> timedelta | None:
    """Seconds (float) as a timedelta rounded to the millisecond, so both databases agree."""
    if seconds is None:
        return None
    return timedelta(milliseconds=round(float(seconds) * 1000))


@dataclass(frozen=True)
class DurationStats:
    """Median and 90th percentile of a set of durations; None when the set is empty."""

    count: int = 0
    median: timedelta | None = None
    p90: timedelta | None = None

    @classmethod
    def of_seconds(cls, seconds: Sequence[float]) -> DurationStats:
        ordered = sorted(seconds)
        return cls(
            len(ordered),
            as_duration(percentile(ordered, 0.5)),
            as_duration(percentile(ordered, 0.9)),
        )


@dataclass(frozen=True)
class Rate:
    """numerator / denominator, None when nothing was counted."""

    numerator: int = 0
    denominator: int = 0

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Change:
    """A figure now and in the previous period; `is_rate` says the figure is a share (0..1)."""

    current: float | None
    previous: float | None
    is_rate: bool = False

    @property
    def delta(self) -> float | None:
        """current - previous (for rates: in share units, 0.03 = 3 percentage points)."""
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def relative(self) -> float | None:
        """(current - previous) / previous; None when the previous figure is missing or zero."""
        if self.current is None or not self.previous:
            return None
        return (self.current - self.previous) / self.previous
