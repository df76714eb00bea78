"""Choosing among options and directory entries: by number, by exact name, or by a unique part."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.domain.directory import Directory
from bot.forms.scalars import Invalid, bare, small_number

_ORDINAL = re.compile(r"第?\s*([0-9一二两三四五六七八九十]+)\s*(?:个|项|号|种|条)?")
# "和" separates numbers only ("1和3"): inside option names it is part of the name.
_LIST_SEPARATORS = re.compile(r"\s*[,，、;；/]\s*|(?<=\d)\s*和\s*(?=\d)|\s+")


def _key(text: str) -> str:
    return bare(text).casefold()


def pick_option(raw: Any, options: Sequence[str]) -> str:
    """The option an answer names: exact text, then its number (1-based), then a unique part."""
    numbered = f"请回复序号（1-{len(options)}）或选项名称" if options else "暂无可选项"
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not bare(raw):
        raise Invalid(f"没有这个选项，{numbered}")
    wanted = _key(raw)
    for option in options:
        if _key(option) == wanted:
            return option
    ordinal = _ORDINAL.fullmatch(wanted)
    if ordinal:
        index = small_number(ordinal.group(1))
        if index is not None and 1 <= index <= len(options):
            return options[index - 1]
        raise Invalid(f"没有第{ordinal.group(1)}项，{numbered}")
    # "我选产品质量" names an option inside a sentence; "质量" is part of one option.
    inside = [o for o in options if _key(o) and _key(o) in wanted]
    if len(inside) == 1:
        return inside[0]
    partial = [o for o in options if wanted in _key(o)]
    if len(partial) == 1:
        return partial[0]
    if len(partial) > 1 or len(inside) > 1:
        raise Invalid(f"有多个选项符合“{bare(raw)}”，请回复序号")
    raise Invalid(f"没有“{bare(raw)}”这个选项，{numbered}")


def pick_options(raw: Any, options: Sequence[str]) -> list[str]:
    """Several options, in the form's order: a list, or text like "1,3" or "产品质量、物流问题"."""
    if isinstance(raw, str):
        text = bare(raw)
        exact = any(_key(o) == text.casefold() for o in options)
        parts = [text] if exact else [p for p in _LIST_SEPARATORS.split(text) if p]
    elif isinstance(raw, list | tuple):
        parts = list(raw)
    else:
        parts = [raw]
    chosen: set[str] = set()
    for part in parts:
        try:
            chosen.add(pick_option(part, options))
        except Invalid as exc:
            raise Invalid(f"{exc.message}，多个请用逗号分隔") from None
    return [o for o in options if o in chosen]


def pick_person(raw: Any, directory: Directory) -> str:
    """A person id from their id, their name, or their mobile number."""
    if not isinstance(raw, str) or not bare(raw):
        raise Invalid("请输入姓名或工号")
    wanted = bare(raw)
    if wanted in directory.people:
        return wanted
    lowered = wanted.casefold()
    by_id = [p.id for p in directory.people.values() if p.id.casefold() == lowered]
    by_name = [p.id for p in directory.people.values() if p.name == wanted]
    by_mobile = [p.id for p in directory.people.values() if p.mobile and p.mobile == wanted]
    for found in (by_id, by_name, by_mobile):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise Invalid(f"有多位“{wanted}”，请输入工号")
    raise Invalid(f"没有找到“{wanted}”，请输入姓名或工号")


def pick_department(raw: Any, directory: Directory) -> str:
    """A department id from its id, its name, or a unique part of its name ("物流" -> 物流部)."""
    if not isinstance(raw, str) or not bare(raw):
        raise Invalid("请输入部门名称")
    wanted = bare(raw)
    if wanted in directory.departments:
        return wanted
    lowered = wanted.casefold()
    for finder in (
        lambda d: d.id.casefold() == lowered,
        lambda d: d.name == wanted,
        lambda d: wanted in d.name,
    ):
        found = [d.id for d in directory.departments.values() if finder(d)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise Invalid(f"有多个部门符合“{wanted}”，请输入完整的部门名称")
    raise Invalid(f"没有找到“{wanted}”部门，请输入部门名称")
