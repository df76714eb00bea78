"""The template-message fallback: a message that missed the 48 h window, as template data fields.

The channel config maps each data key of the template to a pattern over a few placeholders:
  {text}   the whole message text
  {title}  its first non-empty line
  {body}   the lines after the first (the whole text when it has only one line)
  {time}   now, "2026-11-23 14:05" in the channel's timezone;  {date}  "2026-11-23"
e.g. {first: "{title}", keyword1: "{body}", keyword2: "{time}", remark: "回复消息可继续沟通"} for
a classic template, or {thing1: "{title}", time2: "{time}"} for a newer one. Values of the newer
field types are cut to the platform's length limits (thing 20 characters, and so on).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

# Length limits of the newer template field types, by key prefix ("thing3" -> 20 characters).
FIELD_LIMITS = {"thing": 20, "name": 10, "phrase": 5, "character_string": 32, "car_number": 8}
_TYPED_KEY = re.compile(r"^([a-z_]+?)(\d+)$")


def fallback_values(text: str, now: datetime, timezone: ZoneInfo) -> dict[str, str]:
    """The placeholder values for one message."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    title = lines[0] if lines else ""
    body = "\n".join(lines[1:]) if len(lines) > 1 else title
    local = now.astimezone(timezone)
    return {
        "text": text.strip(),
        "title": title,
        "body": body,
        "time": local.strftime("%Y-%m-%d %H:%M"),
        "date": local.strftime("%Y-%m-%d"),
    }


def template_data(
    fields: Mapping[str, str], text: str, now: datetime, timezone: ZoneInfo
) -> dict[str, dict[str, str]]:
    """Template `data` for `text`: {key: {"value": ...}}, empty values left out."""
    values = fallback_values(text, now, timezone)
    data: dict[str, dict[str, str]] = {}
    for key, pattern in fields.items():
        value = fit_field(key, pattern.format_map(values))
        if value:
            data[key] = {"value": value}
    return data


def fit_field(key: str, value: str) -> str:
    """`value` cut to the length limit its key's field type has, if any."""
    match = _TYPED_KEY.match(key)
    limit = FIELD_LIMITS.get(match.group(1)) if match else None
    if limit is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…"
