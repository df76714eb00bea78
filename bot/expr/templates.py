"""Message templates: "新投诉 {number}：{投诉类型}" with values written for people."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from bot.errors import ExpressionError
from bot.expr.durations import duration_in_chinese
from bot.expr.expression import unknown_field_message
from bot.expr.values import is_list, to_decimal

# A template piece: literal text (name None) or a placeholder (name, position of the name).
_Piece = tuple[str, str | None, int]


def _pieces(template: str) -> list[_Piece]:
    """Split a template; '{{' and '}}' stand for literal braces. ExpressionError when malformed."""
    pieces: list[_Piece] = []
    text: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        ch = template[i]
        if ch in "{}" and template[i : i + 2] in ("{{", "}}"):
            text.append(ch)
            i += 2
            continue
        if ch == "}":
            raise ExpressionError("single '}' (write '}}' for a literal brace)", template, i)
        if ch == "{":
            end = template.find("}", i + 1)
            nested = template.find("{", i + 1)
            if end < 0 or 0 <= nested < end:
                raise ExpressionError(
                    "unclosed '{' (close the placeholder with '}', or write '{{' for a brace)",
                    template,
                    i,
                )
            raw = template[i + 1 : end]
            name = raw.strip()
            if not name:
                raise ExpressionError(
                    "empty placeholder '{}': put a field name inside", template, i
                )
            if text:
                pieces.append(("".join(text), None, i))
                text = []
            pieces.append(("", name, i + 1 + (len(raw) - len(raw.lstrip()))))
            i = end + 1
            continue
        text.append(ch)
        i += 1
    if text:
        pieces.append(("".join(text), None, n))
    return pieces


def template_names(template: str) -> list[tuple[str, int]]:
    """Placeholders and their 0-based positions; raises ExpressionError on an unclosed brace."""
    return [(name, pos) for _, name, pos in _pieces(template) if name is not None]


def check_template(template: str, known: Collection[str]) -> list[ExpressionError]:
    """Load-time check: malformed braces or unknown placeholders, as errors (never raises)."""
    try:
        names = template_names(template)
    except ExpressionError as error:
        return [error]
    return [
        ExpressionError(unknown_field_message(name, known), template, pos)
        for name, pos in names
        if name not in known
    ]


def render_template(
    template: str, env: Mapping[str, Any], *, timezone: tzinfo | None = None
) -> str:
    """Fill the placeholders from `env`; ExpressionError for a name missing from `env`.

    `timezone`, when given, converts aware datetimes before they are written.
    """
    out: list[str] = []
    for text, name, pos in _pieces(template):
        if name is None:
            out.append(text)
            continue
        if name not in env:
            raise ExpressionError(f"unknown field '{name}'", template, pos)
        out.append(format_value(env[name], timezone=timezone))
    return "".join(out)


def format_value(value: Any, *, timezone: tzinfo | None = None) -> str:
    """A value as people read it: 2026-11-23, 2026-11-23 14:05, 12.5, 1天2小时, 是/否, ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        if timezone is not None and value.tzinfo is not None:
            value = value.astimezone(timezone)
        return f"{value.date().isoformat()} {value.hour:02d}:{value.minute:02d}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return duration_in_chinese(value)
    if isinstance(value, Decimal | float):
        return _plain_number(value)
    if isinstance(value, str):
        return value
    if is_list(value):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return "、".join(format_value(item, timezone=timezone) for item in items)
    return str(value)


def _plain_number(value: Decimal | float) -> str:
    """No trailing zeros, never exponent notation: 12.50 -> 12.5, 1E+2 -> 100."""
    number = to_decimal(value)
    if not number.is_finite():
        return str(value)
    text = format(number, "f")  # exact: normalize() would round to the context precision
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
