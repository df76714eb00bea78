"""Working-time calendars: due times and elapsed times counted in office hours only.

Working hours are written in local wall time ("09:00-12:00") and turned into absolute instants
per day at the edge; all arithmetic is then done in UTC. That keeps DST days honest (a window
spanning a spring-forward gap really is an hour shorter) and makes elapsed(start, add(start, d))
equal d exactly.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

MINUTES_PER_DAY = 24 * 60
DEFAULT_HOURS = ("09:00-12:00", "13:30-18:00")
WEEKDAY_NAMES = {
    name: number
    for number, names in enumerate(
        (
            ("周一", "星期一", "mon", "monday"),
            ("周二", "星期二", "tue", "tuesday"),
            ("周三", "星期三", "wed", "wednesday"),
            ("周四", "星期四", "thu", "thursday"),
            ("周五", "星期五", "fri", "friday"),
            ("周六", "星期六", "sat", "saturday"),
            ("周日", "周天", "星期日", "星期天", "sun", "sunday"),
        ),
        start=1,
    )
    for name in names
}
# A calendar without working time would make add() loop forever: give up after this many days.
MAX_SEARCH_DAYS = 3 * 366


class Calendar(Protocol):
    """What the service needs from a calendar: due times and elapsed working time."""

    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...

    def is_working(self, moment: datetime) -> bool: ...


def _zone(value: str | tzinfo) -> tzinfo:
    return ZoneInfo(value) if isinstance(value, str) else value


def _aware(moment: datetime, zone: tzinfo) -> datetime:
    """An absolute instant in UTC; a naive datetime is read as wall time in `zone`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def parse_clock(text: str) -> int:
    """'13:30' -> minutes after midnight; '24:00' is allowed as the end of a day."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise ValueError(f"invalid time '{text}' (write HH:MM, e.g. 09:00)")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"invalid time '{text}' (write HH:MM between 00:00 and 24:00)")
    return hours * 60 + minutes


def parse_window(text: str) -> tuple[int, int]:
    """'09:00-12:00' -> (540, 720)."""
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"invalid working hours '{text}' (write HH:MM-HH:MM, e.g. 09:00-12:00)")
    return parse_clock(start), parse_clock(end)


def _minutes(value: time | str | int) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_clock(value)
    return value.hour * 60 + value.minute


class WorkingCalendar:
    """Office hours on working days in one time zone; holidays and adjusted workdays honoured."""

    def __init__(
        self,
        timezone: str | tzinfo = "Asia/Shanghai",
        weekdays: Collection[int] = (1, 2, 3, 4, 5),
        hours: Sequence[tuple[time | str | int, time | str | int] | str] = DEFAULT_HOURS,
        holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
    ) -> None:
        self.timezone = _zone(timezone)
        self.weekdays = frozenset(weekdays)
        if not self.weekdays or not self.weekdays <= set(range(1, 8)):
            raise ValueError("weekdays must be ISO day numbers 1 (Monday) to 7 (Sunday)")
        windows = []
        for window in hours:
            start, end = parse_window(window) if isinstance(window, str) else window
            windows.append((_minutes(start), _minutes(end)))
        windows.sort()
        for start, end in windows:
            if not 0 <= start < end <= MINUTES_PER_DAY:
                raise ValueError("each working-hours window must start before it ends")
        for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
            if start < end:
                raise ValueError("working-hours windows must not overlap")
        if not windows:
            raise ValueError("a working calendar needs at least one working-hours window")
        self.hours: tuple[tuple[int, int], ...] = tuple(windows)
        self.holidays = frozenset(holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self._cache: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    def __repr__(self) -> str:
        hours = ", ".join(
            f"{a // 60:02}:{a % 60:02}-{b // 60:02}:{b % 60:02}" for a, b in self.hours
        )
        return (
            f"WorkingCalendar({self.timezone}, weekdays={sorted(self.weekdays)}, hours=[{hours}])"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkingCalendar):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[Any, ...]:
        return (str(self.timezone), self.weekdays, self.hours, self.holidays, self.extra_workdays)

    def is_workday(self, day: date) -> bool:
        """True on a working day (an adjusted workday wins over a weekend or holiday)."""
        if day in self.extra_workdays:
            return True
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def windows(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals of a local day as UTC instants, sorted and disjoint."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        out: list[tuple[datetime, datetime]] = []
        if self.is_workday(day):
            midnight = datetime.combine(day, time(0))
            # Wall time -> instant (fold=0). Clamping into [this midnight, next midnight] and past
            # the previous window keeps days disjoint and ordered even around DST gaps.
            floor = _aware(midnight, self.timezone)
            ceiling = _aware(midnight + timedelta(days=1), self.timezone)
            for start, end in self.hours:
                a = _aware(midnight + timedelta(minutes=start), self.timezone)
                b = _aware(midnight + timedelta(minutes=end), self.timezone)
                a, b = min(max(a, floor), ceiling), min(max(b, floor), ceiling)
                if b > a:
                    out.append((a, b))
                floor = max(b, floor)
        result = tuple(out)
        if len(self._cache) < 4096:
            self._cache[day] = result
        return result

    def _local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.timezone).date()

    def is_working(self, moment: datetime) -> bool:
        """True when `moment` lies inside a working window (start inclusive, end exclusive)."""
        instant = _aware(moment, self.timezone)
        day = self._local_day(instant)
        return any(
            a <= instant < b
            for offset in (-1, 0, 1)
            for a, b in self.windows(day + timedelta(days=offset))
        )

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start`, in the calendar's time zone."""
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        instant = _aware(start, self.timezone)
        if duration == timedelta(0):
            return instant.astimezone(self.timezone)
        remaining = duration
        # A day's windows may hold instants of the previous local date (a repeated hour at
        # midnight), so the scan starts one day early.
        day = self._local_day(instant) - timedelta(days=1)
        idle_days = 0
        while idle_days <= MAX_SEARCH_DAYS:
            idle_days += 1
            for a, b in self.windows(day):
                if b <= instant:
                    continue
                idle_days = 0
                begin = max(a, instant)
                if remaining <= b - begin:
                    return (begin + remaining).astimezone(self.timezone)
                remaining -= b - begin
            day += timedelta(days=1)
        raise ValueError("the calendar has no working time in the years ahead")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two moments (zero when `end` is not after `start`)."""
        a0, b0 = _aware(start, self.timezone), _aware(end, self.timezone)
        total = timedelta(0)
        if b0 <= a0:
            return total
        day = self._local_day(a0) - timedelta(days=1)
        last = self._local_day(b0) + timedelta(days=1)
        while day <= last:
            for a, b in self.windows(day):
                low, high = max(a, a0), min(b, b0)
                if high > low:
                    total += high - low
            day += timedelta(days=1)
        return total


class AlwaysOpen:
    """A 24x7 calendar: working time is real time."""

    def __init__(self, timezone: str | tzinfo = "UTC") -> None:
        self.timezone = _zone(timezone)

    def __repr__(self) -> str:
        return f"AlwaysOpen({self.timezone})"

    def is_working(self, moment: datetime) -> bool:
        """Always true."""
        return True

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """`start` plus `duration` of real time, in the calendar's time zone."""
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        return (_aware(start, self.timezone) + duration).astimezone(self.timezone)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Real time between two moments (zero when `end` is not after `start`)."""
        delta = _aware(end, self.timezone) - _aware(start, self.timezone)
        return max(delta, timedelta(0))


def _date_list(values: list[Any]) -> list[date]:
    """Dates, or 'YYYY-MM-DD..YYYY-MM-DD' ranges (China's holidays come as ranges)."""
    out: list[date] = []
    for value in values:
        if isinstance(value, datetime):
            raise ValueError(f"'{value}' is a date and time; write a date like 2026-10-01")
        if isinstance(value, date):
            out.append(value)
            continue
        text = str(value).strip()
        first, sep, last = text.partition("..")
        try:
            begin = date.fromisoformat(first.strip())
            end = date.fromisoformat(last.strip()) if sep else begin
        except ValueError:
            raise ValueError(
                f"invalid date '{text}' (write 2026-10-01 or a range 2026-10-01..2026-10-07)"
            ) from None
        if end < begin:
            raise ValueError(f"the range '{text}' ends before it starts")
        out.extend(begin + timedelta(days=n) for n in range((end - begin).days + 1))
    return out


class CalendarConfig(BaseModel):
    """The `calendar:` section: office hours that time limits are counted in."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = None
    weekdays: list[int | str] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    hours: list[str] = Field(default_factory=lambda: list(DEFAULT_HOURS))
    holidays: list[date | str] = []
    workdays: list[date | str] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone '{value}' (use an IANA name like Asia/Shanghai)"
            ) from exc
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekday_numbers(cls, values: list[int | str]) -> list[int]:
        out = []
        for value in values:
            if isinstance(value, int) and 1 <= value <= 7:
                out.append(value)
            elif isinstance(value, str) and value.strip().lower() in WEEKDAY_NAMES:
                out.append(WEEKDAY_NAMES[value.strip().lower()])
            else:
                raise ValueError(f"unknown weekday '{value}' (write 1-7 or 周一…周日)")
        if not out:
            raise ValueError("at least one weekday is needed")
        return sorted(set(out))

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, values: list[str]) -> list[str]:
        WorkingCalendar(hours=values)  # raises ValueError with the offending window
        return values

    @field_validator("holidays", "workdays")
    @classmethod
    def _valid_dates(cls, values: list[Any]) -> list[date]:
        return _date_list(values)

    def to_calendar(self, default_timezone: str = "Asia/Shanghai") -> WorkingCalendar:
        """The runtime calendar; `default_timezone` is the organisation's when none is given."""
        return WorkingCalendar(
            timezone=self.timezone or default_timezone,
            weekdays=[int(d) for d in self.weekdays],
            hours=self.hours,
            holidays=[d for d in self.holidays if isinstance(d, date)],
            extra_workdays=[d for d in self.workdays if isinstance(d, date)],
        )
