"""Parallel sign-off: one signature task per assignee rule; all or any must approve."""

from __future__ import annotations

from bot.domain.directory import Directory
from bot.workflow.assignees import resolve
from bot.workflow.definition import ParallelStep
from bot.workflow.state import Signature, Task


def signature_tasks(
    step: ParallelStep, activation: int, directory: Directory, department: str | None
) -> list[Task]:
    """One task per rule. A rule naming one person gives the task id f"{step}.{n}.{person}" (the
    same person named twice signs once); a rule naming several people is a shared slot
    f"{step}.{n}.slot{i}" that the first of them to act takes."""
    tasks: list[Task] = []
    personal: set[str] = set()
    for index, rule in enumerate(step.assignees, start=1):
        people = resolve(rule, directory, department)
        if len(people) == 1:
            if people[0] in personal:
                continue
            personal.add(people[0])
            slot, assignee = people[0], people[0]
        else:
            slot, assignee = f"slot{index}", None
        tasks.append(
            Task(f"{step.id}.{activation}.{slot}", step.id, activation, tuple(people), assignee)
        )
    return tasks


def decided(step: ParallelStep, open_tasks: list[Task], signatures: list[Signature]) -> str | None:
    """'approved' or 'rejected' once the sign-off is decided, else None."""
    if any(s.decision == "rejected" for s in signatures):
        return "rejected"
    approvals = sum(1 for s in signatures if s.decision == "approved")
    if step.mode == "any" and approvals:
        return "approved"
    if not open_tasks and approvals:
        return "approved"
    return None
