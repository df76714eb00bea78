"""When some entries fail their shape checks, still cross-check the entries that passed.

Without this, a file with a misspelt field type and an unknown role in a flow shows the first
problem, and the second only after the first is fixed: one round trip per mistake. The entries
that failed are set aside (the rest keep their original index in every message), and problems
that only repeat a set-aside entry's absence ("unknown form 'complaint'") are not shown.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bot.config.model import AppConfig
from bot.errors import ConfigProblem

# Sections holding a list of entries, and the key that names an entry in other sections.
LIST_SECTIONS = {
    "people": "id",
    "departments": "id",
    "channels": "name",
    "groups": "id",
    "rules": "name",
    "digests": "name",
    "webhooks": "name",
    "targets": "name",
}
MAP_SECTIONS = ("forms", "flows")


@dataclass
class SetAside:
    """What failed its shape check: whole sections, list entries by index, map entries by key."""

    sections: set[str] = field(default_factory=set)
    indexes: dict[str, set[int]] = field(default_factory=dict)
    keys: dict[str, set[str]] = field(default_factory=dict)

    def add(self, loc: Sequence[str | int]) -> None:
        section = loc[0] if loc else None
        if not isinstance(section, str):
            return
        if section in LIST_SECTIONS and len(loc) > 1 and isinstance(loc[1], int):
            self.indexes.setdefault(section, set()).add(loc[1])
        elif section in MAP_SECTIONS and len(loc) > 1 and isinstance(loc[1], str):
            self.keys.setdefault(section, set()).add(loc[1])
        else:
            self.sections.add(section)


def problems_beside_shape_errors(
    data: Mapping[str, Any], locs: Sequence[Sequence[str | int]]
) -> list[ConfigProblem]:
    """Cross-check problems of the entries that parsed, given the failed entries' `locs`."""
    from bot.config.loader import build_directory, cross_check

    aside = SetAside()
    for loc in locs:
        aside.add(loc)
    kept, index_maps, names = _without(data, aside)
    try:
        config = AppConfig.model_validate(kept)
    except ValidationError:
        return []  # what remains still does not parse: the shape errors say it all
    raw_forms = {key: _raw_field_names(data["forms"][key]) for key in aside.keys.get("forms", ())}
    problems, _rules = cross_check(config, build_directory(config), raw_forms=raw_forms)
    out = []
    for problem in problems:
        if any(f"'{name}'" in problem.message for name in names):
            continue
        if problem.path[:1] == ("flows",) and not config.flows and "flows" in aside.keys:
            continue  # "at least one flow is needed": there is one, it failed its shape check
        out.append(ConfigProblem(_original_path(problem.path, index_maps), problem.message))
    return out


def _without(
    data: Mapping[str, Any], aside: SetAside
) -> tuple[dict[str, Any], dict[str, list[int]], set[str]]:
    """`data` without the set-aside entries; each list's kept original indexes; their names."""
    kept = {k: copy.deepcopy(v) for k, v in data.items() if k not in aside.sections}
    index_maps: dict[str, list[int]] = {}
    names: set[str] = set()
    for section, bad in aside.indexes.items():
        entries = kept.get(section)
        if not isinstance(entries, list):
            continue
        index_maps[section] = [i for i in range(len(entries)) if i not in bad]
        for i in bad:
            if i < len(entries) and isinstance(entries[i], dict):
                name = entries[i].get(LIST_SECTIONS[section])
                if isinstance(name, str):
                    names.add(name)
        kept[section] = [entries[i] for i in index_maps[section]]
    for section, bad in aside.keys.items():
        entries = kept.get(section)
        if isinstance(entries, dict):
            kept[section] = {k: v for k, v in entries.items() if k not in bad}
            names.update(bad)
    return kept, index_maps, names


def _original_path(path: tuple[str | int, ...], index_maps: Mapping[str, list[int]]) -> tuple:
    if len(path) > 1 and isinstance(path[1], int) and path[0] in index_maps:
        kept = index_maps[path[0]]  # type: ignore[index]
        if path[1] < len(kept):
            return (path[0], kept[path[1]], *path[2:])
    return path


def _raw_field_names(form: Any) -> dict[str, str]:
    """Field keys and labels of a form that failed its shape check, read as plainly as possible."""
    names: dict[str, str] = {}
    fields = form.get("fields") if isinstance(form, dict) else None
    for entry in fields if isinstance(fields, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            if isinstance(entry.get("label"), str):
                names.setdefault(entry["label"], entry["key"])
            names[entry["key"]] = entry["key"]
    return names
