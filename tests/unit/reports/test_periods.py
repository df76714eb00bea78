"""Periods: parsing, local boundaries, the previous equal period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.reports import ReportError, last_completed, parse_period, period_containing
from bot.reports.periods import local_midnight, week_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def test_iso_week_starts_monday_local_midnight() -> None:
    week = parse_period("2026-W47", SHANGHAI)
    assert week.start == datetime(2026, 11, 16, tzinfo=SHANGHAI)
    assert week.end == datetime(2026, 11, 23, tzinfo=SHANGHAI)
    assert week.start.astimezone(UTC) == datetime(2026, 11, 15, 16, tzinfo=UTC)
    assert (week.label, week.kind, week.days) == ("2026-W47", "week", 7)


def test_month_day_and_range_forms() -> None:
    month = parse_period("2026-11", SHANGHAI)
    assert (month.first_day, month.end_day, month.label) == (
        date(2026, 11, 1),
        date(2026, 12, 1),
        "2026-11",
    )
    assert parse_period("2026-12", SHANGHAI).end_day == date(2027, 1, 1)
    day = parse_period("2026-11-23", SHANGHAI)
    assert (day.first_day, day.days, day.kind) == (date(2026, 11, 23), 1, "day")
    span = parse_period("2026-11-01..2026-11-30", SHANGHAI)
    assert (span.first_day, span.last_day, span.days, span.kind) == (
        date(2026, 11, 1),
        date(2026, 11, 30),
        30,
        "range",
    )
    assert parse_period(" 2026-W7 ", SHANGHAI).label == "2026-W07"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-W54", "no ISO week 54"),
        ("2025-W53", "no ISO week 53"),
        ("2026-13", "no month 13"),
        ("2026-11-31", "invalid date"),
        ("2026-11-30..2026-11-01", "ends before it starts"),
        ("last week", "cannot read period 'last week'"),
    ],
)
def test_bad_periods_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ReportError, match=message):
        parse_period(text, SHANGHAI)


def test_previous_is_the_equal_period_before() -> None:
    assert parse_period("2026-W47", SHANGHAI).previous().label == "2026-W46"
    assert parse_period("2027-W01", SHANGHAI).previous().label == "2026-W53"
    assert parse_period("2026-01", SHANGHAI).previous().label == "2025-12"
    assert parse_period("2026-03", SHANGHAI).previous().days == 28
    assert parse_period("2026-11-23", SHANGHAI).previous().label == "2026-11-22"
    span = parse_period("2026-11-01..2026-11-30", SHANGHAI).previous()
    assert (span.label, span.days) == ("2026-10-02..2026-10-31", 30)


def test_weeks_across_a_dst_change_still_start_at_local_midnight() -> None:
    week = parse_period("2026-W45", NEW_YORK)  # DST ends Sunday 2026-11-01 in New York
    previous = week.previous()
    assert previous.start.hour == 0 and week.start.hour == 0
    # Aware datetimes sharing a tzinfo subtract as wall clocks; compare real instants in UTC.
    assert previous.end.astimezone(UTC) - previous.start.astimezone(UTC) == timedelta(
        days=7, hours=1
    )
    assert previous.end == week.start


def test_contains_is_half_open() -> None:
    week = parse_period("2026-W47", SHANGHAI)
    assert week.contains(week.start)
    assert week.contains(week.end - timedelta(microseconds=1))
    assert not week.contains(week.end)


def test_describe_is_short_chinese() -> None:
    assert parse_period("2026-W47", SHANGHAI).describe() == "2026年11月16日—11月22日"
    assert parse_period("2026-W53", SHANGHAI).describe() == "2026年12月28日—2027年1月3日"
    assert parse_period("2026-11-23", SHANGHAI).describe() == "2026年11月23日"


def test_last_completed_week_for_a_monday_morning_digest() -> None:
    monday_9am = datetime(2026, 11, 23, 9, tzinfo=SHANGHAI)
    assert last_completed("week", monday_9am, SHANGHAI).label == "2026-W47"
    assert last_completed("month", monday_9am, SHANGHAI).label == "2026-10"
    assert last_completed("day", monday_9am, SHANGHAI).label == "2026-11-22"
    # 2026-11-22 20:00 UTC is already Monday 04:00 in Shanghai.
    late_sunday_utc = datetime(2026, 11, 22, 20, tzinfo=UTC)
    assert period_containing(late_sunday_utc, "week", SHANGHAI).label == "2026-W48"


zones = st.sampled_from([SHANGHAI, NEW_YORK, ZoneInfo("Europe/Berlin"), ZoneInfo("UTC")])
days = st.dates(min_value=date(2000, 1, 3), max_value=date(2090, 12, 31))


@given(day=days, tz=zones)
def test_every_day_falls_in_its_week_and_weeks_tile(day: date, tz: ZoneInfo) -> None:
    week = week_of(day, tz)
    assert week.contains(local_midnight(day, tz))
    assert week.first_day.weekday() == 0 and week.days == 7
    assert week.previous().end == week.start
    assert parse_period(week.label, tz) == week


@given(day=days, tz=zones)
def test_months_tile_and_round_trip(day: date, tz: ZoneInfo) -> None:
    month = period_containing(local_midnight(day, tz), "month", tz)
    assert month.first_day.day == 1 and month.first_day <= day < month.end_day
    assert month.previous().end_day == month.first_day
    assert parse_period(month.label, tz) == month
