"""Reading dates and times as people write them: 2026-11-23, 11月23日, 昨天下午3点, ISO."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.forms.scalars import Invalid, normalize

DATE_MESSAGE = "日期格式不正确，例如 2026-11-23"
DATETIME_MESSAGE = "时间格式不正确，例如 2026-11-23 14:05"
NO_SUCH_DATE = "没有这一天，请检查年月日"

_RELATIVE_DAYS = {"今天": 0, "今日": 0, "昨天": -1, "昨日": -1, "前天": -2, "明天": 1, "后天": 2}
_FULL_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_RELATIVE = re.compile("|".join(_RELATIVE_DAYS))
_TIME = re.compile(
    r"(上午|早上|凌晨|中午|下午|傍晚|晚上)?\s*(\d{1,2})\s*(?:[:：点时])\s*(?:(\d{1,2})|(半))?\s*分?"
    r"(?:\s*[:：]\s*(\d{1,2})\s*秒?)?"
)
_AFTERNOON = {"下午", "傍晚", "晚上"}


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise Invalid(NO_SUCH_DATE) from exc


def _date_part(text: str, today: date) -> tuple[date, str] | None:
    """The date at the start of `text` and what follows it, or None when there is none."""
    for pattern in (_FULL_DATE, _COMPACT_DATE):
        found = pattern.match(text)
        if found:
            year, month, day = (int(g) for g in found.groups())
            return _make_date(year, month, day), text[found.end() :]
    found = _RELATIVE.match(text)
    if found:
        return today + timedelta(days=_RELATIVE_DAYS[found.group(0)]), text[found.end() :]
    found = _MONTH_DAY.match(text)
    if found:
        month, day = (int(g) for g in found.groups())
        return _make_date(today.year, month, day), text[found.end() :]
    return None


def _time_part(text: str) -> time | None:
    """A clock time making up all of `text` ("14:05", "下午3点半", "9点"), or None."""
    found = _TIME.fullmatch(text.strip())
    if not found:
        return None
    period, hour_text, minute_text, half, second_text = found.groups()
    hour = int(hour_text)
    minute = 30 if half else int(minute_text or 0)
    second = int(second_text or 0)
    if period in _AFTERNOON and hour < 12:
        hour += 12
    elif period == "中午" and hour < 6:
        hour += 12
    if hour > 23 or minute > 59 or second > 59:
        raise Invalid("时间不存在，请检查小时和分钟")
    return time(hour, minute, second)


def _iso(text: str) -> datetime | None:
    if not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", text
    ):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def read_date(raw: Any, zone: ZoneInfo, now: datetime) -> date:
    """A calendar date: date objects, ISO text, 2026/11/23, 2026年11月23日, 11月23日, 昨天."""
    if isinstance(raw, datetime):
        return (raw.astimezone(zone) if raw.tzinfo else raw).date()
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, str):
        raise Invalid(DATE_MESSAGE)
    text = normalize(raw)
    moment = _iso(text)
    if moment is not None:
        return read_date(moment, zone, now)
    found = _date_part(text, now.astimezone(zone).date())
    if found is None or found[1].strip():
        raise Invalid(DATE_MESSAGE)
    return found[0]


def read_datetime(raw: Any, zone: ZoneInfo, now: datetime) -> datetime:
    """An aware date and time in `zone`: ISO text, "2026-11-23 14:05", "昨天下午3点", "14:05"."""
    if isinstance(raw, datetime):
        return raw.replace(tzinfo=zone) if raw.tzinfo is None else raw.astimezone(zone)
    if not isinstance(raw, str):
        raise Invalid(DATETIME_MESSAGE)
    text = normalize(raw)
    moment = _iso(text)
    if moment is not None:
        return read_datetime(moment, zone, now)
    today = now.astimezone(zone).date()
    found = _date_part(text, today)
    day, rest = found if found else (today, text)
    rest = rest.lstrip(" T")
    if not rest:
        raise Invalid(DATETIME_MESSAGE)
    clock = _time_part(rest)
    if clock is None:
        raise Invalid(DATETIME_MESSAGE)
    return datetime.combine(day, clock, tzinfo=zone)
