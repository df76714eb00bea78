"""Text from callers that no database can store: NUL characters and lone surrogates.

PostgreSQL refuses U+0000 in text and JSONB, and no UTF-8 encoder takes a lone surrogate
("\\ud800" is valid JSON). The API refuses both with a field error instead of a server error.
"""

from __future__ import annotations

import re
from typing import Any

_BAD = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored, or None."""
    found = _BAD.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "text must not contain NUL characters"
    return "text must be valid Unicode (no lone surrogates)"


def check_text(value: str) -> str:
    """A pydantic validator: the value, or ValueError saying what is wrong."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def json_problems(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, message) for every string, key included, that cannot be stored."""
    out: list[tuple[str, str]] = []
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            out.append((path or "(body)", problem))
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            problem = text_problem(str(key))
            if problem:
                out.append((path or "(body)", f"a key {problem.removeprefix('text ')}"))
                continue
            out.extend(json_problems(item, where))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(json_problems(item, f"{path}[{index}]"))
    return out
