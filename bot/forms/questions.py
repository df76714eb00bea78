"""The question the chat asks for a field: what to send, with a hint of the expected shape."""

from __future__ import annotations

from bot.forms.definition import FieldDefinition
from bot.forms.media import kinds_text

_HINTS = {
    "phone": "11位手机号",
    "email": "例如 name@example.com",
    "url": "例如 https://example.com",
    "date": "例如 2026-11-23，也可回复“今天”“昨天”",
    "datetime": "例如 2026-11-23 14:05",
    "number": "请输入数字",
    "money": "单位：元",
    "boolean": "回复“是”或“否”",
    "rating": "1-5分，5分最高",
    "person": "姓名或工号",
    "department": "部门名称",
}


def numbered(options: list[str]) -> str:
    """ "1. 产品质量\n2. 服务态度"."""
    return "\n".join(f"{index}. {option}" for index, option in enumerate(options, start=1))


def _first_line(field: FieldDefinition) -> str:
    label = field.label
    kind = field.type
    if kind == "select":
        return f"请选择{label}：\n{numbered(field.options or [])}\n（回复序号或名称）"
    if kind == "multiselect":
        options = numbered(field.options or [])
        return f"请选择{label}（可多选）：\n{options}\n（回复序号或名称，多个用逗号分隔）"
    if kind in ("image", "file"):
        what = kinds_text(field.accepted_kinds())
        more = "，可发送多个，发完请回复“完成”" if field.multiple else ""
        return f"请发送{label}（{what}{more}）"
    if kind == "location":
        return f"请发送{label}（可发送位置，或直接输入地址）"
    if kind == "rating":
        return f"请为{label}打分（{_HINTS['rating']}）"
    if kind == "boolean":
        return f"{label}？（{_HINTS['boolean']}）"
    hint = f"例如 {field.placeholder}" if field.placeholder else _HINTS.get(kind)
    if kind == "textarea" and not hint and field.min_length:
        hint = f"至少{field.min_length}个字"
    return f"请输入{label}（{hint}）" if hint else f"请输入{label}"


def question_for(field: FieldDefinition) -> str:
    """The chat question for a field; its help text, if any, on the next line."""
    question = _first_line(field)
    if field.help:
        question = f"{question}\n{field.help}"
    return question
