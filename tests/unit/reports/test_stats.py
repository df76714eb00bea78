"""Percentiles (as percentile_cont), rates and period-over-period change."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.reports import Change, DurationStats, Rate, percentile


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([10, 20, 30, 40], 0.5) == 25
    assert percentile([10, 20, 30, 40], 0.9) == pytest.approx(37)
    assert percentile([10, 20, 30, 40], 0.0) == 10
    assert percentile([10, 20, 30, 40], 1.0) == 40


values = st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=2, max_size=60)


@given(values)
def test_percentile_matches_statistics_inclusive_method(data: list[float]) -> None:
    ordered = sorted(data)
    deciles = statistics.quantiles(ordered, n=10, method="inclusive")
    assert percentile(ordered, 0.9) == pytest.approx(deciles[8], rel=1e-9, abs=1e-6)
    assert percentile(ordered, 0.5) == pytest.approx(statistics.median(ordered), abs=1e-6)


@given(values, st.floats(0, 1), st.floats(0, 1))
def test_percentile_is_monotone_and_bounded(data: list[float], p: float, q: float) -> None:
    ordered = sorted(data)
    low, high = sorted((p, q))
    a, b = percentile(ordered, low), percentile(ordered, high)
    assert a is not None and b is not None
    assert ordered[0] - 1e-6 <= a <= b + 1e-6 <= ordered[-1] + 2e-6


def test_duration_stats_round_to_milliseconds() -> None:
    stats = DurationStats.of_seconds([60.0004, 120.0, 30.0])
    assert stats == DurationStats(3, timedelta(seconds=60), timedelta(seconds=108))
    assert DurationStats.of_seconds([]) == DurationStats()


def test_rate_and_change() -> None:
    assert Rate(1, 4).value == 0.25 and Rate().value is None
    grew = Change(120.0, 100.0)
    assert grew.delta == 20 and grew.relative == pytest.approx(0.2)
    assert Change(5.0, 0.0).relative is None and Change(5.0, 0.0).delta == 5
    assert Change(None, 3.0).delta is None
    share = Change(0.8, 0.75, is_rate=True)
    assert share.delta == pytest.approx(0.05)
