"""Load-time check of a form definition: every problem with its path and an English message."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.domain.directory import Directory
from bot.errors import ConfigProblem, ExpressionError, Path
from bot.expr import parse
from bot.forms.answers import parse_field
from bot.forms.definition import (
    ATTACHMENT_KINDS,
    CHOICE_TYPES,
    MEDIA_TYPES,
    MOMENT_TYPES,
    NUMERIC_TYPES,
    PATTERN_TYPES,
    RESERVED_NAMES,
    TEXT_TYPES,
    FieldDefinition,
    FormDefinition,
    is_now_default,
    profile_default,
)
from bot.forms.engine import dependencies
from bot.forms.results import FormContext

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Which types each type-specific option applies to, for "'options' does not apply" messages.
_APPLIES: dict[str, tuple[frozenset[str], str]] = {
    "options": (CHOICE_TYPES, "select and multiselect fields"),
    "multiple": (MEDIA_TYPES, "image and file fields"),
    "accept": (frozenset({"file"}), "file fields"),
    "min": (NUMERIC_TYPES, "number and money fields"),
    "max": (NUMERIC_TYPES, "number and money fields"),
    "min_length": (TEXT_TYPES, "text and textarea fields"),
    "max_length": (TEXT_TYPES, "text and textarea fields"),
    "pattern": (PATTERN_TYPES, "text and order_number fields"),
    "pattern_message": (PATTERN_TYPES, "text and order_number fields"),
    "formula": (frozenset({"computed"}), "computed fields"),
}


class _Checker:
    def __init__(self, form: FormDefinition, directory: Directory):
        self.form = form
        self.directory = directory
        self.problems: list[ConfigProblem] = []
        self.known = {f.key for f in form.fields} | {f.label for f in form.fields}

    def add(self, path: Path, message: str) -> None:
        self.problems.append(ConfigProblem(path, message))

    def run(self) -> list[ConfigProblem]:
        if not self.form.fields:
            self.add(("fields",), "a form needs at least one field")
        self.names()
        for index, field in enumerate(self.form.fields):
            at: Callable[..., Path] = lambda *rest, i=index: ("fields", i, *rest)  # noqa: E731
            self.applicable(field, at)
            self.options(field, at)
            self.limits(field, at)
            self.pattern(field, at)
            self.expressions(field, at)
            self.default(field, at)
            self.asking(field, at)
        self.cycles()
        return self.problems

    def names(self) -> None:
        keys: dict[str, int] = {}
        labels: dict[str, int] = {}
        for index, field in enumerate(self.form.fields):
            if not _KEY.fullmatch(field.key):
                self.add(
                    ("fields", index, "key"),
                    f"field key '{field.key}' must start with a letter and hold only ASCII "
                    "letters, digits and '_' (the label is what people read)",
                )
            for name, seen, what in ((field.key, keys, "key"), (field.label, labels, "label")):
                if name in RESERVED_NAMES:
                    self.add(
                        ("fields", index, what),
                        f"field {what} '{name}' is reserved: the service provides '{name}' "
                        "to conditions and templates; choose another name",
                    )
                if name in seen:
                    self.add(
                        ("fields", index, what),
                        f"duplicate field {what} '{name}' (also used by field {seen[name] + 1})",
                    )
                else:
                    seen[name] = index
        for index, field in enumerate(self.form.fields):
            other = keys.get(field.label)
            if other is not None and other != index:
                self.add(
                    ("fields", index, "label"),
                    f"label '{field.label}' is the key of field {other + 1}; "
                    "a name must mean one field",
                )

    def applicable(self, field: FieldDefinition, at: Callable[..., Path]) -> None:
        for option, (types, where) in _APPLIES.items():
            value = getattr(field, option)
            if value not in (None, False) and field.type not in types:
                self.add(at(option), f"'{option}' applies to {where}, not to a {field.type} field")

    def options(self, field: FieldDefinition, at: Callable[..., Path]) -> None:
        if field.type in CHOICE_TYPES:
            if not field.options:
                self.add(at("options"), f"a {field.type} field needs a list of options")
            seen: set[str] = set()
            for index, option in enumerate(field.options or []):
                if not option.strip():
                    self.add(at("options", index), "an option must not be empty")
                elif option in seen:
                    self.add(at("options", index), f"duplicate option '{option}'")
                seen.add(option)
        if field.type == "file" and field.accept is not None:
            if not field.accept:
                self.add(at("accept"), "'accept' must list at least one kind")
            for index, kind in enumerate(field.accept):
                if kind not in ATTACHMENT_KINDS:
                    self.add(
                        at("accept", index),
                        f"unknown attachment kind '{kind}'; expected one of "
                        + ", ".join(ATTACHMENT_KINDS),
                    )

    def limits(self, field: FieldDefinition, at: Callable[..., Path]) -> None:
        if field.min is not None and field.max is not None and field.min > field.max:
            self.add(at("min"), f"min {field.min} is greater than max {field.max}")
        low, high = field.min_length, field.max_length
        if low is not None and high is not None and low > high:
            self.add(at("min_length"), f"min_length {low} is greater than max_length {high}")

    def pattern(self, field: FieldDefinition, at: Callable[..., Path]) -> None:
        if field.pattern is not None:
            try:
                re.compile(field.pattern)
            except re.error as exc:
                self.add(at("pattern"), f"invalid regular expression '{field.pattern}': {exc}")
        if field.pattern_message and not field.pattern and field.type == "text":
            self.add(at("pattern_message"), "'pattern_message' needs a 'pattern'")

    def expressions(self, field: FieldDefinition, at: Callable[..., Path]) -> None:
        if field.type == "computed" and not (field.formula or "").strip():
            self.add(at("formula"), "a computed field needs a formula")
        for option in ("visible_if", "formula"):
            source = getattr(field, option)
            if source is None:
                continue
            try:
                expression = parse(source)
            except ExpressionError as exc:
                self.add(at(option), f"{exc.message} at position {exc.position + 1} in '{source}'")
                continue
            for error in expression.unknown_names(self.known):
                self.add(at(option), f"{error.message} in '{source}'")
            itself = field.key in expression.names or field.label in expression.names
            if option == "visible_if" and itself:
                self.add(at(option), f"{option} of field '{field.key}' refers to the field itself")

    def default(self, field: FieldDefinition, at: Callable[..., Path]) -> None:
        default = field.default
        if default is None:
            return
        if field.type == "computed":
            self.add(
                at("default"), "a computed field takes its value from its formula, not a default"
            )
            return
        if isinstance(default, dict):
            if profile_default(field) is None or not default["profile"].strip():
                self.add(
                    at("default"),
                    f"default {default!r} is not understood; write a constant, 'now' "
                    "or {profile: <key>} (e.g. {profile: phone})",
                )
            return
        if is_now_default(field):
            if field.type not in MOMENT_TYPES:
                self.add(
                    at("default"),
                    f"'now' is a default for date and datetime fields, not {field.type}",
                )
            return
        ctx = FormContext(
            now=datetime(2000, 1, 1, tzinfo=UTC),
            timezone=ZoneInfo("UTC"),
            directory=self.directory,
        )
        value, problem = parse_field(field, default, ctx)
        if problem is not None:
            if field.type in CHOICE_TYPES:
                options = ", ".join(f"'{o}'" for o in field.options or [])
                message = f"default '{default}' is not one of the options {options}"
            else:
                message = f"default '{default}' is not a valid {field.type} ({problem.message})"
            self.add(at("default"), message)
        elif field.type in CHOICE_TYPES and _fuzzy(default, value):
            self.add(
                at("default"), f"default '{default}' is not one of the options; write '{value}'"
            )

    def asking(self, field: FieldDefinition, at: Callable[..., Path]) -> None:
        if field.type == "computed" and field.required:
            self.add(at("required"), "a computed field is never answered; remove 'required'")
        if field.required and not field.ask and field.default is None and field.type != "computed":
            self.add(
                at("ask"),
                f"required field '{field.key}' is never asked (ask: false) and has no default, "
                "so no customer could submit the form",
            )

    def cycles(self) -> None:
        computed = {f.key: i for i, f in enumerate(self.form.fields) if f.type == "computed"}
        graph = {
            key: [d for d in dependencies(self.form, self.form.fields[i]) if d in computed]
            for key, i in computed.items()
        }
        reported: set[str] = set()
        for start in graph:
            cycle = _find_cycle(graph, start)
            if cycle and not reported.intersection(cycle):
                reported.update(cycle)
                self.add(
                    ("fields", computed[start], "formula"),
                    "computed fields depend on each other in a cycle: " + " -> ".join(cycle),
                )


def _fuzzy(default: object, chosen: object) -> bool:
    """A select default must be written as the option itself, not a number or a part of it."""
    if isinstance(default, list):
        return (
            sorted(str(d) for d in default) != sorted(chosen) if isinstance(chosen, list) else True
        )
    if isinstance(chosen, list):
        return chosen != [default]
    return default != chosen


def _find_cycle(graph: dict[str, list[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start through `graph`, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, []):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def check_form(form: FormDefinition, *, directory: Directory) -> list[ConfigProblem]:
    """Every problem of a form definition, paths relative to the form ("fields", 3, "options")."""
    return _Checker(form, directory).run()
