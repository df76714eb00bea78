"""Turn assignee rules into people, and find who supervises a step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.domain.directory import Directory
from bot.workflow.definition import COMPLAINT, AssigneeRule, FlowDefinition, ParallelStep, TaskStep


def resolve(rule: AssigneeRule, directory: Directory, department: str | None) -> list[str]:
    """The person ids a rule names now; empty when nobody fits (a supervisor must step in)."""
    value = rule.value
    if rule.kind == "person":
        return [value] if value in directory.people else []
    if rule.kind == "role":
        return directory.members_of_role(value)
    dept = department if value == COMPLAINT else value
    if dept is None:
        return []
    if rule.kind == "department_head":
        head = directory.head_of(dept)
        return [head] if head else []
    return directory.members_of_department(dept)


def resolve_all(
    rules: Iterable[AssigneeRule], directory: Directory, department: str | None
) -> list[str]:
    """The people of several rules, each once, in rule order."""
    return _unique(p for rule in rules for p in resolve(rule, directory, department))


def supervisors(
    flow: FlowDefinition,
    steps: Sequence[TaskStep | ParallelStep],
    people_on_steps: Iterable[str],
    directory: Directory,
    department: str | None,
) -> list[str]:
    """Who may remind, reassign, take over, extend, close: the configured supervisors (a step's
    own list overrides the flow's) plus the head of the complaint's department. Before the
    complaint has a department, the heads of the people working on it stand in."""
    out: list[str] = []
    for step in steps:
        rules = step.supervisors if step.supervisors is not None else flow.supervisors
        out.extend(resolve_all(rules or (), directory, department))
    if not steps:
        out.extend(resolve_all(flow.supervisors or (), directory, department))
    head = directory.head_of(department)
    if head:
        out.append(head)
    elif department is None:
        for person_id in people_on_steps:
            person = directory.person(person_id)
            dept_head = directory.head_of(person.department) if person else None
            if dept_head:
                out.append(dept_head)
    return _unique(out)


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
