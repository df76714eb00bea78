"""Durations as people write them in config: 30m, 2h, 1d, 1d12h, 90s, 1w."""

from __future__ import annotations

import re
from datetime import timedelta

# Largest unit first: a duration names each unit at most once, in this order.
UNIT_SECONDS: dict[str, int] = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_ORDER = "wdhms"
_SEGMENT = re.compile(r"(\d+)([a-zA-Z]+)")
_SECOND = timedelta(seconds=1)
_EXAMPLES = "30m, 2h, 1d, 1d12h, 90s or 1w"


def parse_duration(text: str) -> timedelta:
    """Parse '30m', '2h', '1d12h', '90s', '1w'; ValueError with a clear message otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"expected a duration like {_EXAMPLES}, got {text!r}")
    cleaned = text.strip()
    if not cleaned:
        raise ValueError(f"empty duration: write one like {_EXAMPLES}")
    if cleaned.startswith("-"):
        raise ValueError(f"duration '{text}' is negative; durations are written like {_EXAMPLES}")
    if re.fullmatch(r"\d+", cleaned):
        raise ValueError(
            f"duration '{text}' has no unit: add s, m, h, d or w (e.g. {cleaned}m or {cleaned}h)"
        )
    if re.match(r"\d+\.\d", cleaned):
        raise ValueError(f"duration '{text}' uses a fraction: write whole units, e.g. 1h30m")
    total = 0
    position = 0
    last_rank = -1
    for match in _SEGMENT.finditer(cleaned):
        if match.start() != position:
            break
        amount, unit = match.group(1), match.group(2).lower()
        if unit not in UNIT_SECONDS:
            raise ValueError(
                f"unknown unit '{match.group(2)}' in duration '{text}' "
                "(use s, m, h, d or w, e.g. 1d12h)"
            )
        rank = _UNIT_ORDER.index(unit)
        if rank <= last_rank:
            raise ValueError(
                f"duration '{text}': write each unit once, largest first (e.g. 1d12h30m)"
            )
        last_rank = rank
        total += int(amount) * UNIT_SECONDS[unit]
        position = match.end()
    if position != len(cleaned):
        raise ValueError(f"'{text}' is not a duration: write one like {_EXAMPLES}")
    try:
        return timedelta(seconds=total)
    except OverflowError:
        raise ValueError(f"duration '{text}' is too long") from None


def format_duration(td: timedelta) -> str:
    """Write a timedelta as parse_duration reads it, e.g. '1d12h'; drops sub-second parts."""
    seconds = abs(td) // _SECOND
    if seconds == 0:
        return "0s"
    sign = "-" if td < timedelta(0) else ""
    parts = []
    for unit in "dhms":
        amount, seconds = divmod(seconds, UNIT_SECONDS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return sign + "".join(parts)


def duration_in_chinese(td: timedelta) -> str:
    """'1天2小时30分钟' for people; seconds only when the whole duration is under a minute."""
    seconds = abs(td) // _SECOND
    sign = "-" if td < timedelta(0) and seconds else ""
    if seconds < 60:
        return f"{sign}{seconds}秒"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(f"{days}天")
    if hours:
        parts.append(f"{hours}小时")
    if minutes:
        parts.append(f"{minutes}分钟")
    return sign + "".join(parts)
