"""Read YAML keeping each value's line, so errors can say `file:line: path: message`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.errors import Path

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class YamlDocument:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[tuple[int | None, Path, str]] = field(default_factory=list)

    def line_of(self, path: Path) -> int | None:
        """Line of the deepest part of `path` that exists in the file (1-based)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document; syntax errors and duplicate keys come back as problems."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(data={})
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(p for p in (exc.context, exc.problem) if p)
        return YamlDocument(data=None, problems=[(line, (), f"YAML syntax error: {message}")])
    finally:
        loader.dispose()
    doc = YamlDocument(data=data)
    _walk(node, (), doc)
    return doc


def _walk(node: yaml.Node, path: Path, doc: YamlDocument) -> None:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                doc.problems.append((key_node.start_mark.line + 1, path, f"duplicate key '{key}'"))
            seen.add(key)
            child = (*path, key)
            doc.lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, doc)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), doc)


def substitute_env(value: Any, environ: os._Environ[str] | dict[str, str] | None = None) -> Any:
    """Replace ${VAR} and ${VAR:-default} in strings; a lone unset ${VAR} becomes None."""
    env = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {k: substitute_env(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, env) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _ENV_REF.fullmatch(value.strip())
    if whole:
        name, default = whole.groups()
        found = env.get(name) or default
        return found if found else None
    return _ENV_REF.sub(lambda m: env.get(m.group(1)) or m.group(2) or "", value)
