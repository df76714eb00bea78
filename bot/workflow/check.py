"""Load-time checks of a flow definition: every problem, with its path and an English message."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from bot.domain.directory import Directory
from bot.errors import ConfigProblem, ExpressionError, Path
from bot.expr import parse, parse_duration, unknown_field_message
from bot.workflow.context import RESERVED_NAMES
from bot.workflow.definition import (
    COMPLAINT,
    AssigneeRule,
    EndStep,
    ExclusiveStep,
    FlowDefinition,
    ParallelStep,
    TaskStep,
    successors,
)

# Task ids are f"{step}.{activation}" and timer subjects f"{step}:{activation}": no dots or colons.
STEP_ID = re.compile(r"[\w-]+")

_Add = Callable[[Path, str], None]


def check_flow(
    flow: FlowDefinition, *, directory: Directory, form_fields: Mapping[str, str]
) -> list[ConfigProblem]:
    """Every problem in `flow`; `form_fields` maps each field key and label to the key."""
    problems: list[ConfigProblem] = []

    def add(path: Path, message: str) -> None:
        problems.append(ConfigProblem(path, message))

    first_index: dict[str, int] = {}
    for i, step in enumerate(flow.steps):
        if not STEP_ID.fullmatch(step.id):
            add(("steps", i, "id"), f"step id '{step.id}' may only use letters, digits, _ and -")
        if step.id in first_index:
            add(("steps", i, "id"), f"duplicate step id '{step.id}'")
        else:
            first_index[step.id] = i
    if flow.start not in first_index:
        add(("start",), f"unknown step '{flow.start}'")
    elif isinstance(flow.step(flow.start), EndStep):
        add(("start",), f"the flow starts at its end step '{flow.start}'")
    if not any(isinstance(step, EndStep) for step in flow.steps):
        add(("steps",), "the flow has no end step (add a step with kind: end)")

    for i, step in enumerate(flow.steps):
        for target, where in successors(step):
            if target not in first_index:
                add(("steps", i, *where), f"unknown step '{target}'")
        if isinstance(step, TaskStep):
            _check_rule(step.assignee, ("steps", i, "assignee"), directory, add)
            _check_fields(flow, step, i, form_fields, add)
        elif isinstance(step, ParallelStep):
            for j, rule in enumerate(step.assignees):
                _check_rule(rule, ("steps", i, "assignees", j), directory, add)
            _check_fields(flow, step, i, form_fields, add)
        elif isinstance(step, ExclusiveStep):
            _check_branches(step, i, directory, form_fields, add)
        if isinstance(step, TaskStep | ParallelStep):
            _check_durations(step, i, add)
            for j, rule in enumerate(step.supervisors or ()):
                _check_rule(rule, ("steps", i, "supervisors", j), directory, add)
    for j, rule in enumerate(flow.supervisors or ()):
        _check_rule(rule, ("supervisors", j), directory, add)
    _check_graph(flow, first_index, add)
    return problems


def _check_rule(rule: AssigneeRule, path: Path, directory: Directory, add: _Add) -> None:
    value = rule.value
    if rule.kind == "person":
        if value not in directory.people:
            add(path, f"unknown person '{value}'")
    elif rule.kind == "role":
        if value not in directory.roles:
            add(path, f"unknown role '{value}'")
        elif not directory.members_of_role(value):
            add(path, f"nobody holds role '{value}' (give it to someone under people:)")
    elif value != COMPLAINT:
        if value not in directory.departments:
            add(path, f"unknown department '{value}' (or 'complaint' for the complaint's own)")
        elif rule.kind == "department_head" and not directory.head_of(value):
            add(path, f"department '{value}' has no head")
        elif rule.kind == "department" and not directory.members_of_department(value):
            add(path, f"department '{value}' has no members")


def _check_fields(
    flow: FlowDefinition,
    step: TaskStep | ParallelStep,
    i: int,
    form_fields: Mapping[str, str],
    add: _Add,
) -> None:
    lists: list[tuple[str, Sequence[str]]] = []
    if step.read != "*":
        lists.append(("read", step.read))
    if isinstance(step, TaskStep):
        lists += [("write", step.write), ("required", step.required)]
    for key, names in lists:
        for j, name in enumerate(names):
            if name not in form_fields:
                message = unknown_field_message(name, list(form_fields))
                add(("steps", i, key, j), f"{message} in form '{flow.form}'")
    if isinstance(step, TaskStep):
        written = {form_fields.get(name, name) for name in step.write}
        for j, name in enumerate(step.required):
            if name in form_fields and form_fields[name] not in written:
                add(
                    ("steps", i, "required", j),
                    f"required field '{name}' is not in write (a step can only require "
                    "fields it writes)",
                )


def _check_durations(step: TaskStep | ParallelStep, i: int, add: _Add) -> None:
    parsed = {}
    for name in ("time_limit", "warn_before", "escalate_after"):
        text = getattr(step, name)
        if text is None:
            continue
        try:
            value = parse_duration(text)
        except ValueError as exc:
            add(("steps", i, name), f"invalid {name}: {exc}")
            continue
        if not value:
            add(("steps", i, name), f"{name} '{text}' must be longer than zero")
            continue
        parsed[name] = value
    limit, warn, escalate = (parsed.get(n) for n in ("time_limit", "warn_before", "escalate_after"))
    if step.warn_before is not None and step.time_limit is None:
        add(("steps", i, "warn_before"), "warn_before needs a time_limit to count back from")
    elif warn and limit and warn >= limit:
        add(
            ("steps", i, "warn_before"),
            f"warn_before '{step.warn_before}' must be shorter than time_limit '{step.time_limit}'",
        )
    if escalate and limit and escalate <= limit:
        add(
            ("steps", i, "escalate_after"),
            f"escalate_after '{step.escalate_after}' must be longer than time_limit "
            f"'{step.time_limit}' (escalation follows the breach)",
        )


def _check_branches(
    step: ExclusiveStep, i: int, directory: Directory, form_fields: Mapping[str, str], add: _Add
) -> None:
    known = set(form_fields) | RESERVED_NAMES
    else_at = None
    for j, branch in enumerate(step.branches):
        path: Path = ("steps", i, "branches", j)
        if else_at is not None:
            add(path, f"branch {j + 1} comes after the 'else' branch and is never taken")
        if branch.department is not None and branch.department not in directory.departments:
            add((*path, "department"), f"unknown department '{branch.department}'")
        if branch.is_else:
            else_at = j if else_at is None else else_at
            continue
        assert branch.if_ is not None
        try:
            errors = parse(branch.if_).unknown_names(known)
        except ExpressionError as exc:
            errors = [exc]
        for error in errors:
            add((*path, "if"), _expression_message(error))
    if else_at is None:
        add(
            ("steps", i, "branches"),
            f"exclusive step '{step.id}' needs an 'else: true' branch so that one branch is "
            "always taken",
        )


def _expression_message(error: ExpressionError) -> str:
    return f"{error.message} at column {error.position + 1}: {error.source}"


def _check_graph(flow: FlowDefinition, first_index: Mapping[str, int], add: _Add) -> None:
    steps = {step.id: step for step in flow.steps if first_index.get(step.id) is not None}
    edges = {sid: [t for t, _ in successors(step) if t in steps] for sid, step in steps.items()}
    if flow.start in steps:
        reached = _reach([flow.start], edges)
        for sid in steps:
            if sid not in reached:
                add(
                    ("steps", first_index[sid]),
                    f"step '{sid}' is never reached from the start step '{flow.start}'",
                )
        # A step with an unknown successor counts as finishing: that error is reported already.
        ends = [
            sid
            for sid, step in steps.items()
            if isinstance(step, EndStep) or any(t not in steps for t, _ in successors(step))
        ]
        if any(isinstance(step, EndStep) for step in steps.values()):
            backwards: dict[str, list[str]] = {sid: [] for sid in steps}
            for sid, targets in edges.items():
                for target in targets:
                    backwards[target].append(sid)
            finishing = _reach(ends, backwards)
            stuck = {sid for sid in reached if sid not in finishing}
            for trap in _traps(stuck, edges):
                names = ", ".join(repr(s) for s in trap)
                message = (
                    f"step {names} never leads to an end step (it only leads back to itself)"
                    if len(trap) == 1
                    else f"steps {names} never lead to an end step (they only lead to each other)"
                )
                add(("steps", first_index[trap[0]]), message)
    automatic = {
        sid: [t for t in targets if isinstance(steps[t], ExclusiveStep)]
        for sid, targets in edges.items()
        if isinstance(steps[sid], ExclusiveStep)
    }
    for cycle in _cycles(automatic):
        add(
            ("steps", first_index[cycle[0]]),
            f"steps {' -> '.join(repr(s) for s in [*cycle, cycle[0]])} loop without a human "
            "step (the flow would never stop)",
        )


def _reach(roots: list[str], edges: Mapping[str, list[str]]) -> set[str]:
    seen = set(roots)
    todo = list(roots)
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _traps(stuck: set[str], edges: Mapping[str, list[str]]) -> list[list[str]]:
    """The loops nothing leads out of (terminal strongly connected parts of `stuck`), each in
    definition order; steps that merely lead into a trap are not reported again."""
    inside = {sid: [t for t in edges.get(sid, ()) if t in stuck] for sid in stuck}
    onward = {sid: _reach([sid], inside) for sid in stuck}
    traps: list[list[str]] = []
    for sid in edges:  # definition order
        if sid in stuck and all(sid in onward[other] for other in onward[sid]):
            trap = [s for s in edges if s in onward[sid]]
            if trap not in traps:
                traps.append(trap)
    return traps


def _cycles(edges: Mapping[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected loop found by depth-first search (each reported once)."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in edges.get(node, ()):
            if state.get(target) == 1:
                found.append(stack[stack.index(target) :])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in edges:
        if node not in state:
            visit(node)
    return found
