"""One answer to one field: chat text or API value in; typed value or a Chinese problem out."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from bot.forms.choices import pick_department, pick_option, pick_options, pick_person
from bot.forms.definition import FieldDefinition, FormDefinition
from bot.forms.media import attachment_refs, location_value
from bot.forms.moments import read_date, read_datetime
from bot.forms.results import FieldProblem, FormContext
from bot.forms.scalars import (
    Invalid,
    normalize,
    read_boolean,
    read_decimal,
    read_email,
    read_money,
    read_phone,
    read_rating,
    read_url,
)

# Order numbers when the form gives no pattern: letters, digits and dashes, 4-40 long.
DEFAULT_ORDER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{3,39}$"


def is_empty(value: Any) -> bool:
    """No answer: None, blank text, an empty list or mapping."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict | set | frozenset):
        return not value
    return False


def required_message(field: FieldDefinition) -> str:
    """What to say when a required field has no answer."""
    if field.type in ("select", "multiselect", "boolean"):
        return f"请选择{field.label}"
    if field.type == "rating":
        return f"请为{field.label}打分（1-5分）"
    if field.type in ("image", "file"):
        return f"请上传{field.label}"
    if field.type == "location":
        return f"请发送{field.label}"
    return f"请填写{field.label}"


@lru_cache(maxsize=512)
def compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    """The compiled regex, or None when it does not compile (check_form reports that)."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _matches(pattern: str, text: str) -> bool:
    regex = compiled_pattern(pattern)
    return regex is None or regex.search(text) is not None


def _as_text(raw: Any) -> str:
    if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
        return str(raw)
    if not isinstance(raw, str):
        raise Invalid("请输入文字")
    return raw


def _read_text(field: FieldDefinition, raw: Any, ctx: FormContext) -> str:
    text = _as_text(raw).strip()
    if field.type == "text":
        text = re.sub(r"\s*\n\s*", " ", text)
    if field.max_length is not None and len(text) > field.max_length:
        raise Invalid(f"{field.label}最多{field.max_length}个字，请精简一下")
    if field.min_length is not None and len(text) < field.min_length:
        raise Invalid(f"{field.label}至少需要{field.min_length}个字，请再详细说明一下")
    if field.pattern:
        text = _fit_pattern(field, field.pattern, text)
    return text


def _fit_pattern(field: FieldDefinition, pattern: str, text: str) -> str:
    """`text`, or its ASCII / upper-case form when only that fits (ｃ１２３ -> C123)."""
    for candidate in (text, normalize(text), normalize(text).upper()):
        if _matches(pattern, candidate):
            return candidate
    raise Invalid(field.pattern_message or f"{field.label}格式不正确，请检查后重新输入")


def _in_range(field: FieldDefinition, value: Decimal, unit: str = "") -> Decimal:
    if field.min is not None and value < field.min:
        raise Invalid(f"{field.label}不能小于{field.min}{unit}")
    if field.max is not None and value > field.max:
        raise Invalid(f"{field.label}不能大于{field.max}{unit}")
    return value


def _read_number(field: FieldDefinition, raw: Any, ctx: FormContext) -> Decimal:
    return _in_range(field, read_decimal(raw, "请输入数字，例如 12 或 12.5"))


def _read_money(field: FieldDefinition, raw: Any, ctx: FormContext) -> Decimal:
    return _in_range(field, read_money(raw), "元")


def _read_order_number(field: FieldDefinition, raw: Any, ctx: FormContext) -> str:
    text = re.sub(r"\s+", "", normalize(_as_text(raw)))
    return _fit_pattern(field, field.pattern or DEFAULT_ORDER_PATTERN, text)


def _computed(field: FieldDefinition, raw: Any, ctx: FormContext) -> Any:
    raise Invalid("该项由系统计算，无需填写")


Reader = Callable[[FieldDefinition, Any, FormContext], Any]

READERS: Mapping[str, Reader] = {
    "text": _read_text,
    "textarea": _read_text,
    "number": _read_number,
    "money": _read_money,
    "phone": lambda f, raw, ctx: read_phone(raw),
    "email": lambda f, raw, ctx: read_email(raw),
    "url": lambda f, raw, ctx: read_url(raw),
    "date": lambda f, raw, ctx: read_date(raw, ctx.timezone, ctx.now),
    "datetime": lambda f, raw, ctx: read_datetime(raw, ctx.timezone, ctx.now),
    "select": lambda f, raw, ctx: pick_option(raw, f.options or []),
    "multiselect": lambda f, raw, ctx: pick_options(raw, f.options or []),
    "boolean": lambda f, raw, ctx: read_boolean(raw),
    "rating": lambda f, raw, ctx: read_rating(raw),
    "image": lambda f, raw, ctx: attachment_refs(raw, f.accepted_kinds(), multiple=f.multiple),
    "file": lambda f, raw, ctx: attachment_refs(raw, f.accepted_kinds(), multiple=f.multiple),
    "location": lambda f, raw, ctx: location_value(raw),
    "person": lambda f, raw, ctx: pick_person(raw, ctx.directory),
    "department": lambda f, raw, ctx: pick_department(raw, ctx.directory),
    "order_number": _read_order_number,
    "computed": _computed,
}


def read_field(field: FieldDefinition, raw: Any, ctx: FormContext) -> Any:
    """The typed value of a non-empty answer; raises Invalid with the customer-facing reason."""
    return READERS[field.type](field, raw, ctx)


def parse_field(
    field: FieldDefinition, raw: Any, ctx: FormContext
) -> tuple[Any, FieldProblem | None]:
    """(typed value, None), or (None, problem); an empty answer is None without a problem."""
    if is_empty(raw):
        return None, None
    try:
        return read_field(field, raw, ctx), None
    except Invalid as exc:
        return None, FieldProblem(field.key, field.label, exc.message)


def parse_answer(
    form: FormDefinition, key: str, raw: Any, ctx: FormContext
) -> tuple[Any, FieldProblem | None]:
    """One field (by key or label) from chat text or API JSON to its typed value, or a problem."""
    field = form.require(key)
    if is_empty(raw):
        if field.required:
            return None, FieldProblem(field.key, field.label, required_message(field))
        return None, None
    return parse_field(field, raw, ctx)
