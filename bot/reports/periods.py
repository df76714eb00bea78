"""Report periods: half-open [start, end) spans of local days (ISO weeks, months, ranges)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

from bot.reports.errors import ReportError

PeriodKind = Literal["day", "week", "month", "range"]

PERIOD_FORMS = "2026-W47 (ISO week), 2026-11 (month), 2026-11-23 (day) or 2026-11-01..2026-11-30"

_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})$")


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """00:00 of `day` in `tz` (an aware datetime)."""
    return datetime.combine(day, time(0), tzinfo=tz)


@dataclass(frozen=True)
class Period:
    """Local days [first_day, end_day) in one time zone; `start`/`end` are its aware boundaries."""

    first_day: date
    end_day: date  # exclusive
    tz: tzinfo
    kind: PeriodKind
    label: str

    def __post_init__(self) -> None:
        if self.end_day <= self.first_day:
            raise ReportError(f"period {self.label!r} is empty: it must end after it starts")

    @property
    def start(self) -> datetime:
        return local_midnight(self.first_day, self.tz)

    @property
    def end(self) -> datetime:
        return local_midnight(self.end_day, self.tz)

    @property
    def last_day(self) -> date:
        return self.end_day - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end_day - self.first_day).days

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def previous(self) -> Period:
        """The equal period just before this one (week, month, or a range of the same length)."""
        if self.kind == "week":
            return week_of(self.first_day - timedelta(days=7), self.tz)
        if self.kind == "month":
            return month_of(self.first_day - timedelta(days=1), self.tz)
        if self.kind == "day":
            return day_period(self.first_day - timedelta(days=1), self.tz)
        return range_period(
            self.first_day - timedelta(days=self.days), self.first_day - timedelta(days=1), self.tz
        )

    def describe(self) -> str:
        """The span in short Chinese, e.g. 11月16日—11月22日 (the label says which week)."""
        first, last = self.first_day, self.last_day
        if first == last:
            return f"{first.year}年{first.month}月{first.day}日"
        if first.year == last.year:
            return f"{first.year}年{first.month}月{first.day}日—{last.month}月{last.day}日"
        return f"{first.year}年{first.month}月{first.day}日—{last.year}年{last.month}月{last.day}日"


def week_period(year: int, week: int, tz: tzinfo) -> Period:
    """ISO week `week` of `year`: Monday 00:00 local to the next Monday."""
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ReportError(f"{year} has no ISO week {week}") from exc
    return Period(monday, monday + timedelta(days=7), tz, "week", f"{year}-W{week:02d}")


def week_of(day: date, tz: tzinfo) -> Period:
    """The ISO week containing local `day`."""
    year, week, _ = day.isocalendar()
    return week_period(year, week, tz)


def month_period(year: int, month: int, tz: tzinfo) -> Period:
    if not 1 <= month <= 12:
        raise ReportError(f"there is no month {month} (use 01..12)")
    first = date(year, month, 1)
    after = date(year + month // 12, month % 12 + 1, 1)
    return Period(first, after, tz, "month", f"{year}-{month:02d}")


def month_of(day: date, tz: tzinfo) -> Period:
    return month_period(day.year, day.month, tz)


def day_period(day: date, tz: tzinfo) -> Period:
    return Period(day, day + timedelta(days=1), tz, "day", day.isoformat())


def range_period(first: date, last: date, tz: tzinfo) -> Period:
    """Local days first..last, both included."""
    if last < first:
        raise ReportError(f"period {first}..{last} ends before it starts")
    return Period(first, last + timedelta(days=1), tz, "range", f"{first}..{last}")


def _date(text: str, whole: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ReportError(f"period {whole!r} has an invalid date {text!r}") from exc


def parse_period(text: str, tz: tzinfo) -> Period:
    """Parse "2026-W47", "2026-11", "2026-11-23" or "2026-11-01..2026-11-30" (local days)."""
    cleaned = text.strip()
    if m := _WEEK.match(cleaned):
        return week_period(int(m[1]), int(m[2]), tz)
    if m := _MONTH.match(cleaned):
        return month_period(int(m[1]), int(m[2]), tz)
    if m := _DAY.match(cleaned):
        return day_period(_date(m[1], text), tz)
    if m := _RANGE.match(cleaned):
        return range_period(_date(m[1], text), _date(m[2], text), tz)
    raise ReportError(f"cannot read period {text!r}; write {PERIOD_FORMS}")


def period_containing(
    moment: datetime, kind: Literal["day", "week", "month"], tz: tzinfo
) -> Period:
    """The day, ISO week or month (local) that contains `moment`."""
    day = moment.astimezone(tz).date()
    if kind == "week":
        return week_of(day, tz)
    if kind == "month":
        return month_of(day, tz)
    return day_period(day, tz)


def last_completed(kind: Literal["day", "week", "month"], now: datetime, tz: tzinfo) -> Period:
    """The most recent whole period before `now` (a Monday-morning digest reports last week)."""
    return period_containing(now, kind, tz).previous()
