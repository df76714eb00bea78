"""What a workflow transition did, as plain records: the service writes the timeline, sends cards
and schedules timers from these alone."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

TaskOutcome = Literal["done", "approved", "rejected", "cancelled", "transferred"]
TimerLevel = Literal["warning", "breached", "escalated"]
FlowOutcome = Literal["closed", "cancelled"]


@dataclass(frozen=True)
class StepEntered:
    step_id: str
    step_name: str
    activation: int


@dataclass(frozen=True)
class StepCompleted:
    step_id: str
    step_name: str
    activation: int
    by: str | None  # None for automatic steps
    # done | approved | rejected | closed | cancelled | reopened, or the branch taken (exclusive)
    outcome: str


@dataclass(frozen=True)
class TaskOpened:
    task_id: str
    step_id: str
    candidates: tuple[str, ...]
    assignee: str | None  # set when one person holds it; None for a shared queue


@dataclass(frozen=True)
class TaskAccepted:
    task_id: str
    by: str


@dataclass(frozen=True)
class TaskClosed:
    task_id: str
    step_id: str
    # "transferred" is reserved: a transfer keeps the task open and emits AssigneeChanged.
    outcome: TaskOutcome
    by: str | None


@dataclass(frozen=True)
class AssigneeChanged:
    task_id: str
    previous: str | None
    new: str | None  # None when the task went back to a shared queue (department change)
    by: str
    reason: str
    candidates: tuple[str, ...] = ()  # who may now take the task


@dataclass(frozen=True)
class DepartmentChanged:
    department: str | None
    previous: str | None


@dataclass(frozen=True)
class FieldsWritten:
    values: Mapping[str, Any]  # by field key
    by: str
    step_id: str


@dataclass(frozen=True)
class Commented:
    by: str
    text: str


@dataclass(frozen=True)
class TimerRequested:
    subject: str  # f"{step_id}:{activation}"
    step_id: str
    level: TimerLevel
    after: timedelta  # counted from the step's start, in working time (the service's calendar)


@dataclass(frozen=True)
class TimersCancelled:
    subject: str


@dataclass(frozen=True)
class DeadlineExtended:
    subject: str
    by: str
    extend_by: timedelta
    reason: str


@dataclass(frozen=True)
class Reminded:
    task_id: str
    by: str


@dataclass(frozen=True)
class FlowEnded:
    outcome: FlowOutcome


@dataclass(frozen=True)
class Reopened:
    by: str


@dataclass(frozen=True)
class ConditionFailed:
    """A branch condition could not be evaluated (e.g. a missing value); it counted as false."""

    step_id: str
    branch: int
    message: str


Effect = (
    StepEntered
    | StepCompleted
    | TaskOpened
    | TaskAccepted
    | TaskClosed
    | AssigneeChanged
    | DepartmentChanged
    | FieldsWritten
    | Commented
    | TimerRequested
    | TimersCancelled
    | DeadlineExtended
    | Reminded
    | FlowEnded
    | Reopened
    | ConditionFailed
)


def effect_to_dict(effect: Effect) -> dict[str, Any]:
    """A dict {"type": "TaskOpened", ...} with durations as seconds (field values as given)."""
    out: dict[str, Any] = {"type": type(effect).__name__}
    for f in dataclasses.fields(effect):
        value = getattr(effect, f.name)
        if isinstance(value, timedelta):
            value = value.total_seconds()
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        out[f.name] = value
    return out
