"""Configured requests: fill {字段} placeholders with machine values, read answers by path.

The brace grammar is the rules' ({{ and }} for literal braces); config load has checked every
placeholder (bot/integrations/checks.py), so a name missing here reads as empty.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from bot.forms import dump_value

_PIECE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def machine_text(value: Any) -> str:
    """A value as another system reads it: ISO dates, plain numbers, true/false, a,b for lists."""
    value = dump_value(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(machine_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def render(template: str, env: Mapping[str, Any], *, encode: bool = False) -> str:
    """Fill placeholders; `encode` percent-encodes each value (for a URL)."""

    def fill(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole in ("{{", "}}"):
            return whole[0]
        text = machine_text(env.get(match.group(1).strip()))
        return quote(text, safe="") if encode else text

    return _PIECE.sub(fill, template)


def placeholders(template: str) -> list[str]:
    return [m.group(1).strip() for m in _PIECE.finditer(template) if m.group(1) is not None]


def render_json(value: Any, env: Mapping[str, Any]) -> Any:
    """A JSON template: a string that is one placeholder keeps the value's JSON type."""
    if isinstance(value, str):
        names = placeholders(value)
        if len(names) == 1 and value.strip() == "{" + names[0] + "}":
            return dump_value(env.get(names[0]))
        return render(value, env)
    if isinstance(value, dict):
        return {k: render_json(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [render_json(v, env) for v in value]
    return value


def extract(document: Any, path: str) -> Any:
    """The value at a dotted path ("data.items.0.name"); None where the path leads nowhere."""
    current = document
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def mapped(document: Any, mapping: Mapping[str, str]) -> dict[str, Any]:
    """Our name -> the answer's value at its path, for the paths that lead somewhere."""
    out: dict[str, Any] = {}
    for name, path in mapping.items():
        value = extract(document, path)
        if value is not None and value != "":
            out[name] = value
    return out
