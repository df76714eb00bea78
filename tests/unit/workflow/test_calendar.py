"""Working-time calendars: due times across weekends, holidays, time zones and DST."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.workflow import AlwaysOpen, CalendarConfig, WorkingCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


@pytest.fixture
def office() -> WorkingCalendar:
    return WorkingCalendar()


def test_friday_evening_complaint_is_due_on_monday_afternoon(office):
    friday = at(SHANGHAI, 2026, 11, 27, 17, 50)
    assert office.add(friday, 4 * H) == at(SHANGHAI, 2026, 11, 30, 14, 20)
    assert office.elapsed(friday, at(SHANGHAI, 2026, 11, 30, 14, 20)) == 4 * H


def test_the_lunch_break_does_not_count(office):
    morning = at(SHANGHAI, 2026, 11, 23, 11, 0)
    assert office.add(morning, 2 * H) == at(SHANGHAI, 2026, 11, 23, 14, 30)
    assert office.elapsed(morning, at(SHANGHAI, 2026, 11, 23, 13, 30)) == H


def test_a_limit_ending_with_a_window_is_due_at_its_end(office):
    assert office.add(at(SHANGHAI, 2026, 11, 23, 9, 0), 3 * H) == at(SHANGHAI, 2026, 11, 23, 12)


def test_time_outside_hours_starts_counting_at_the_next_window(office):
    night = at(SHANGHAI, 2026, 11, 23, 22, 0)
    assert office.add(night, 30 * timedelta(minutes=1)) == at(SHANGHAI, 2026, 11, 24, 9, 30)
    assert office.add(night, timedelta(0)) == night


def test_a_working_day_holds_seven_and_a_half_hours(office):
    monday = at(SHANGHAI, 2026, 11, 23, 0, 0)
    assert office.elapsed(monday, monday + timedelta(days=1)) == timedelta(hours=7, minutes=30)
    assert office.elapsed(monday, monday + timedelta(days=7)) == 5 * timedelta(hours=7, minutes=30)


def test_is_working(office):
    assert office.is_working(at(SHANGHAI, 2026, 11, 23, 9, 0))
    assert not office.is_working(at(SHANGHAI, 2026, 11, 23, 12, 0))  # windows end exclusive
    assert not office.is_working(at(SHANGHAI, 2026, 11, 23, 12, 30))
    assert not office.is_working(at(SHANGHAI, 2026, 11, 28, 10, 0))  # Saturday
    assert office.is_working(at(ZoneInfo("UTC"), 2026, 11, 23, 2, 0))  # 10:00 in Shanghai


def test_holidays_and_adjusted_working_weekends():
    golden_week = {date(2026, 10, 1) + timedelta(days=n) for n in range(7)}
    calendar = WorkingCalendar(holidays=golden_week, extra_workdays={date(2026, 10, 10)})
    before = at(SHANGHAI, 2026, 9, 30, 17, 0)
    # 1h left on Sep 30, holidays Oct 1-7, Oct 8 (Thu), Oct 9 (Fri), then Saturday Oct 10 works.
    due = calendar.add(before, H + 2 * timedelta(hours=7, minutes=30) + H)
    assert due == at(SHANGHAI, 2026, 10, 10, 10, 0)
    assert not calendar.is_working(at(SHANGHAI, 2026, 10, 2, 10, 0))
    assert calendar.is_working(at(SHANGHAI, 2026, 10, 10, 10, 0))


def test_naive_datetimes_are_local_wall_time(office):
    assert office.add(datetime(2026, 11, 27, 17, 50), 4 * H) == at(SHANGHAI, 2026, 11, 30, 14, 20)


def test_results_are_in_the_calendar_zone(office):
    due = office.add(at(ZoneInfo("UTC"), 2026, 11, 23, 1, 0), H)
    assert due.tzinfo == SHANGHAI and due == at(SHANGHAI, 2026, 11, 23, 10, 0)


def test_negative_durations_are_refused(office):
    with pytest.raises(ValueError):
        office.add(at(SHANGHAI, 2026, 11, 23, 9), -H)


def test_elapsed_backwards_is_zero(office):
    assert office.elapsed(
        at(SHANGHAI, 2026, 11, 24, 10), at(SHANGHAI, 2026, 11, 23, 10)
    ) == timedelta(0)


# --- DST -----------------------------------------------------------------------------------------


def test_a_24_hour_calendar_counts_real_hours_across_dst():
    always = WorkingCalendar(NEW_YORK, weekdays=range(1, 8), hours=["00:00-24:00"])
    assert always.elapsed(datetime(2026, 3, 8), datetime(2026, 3, 9)) == 23 * H
    assert always.elapsed(datetime(2026, 11, 1), datetime(2026, 11, 2)) == 25 * H
    assert always.add(at(NEW_YORK, 2026, 3, 7, 12), 24 * H) == at(NEW_YORK, 2026, 3, 8, 13)


def test_night_shift_windows_over_the_dst_gap_and_repeat():
    night = WorkingCalendar(NEW_YORK, weekdays=range(1, 8), hours=["01:00-04:00"])
    assert night.elapsed(datetime(2026, 3, 8), datetime(2026, 3, 9)) == 2 * H
    assert night.elapsed(datetime(2026, 11, 1), datetime(2026, 11, 2)) == 4 * H
    assert night.add(at(NEW_YORK, 2026, 3, 8, 1, 30), H) == at(NEW_YORK, 2026, 3, 8, 3, 30)


def test_office_hours_are_wall_clock_hours_on_dst_days():
    ny_office = WorkingCalendar(NEW_YORK, weekdays=range(1, 8))
    sunday = at(NEW_YORK, 2026, 3, 8, 8, 0)
    assert ny_office.add(sunday, H) == at(NEW_YORK, 2026, 3, 8, 10, 0)


# --- properties ----------------------------------------------------------------------------------

ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "America/Santiago",  # DST changes at midnight
    "Australia/Lord_Howe",  # 30-minute DST shift
    "UTC",
]
HOURS = [
    ["09:00-12:00", "13:30-18:00"],
    ["00:00-24:00"],
    ["00:30-02:30", "22:00-24:00"],
    ["01:00-04:00"],
]


@st.composite
def calendars(draw: st.DrawFn) -> WorkingCalendar:
    holidays = draw(st.sets(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=40))
    extra = draw(st.sets(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=10))
    return WorkingCalendar(
        timezone=draw(st.sampled_from(ZONES)),
        weekdays=draw(st.sets(st.integers(1, 7), min_size=1)),
        hours=draw(st.sampled_from(HOURS)),
        holidays=holidays,
        extra_workdays=extra,
    )


moments = st.datetimes(
    datetime(2025, 1, 1), datetime(2027, 6, 30), timezones=st.just(ZoneInfo("UTC"))
)
durations = st.timedeltas(timedelta(0), timedelta(hours=300))


@settings(max_examples=250, deadline=None)
@given(calendar=calendars(), start=moments, duration=durations)
def test_elapsed_undoes_add(calendar, start, duration):
    due = calendar.add(start, duration)
    assert due >= start
    assert calendar.elapsed(start, due) == duration
    if duration:
        assert calendar.is_working(due - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(calendar=calendars(), start=moments, a=durations, b=durations)
def test_add_is_monotonic(calendar, start, a, b):
    short, long = sorted((a, b))
    assert calendar.add(start, short) <= calendar.add(start, long)


@settings(max_examples=200, deadline=None)
@given(calendar=calendars(), points=st.lists(moments, min_size=3, max_size=3))
def test_elapsed_adds_up(calendar, points):
    a, b, c = sorted(points)
    assert calendar.elapsed(a, b) + calendar.elapsed(b, c) == calendar.elapsed(a, c)
    assert calendar.elapsed(a, c) <= c - a


@settings(max_examples=200, deadline=None)
@given(calendar=calendars(), start=moments, a=durations, b=durations)
def test_adding_in_two_parts_is_adding_once(calendar, start, a, b):
    assert calendar.add(calendar.add(start, a), b) == calendar.add(start, a + b)


@given(start=moments, duration=durations)
def test_always_open_is_real_time(start, duration):
    calendar = AlwaysOpen(NEW_YORK)
    due = calendar.add(start, duration)
    assert due - start == duration
    assert calendar.elapsed(start, due) == duration
    assert calendar.is_working(start)


# --- configuration -------------------------------------------------------------------------------


def test_calendar_config_from_yaml():
    doc = yaml.safe_load(
        """
        calendar:
          timezone: Asia/Shanghai
          weekdays: [周一, 周二, 周三, 周四, 周五]
          hours: ["09:00-12:00", "13:30-18:00"]
          holidays: [2026-10-01..2026-10-07, 2026-01-01]
          workdays: [2026-10-10]
        """
    )
    config = CalendarConfig.model_validate(doc["calendar"])
    calendar = config.to_calendar()
    assert calendar == WorkingCalendar(
        "Asia/Shanghai",
        hours=[(time(9), time(12)), (time(13, 30), time(18))],
        holidays={date(2026, 1, 1)} | {date(2026, 10, d) for d in range(1, 8)},
        extra_workdays={date(2026, 10, 10)},
    )


def test_calendar_config_defaults_to_the_organisation_zone():
    calendar = CalendarConfig().to_calendar(default_timezone="Europe/Berlin")
    assert str(calendar.timezone) == "Europe/Berlin"
    assert calendar.weekdays == frozenset({1, 2, 3, 4, 5})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Asia/Beijing", "unknown time zone 'Asia/Beijing'"),
        ("weekdays", ["周八"], "unknown weekday '周八'"),
        ("weekdays", [0], "unknown weekday '0'"),
        ("hours", ["9-12"], "invalid time '9'"),
        ("hours", ["12:00-09:00"], "must start before it ends"),
        ("hours", ["09:00-12:00", "11:00-13:00"], "must not overlap"),
        ("hours", ["09:00"], "invalid working hours '09:00'"),
        ("holidays", ["2026-13-01"], "invalid date '2026-13-01'"),
        ("holidays", ["2026-10-07..2026-10-01"], "ends before it starts"),
        ("extra", 1, "Extra inputs are not permitted"),
    ],
)
def test_calendar_config_errors(field, value, message):
    with pytest.raises(ValidationError) as info:
        CalendarConfig.model_validate({field: value})
    assert message in str(info.value)


def test_calendar_needs_working_time():
    with pytest.raises(ValueError):
        WorkingCalendar(weekdays=[])
    with pytest.raises(ValueError):
        WorkingCalendar(hours=[])
