"""Flow definitions as written in config (pydantic at the edge): steps, branches, assignee rules.

Durations and conditions stay the text the operator wrote; check_flow() validates them with
precise paths, and the engine parses them when it needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.errors import WorkflowError
from bot.expr import parse_duration

# The assignee/department value that means "the complaint's current department".
COMPLAINT = "complaint"
ASSIGNEE_KINDS = ("person", "role", "department_head", "department")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class AssigneeRule(_Strict):
    """Who a step goes to: exactly one of person, role, department_head, department."""

    person: str | None = None
    role: str | None = None
    department_head: str | None = None  # a department id or "complaint"
    department: str | None = None  # a department id or "complaint": members as a shared queue

    @model_validator(mode="after")
    def _exactly_one(self) -> AssigneeRule:
        given = [kind for kind in ASSIGNEE_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            got = f" (got {', '.join(given)})" if given else ""
            raise ValueError(
                f"an assignee needs exactly one of person, role, department_head, department{got}"
            )
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in ASSIGNEE_KINDS if getattr(self, kind) is not None)

    @property
    def value(self) -> str:
        return str(getattr(self, self.kind))

    @property
    def follows_complaint(self) -> bool:
        """True when the rule resolves through the complaint's department."""
        return self.kind in ("department_head", "department") and self.value == COMPLAINT


class Branch(_Strict):
    """One way out of an exclusive step: `if: condition` or `else: true`, then `next`."""

    if_: str | None = Field(None, alias="if")
    else_: bool | None = Field(None, alias="else")
    department: str | None = None  # sets the complaint's department when taken
    next: str

    @model_validator(mode="after")
    def _if_or_else(self) -> Branch:
        if (self.if_ is None) == (self.else_ is None):
            raise ValueError("a branch needs exactly one of 'if: <condition>' or 'else: true'")
        if self.else_ is False:
            raise ValueError("write 'else: true' for the fallback branch, or use 'if:'")
        return self

    @property
    def is_else(self) -> bool:
        return self.else_ is True

    @property
    def label(self) -> str:
        """The condition as written, or 'else': how the timeline explains the choice."""
        return self.if_ if self.if_ is not None else "else"


class _StepBase(_Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)


class _TimedStep(_StepBase):
    time_limit: str | None = None  # e.g. 24h: the "breached" timer
    warn_before: str | None = None  # e.g. 2h: a "warning" timer that long before the limit
    escalate_after: str | None = None  # e.g. 48h: the "escalated" timer
    supervisors: list[AssigneeRule] | None = None  # overrides the flow's supervisors here

    def durations(self) -> tuple[timedelta | None, timedelta | None, timedelta | None]:
        """(time_limit, warn_before, escalate_after) parsed; WorkflowError if unchecked and bad."""
        out = []
        for name in ("time_limit", "warn_before", "escalate_after"):
            text = getattr(self, name)
            try:
                out.append(parse_duration(text) if text is not None else None)
            except ValueError as exc:
                raise WorkflowError(f"invalid {name}: {exc}", step=self.id) from exc
        return out[0], out[1], out[2]

    @property
    def timed(self) -> bool:
        return self.time_limit is not None or self.escalate_after is not None


class TaskStep(_TimedStep):
    """A person (or a shared queue) does something: accept, fill fields, submit."""

    kind: Literal["task"]
    assignee: AssigneeRule
    read: Literal["*"] | list[str] = "*"
    write: list[str] = []
    required: list[str] = []
    next: str


class ExclusiveStep(_StepBase):
    """An automatic choice: the first branch whose condition holds (or else) is taken."""

    kind: Literal["exclusive"]
    branches: list[Branch] = Field(min_length=1)


class ParallelStep(_TimedStep):
    """Sign-off: one task per assignee rule; all (or any) must approve; a rejection goes back."""

    kind: Literal["parallel"]
    assignees: list[AssigneeRule] = Field(min_length=1)
    mode: Literal["all", "any"] = "all"
    read: Literal["*"] | list[str] = "*"
    on_reject: str
    next: str


class EndStep(_StepBase):
    """The flow is over (outcome closed)."""

    kind: Literal["end"]


Step = Annotated[TaskStep | ExclusiveStep | ParallelStep | EndStep, Field(discriminator="kind")]
HumanStep = TaskStep | ParallelStep


class FlowDefinition(_Strict):
    """A complaint flow: which form it fills, where it starts, its steps and supervisors."""

    title: str
    form: str
    start: str
    steps: list[Step] = Field(min_length=1)
    supervisors: list[AssigneeRule] | None = None

    def step(self, step_id: str) -> TaskStep | ExclusiveStep | ParallelStep | EndStep:
        """The step with this id (the first, if check_flow's duplicate error was ignored)."""
        # A scan, not an index: flows have a handful of steps and copies can never go stale.
        for step in self.steps:
            if step.id == step_id:
                return step
        raise WorkflowError(f"unknown step '{step_id}'", step=step_id)

    def has_step(self, step_id: str) -> bool:
        """True when a step has this id."""
        return any(step.id == step_id for step in self.steps)


def successors(
    step: TaskStep | ExclusiveStep | ParallelStep | EndStep,
) -> list[tuple[str, tuple[str | int, ...]]]:
    """(next step id, path where it is written) pairs: next, on_reject and branch targets."""
    if isinstance(step, TaskStep):
        return [(step.next, ("next",))]
    if isinstance(step, ParallelStep):
        return [(step.next, ("next",)), (step.on_reject, ("on_reject",))]
    if isinstance(step, ExclusiveStep):
        return [(b.next, ("branches", i, "next")) for i, b in enumerate(step.branches)]
    return []


@dataclass(frozen=True)
class FieldAccess:
    """Which form fields (by key) a step shows and lets its assignee fill in."""

    read_all: bool
    read: tuple[str, ...]
    write: tuple[str, ...]
    required: tuple[str, ...]

    def can_read(self, key: str) -> bool:
        """True when the step shows the field (written fields are always shown)."""
        return self.read_all or key in self.read or key in self.write


def field_access(
    step: TaskStep | ExclusiveStep | ParallelStep | EndStep, form_fields: Mapping[str, str]
) -> FieldAccess:
    """The step's read/write/required lists as field keys (`form_fields`: key or label -> key)."""
    if not isinstance(step, TaskStep | ParallelStep):
        return FieldAccess(False, (), (), ())

    def keys(names: list[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(form_fields.get(n, n) for n in names))

    read_all = step.read == "*"
    read = () if step.read == "*" else keys(step.read)
    if isinstance(step, ParallelStep):
        return FieldAccess(read_all, read, (), ())
    return FieldAccess(read_all, read, keys(step.write), keys(step.required))
