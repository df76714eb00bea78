"""Typed values to JSON and back, and to the Chinese text shown on cards and in summaries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.domain.directory import Directory
from bot.forms.answers import is_empty
from bot.forms.definition import KIND_NAMES, FieldDefinition, FormDefinition
from bot.forms.engine import compute

EMPTY_DISPLAY = "未填写"
_MEASURE = {"image": "张", "video": "个", "voice": "条", "file": "个"}


def dump_value(value: Any) -> Any:
    """One typed value as JSON-safe data: ISO dates, Decimal as text, durations as seconds."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): dump_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [dump_value(v) for v in value]
    return str(value)


def dump_values(form: FormDefinition, values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe copy of typed values (keys as given)."""
    return {key: dump_value(value) for key, value in values.items()}


def _load(field: FieldDefinition, value: Any) -> Any:
    if value is None:
        return None
    try:
        if field.type in ("number", "money") and isinstance(value, str | int | float):
            return Decimal(str(value))
        if field.type == "datetime" and isinstance(value, str):
            return datetime.fromisoformat(value)
        if field.type == "date" and isinstance(value, str):
            return date.fromisoformat(value[:10])
    except (ValueError, InvalidOperation):
        return value
    return value


def load_values(form: FormDefinition, data: Mapping[str, Any]) -> dict[str, Any]:
    """Typed values from dump_values output; computed fields recomputed, unknown keys kept."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        field = form.field(key)
        if field is None:
            out[key] = value
        elif field.type != "computed":
            out[field.key] = _load(field, value)
    if any(f.type == "computed" for f in form.fields):
        out = compute(form, out)
    return out


def plain_number(value: Decimal | int | float) -> str:
    """12, 12.5, -0.25: no exponent, no trailing zeros."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "0") else text
    return format(value, "g") if isinstance(value, float) else str(value)


def duration_text(value: timedelta) -> str:
    """2天3小时, 45分钟, 不到1分钟."""
    minutes = int(abs(value.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "天"), (hours, "小时"), (minutes, "分钟")) if n]
    text = "".join(parts) or "不到1分钟"
    return f"-{text}" if value < timedelta(0) and parts else text


def attachments_text(value: Any) -> str:
    """图片 2 张、视频 1 个."""
    refs = value if isinstance(value, list | tuple) else [value]
    kinds = Counter(ref.get("kind", "file") if isinstance(ref, Mapping) else "file" for ref in refs)
    return "、".join(
        f"{KIND_NAMES.get(kind, '文件')} {count} {_MEASURE.get(kind, '个')}"
        for kind, count in kinds.items()
    )


def location_text(value: Any) -> str:
    if not isinstance(value, Mapping):
        return str(value)
    label = value.get("label") or ""
    if label:
        return str(label)
    lat, lng = value.get("lat"), value.get("lng")
    if isinstance(lat, int | float) and isinstance(lng, int | float):
        return f"{lat:.6f}, {lng:.6f}"
    return EMPTY_DISPLAY


def generic_text(value: Any) -> str:
    """Any value, by its Python type (computed fields have no declared type)."""
    if is_empty(value):
        return EMPTY_DISPLAY
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal | int | float):
        return plain_number(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return duration_text(value)
    if isinstance(value, list | tuple):
        return "、".join(generic_text(v) for v in value)
    return str(value)


def display_value(field: FieldDefinition, value: Any, *, directory: Directory | None = None) -> str:
    """A value as shown to people: 是/否, ★★★★☆, 2026-11-23 14:05, ¥1,200.00, 图片 2 张."""
    if is_empty(value):
        return EMPTY_DISPLAY
    kind = field.type
    if kind == "money" and isinstance(value, Decimal | int | float):
        return f"¥{Decimal(str(value)):,.2f}"
    if kind == "rating" and isinstance(value, int) and 1 <= value <= 5:
        return "★" * value + "☆" * (5 - value)
    if kind in ("image", "file"):
        return attachments_text(value)
    if kind == "location":
        return location_text(value)
    if kind == "person" and directory is not None:
        return directory.name_of(str(value))
    if kind == "department" and directory is not None:
        return directory.department_name(str(value))
    return generic_text(value)
