"""The working copy of one transition: enter steps, run automatic ones, complete, end.

A Draft is built from a frozen state, changed by one start() or act(), and frozen again. When an
action is refused the draft is simply dropped, so a refusal can never leave half a change behind.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.errors import WorkflowError
from bot.workflow.assignees import resolve, supervisors
from bot.workflow.context import SYSTEM, FlowContext
from bot.workflow.definition import (
    EndStep,
    ExclusiveStep,
    FlowDefinition,
    HumanStep,
    ParallelStep,
    TaskStep,
)
from bot.workflow.effects import (
    DepartmentChanged,
    Effect,
    FieldsWritten,
    FlowEnded,
    StepCompleted,
    StepEntered,
    TaskClosed,
    TaskOpened,
    TimersCancelled,
)
from bot.workflow.exclusive import choose_branch
from bot.workflow.signoff import signature_tasks
from bot.workflow.state import Signature, Task, Visit, WorkflowState
from bot.workflow.timers import subject, timer_requests

# More automatic steps than this in one transition means a loop the check did not catch.
MAX_AUTOMATIC_STEPS = 200


class Draft:
    """Mutable copy of a WorkflowState plus the effects produced so far."""

    def __init__(self, flow: FlowDefinition, state: WorkflowState, ctx: FlowContext) -> None:
        self.flow = flow
        self.ctx = ctx
        self.directory = ctx.directory
        self.current = list(state.current)
        self.tasks = list(state.tasks)
        self.activations = dict(state.activations)
        self.signatures = list(state.signatures)
        self.extensions = dict(state.extensions)
        self.history = list(state.history)
        self.participants = list(state.participants)
        self.first_response_at = state.first_response_at
        self.first_response_by = state.first_response_by
        self.reopened = state.reopened
        self.ended = state.ended
        self.outcome = state.outcome
        self.department = ctx.department
        self.env: dict[str, Any] = dict(ctx.env)
        self.effects: list[Effect] = []
        self._supervisors: dict[tuple[Any, ...], list[str]] = {}

    def freeze(self) -> WorkflowState:
        return WorkflowState(
            current=tuple(self.current),
            tasks=tuple(self.tasks),
            activations=dict(self.activations),
            signatures=tuple(self.signatures),
            extensions=dict(self.extensions),
            history=tuple(self.history),
            participants=tuple(self.participants),
            first_response_at=self.first_response_at,
            first_response_by=self.first_response_by,
            reopened=self.reopened,
            ended=self.ended,
            outcome=self.outcome,
        )

    def emit(self, effect: Effect) -> None:
        self.effects.append(effect)

    # --- queries -------------------------------------------------------------------------------

    def task(self, task_id: str) -> Task | None:
        return next((t for t in self.tasks if t.task_id == task_id), None)

    def was_task(self, task_id: str) -> bool:
        """True when the id belongs to an earlier (finished or superseded) step activation."""
        for visit in self.history:
            prefix = f"{visit.step_id}.{visit.activation}"
            if task_id == prefix or task_id.startswith(prefix + "."):
                return True
        return False

    def human_step(self, step_id: str) -> HumanStep:
        step = self.flow.step(step_id)
        if not isinstance(step, TaskStep | ParallelStep):
            raise WorkflowError("a task belongs to a step that is not a human step", step=step_id)
        return step

    def supervisors(self, task: Task | None = None) -> list[str]:
        """Supervisors of a task's step, or of the whole flow when no task is given."""
        tasks = [task] if task is not None else self.tasks
        key = (tuple(tasks), self.department)  # tasks are frozen; results depend on nothing else
        found = self._supervisors.get(key)
        if found is None:
            steps = _unique_steps(self.human_step(t.step_id) for t in tasks)
            people = [p for t in tasks for p in (*t.candidates, t.assignee) if p]
            found = supervisors(self.flow, steps, people, self.directory, self.department)
            # Rules act as the system with a supervisor's rights: a business person set them up.
            found.append(SYSTEM)
            self._supervisors[key] = found
        return found

    def name(self, person_id: str | None) -> str:
        return self.directory.name_of(person_id)

    # --- small changes -------------------------------------------------------------------------

    def put_task(self, task: Task) -> None:
        """Replace the open task with the same id."""
        self.tasks = [task if t.task_id == task.task_id else t for t in self.tasks]
        self.involve(*task.candidates)

    def involve(self, *people: str | None) -> None:
        for person in people:
            if person and person not in self.participants:
                self.participants.append(person)

    def first_response(self, by: str) -> None:
        if self.first_response_at is None:
            self.first_response_at = self.ctx.now
            self.first_response_by = by

    def write_fields(self, values: dict[str, Any], by: str, step_id: str) -> None:
        """Record field values (by key) and let later conditions in this transition see them."""
        if not values:
            return
        for key, value in values.items():
            self.env[key] = value
            for name, target in self.ctx.form_fields.items():
                if target == key:
                    self.env[name] = value
        self.emit(FieldsWritten(dict(values), by, step_id))

    def set_department(self, department: str | None) -> None:
        if department != self.department:
            self.emit(DepartmentChanged(department, self.department))
            self.department = department

    # --- steps ---------------------------------------------------------------------------------

    def run(self, step_id: str) -> None:
        """Enter a step; keep going through automatic steps until only human steps remain."""
        pending: str | None = step_id
        for _ in range(MAX_AUTOMATIC_STEPS):
            if pending is None:
                return
            step = self.flow.step(pending)
            activation = self._enter(step.id, step.name)
            if isinstance(step, ExclusiveStep):
                branch, failures = choose_branch(step, self._condition_env(step))
                self.effects.extend(failures)
                if branch.department is not None:
                    self.set_department(branch.department)
                self._close_visit(step.id, branch.label, None)
                pending = branch.next
            elif isinstance(step, EndStep):
                self._finish_visit(step.id, "closed", None)
                self.end("closed")
                pending = None
            else:
                self._open_tasks(step, activation)
                pending = None
        raise WorkflowError("automatic steps keep looping without a human step", step=pending)

    def _enter(self, step_id: str, step_name: str) -> int:
        activation = self.activations.get(step_id, 0) + 1
        self.activations[step_id] = activation
        self.current.append(step_id)
        self.history.append(Visit(step_id, activation, self.ctx.now))
        self.emit(StepEntered(step_id, step_name, activation))
        return activation

    def _open_tasks(self, step: HumanStep, activation: int) -> None:
        if isinstance(step, TaskStep):
            people = resolve(step.assignee, self.directory, self.department)
            single = people[0] if len(people) == 1 else None
            tasks = [Task(f"{step.id}.{activation}", step.id, activation, tuple(people), single)]
        else:
            tasks = signature_tasks(step, activation, self.directory, self.department)
        for task in tasks:
            self.tasks.append(task)
            self.involve(*task.candidates)
            self.emit(TaskOpened(task.task_id, step.id, task.candidates, task.assignee))
        self.effects.extend(timer_requests(step, activation))

    def _condition_env(self, step: ExclusiveStep) -> dict[str, Any]:
        env = dict(self.env)
        env.update(
            step=step.name,
            step_id=step.id,
            department=self.department,
            department_name=self.directory.department_name(self.department),
        )
        return env

    def close_task(self, task: Task, outcome: str, by: str | None) -> None:
        self.tasks = [t for t in self.tasks if t.task_id != task.task_id]
        self.emit(TaskClosed(task.task_id, task.step_id, outcome, by))  # type: ignore[arg-type]

    def complete(self, step_id: str, outcome: str, by: str | None) -> None:
        """Finish the current activation of a human step: remaining tasks are cancelled."""
        for task in [t for t in self.tasks if t.step_id == step_id]:
            self.close_task(task, "cancelled", by)
        step = self.human_step(step_id)
        name = subject(step_id, self.activations[step_id])
        if step.timed:
            self.emit(TimersCancelled(name))
        self.extensions.pop(name, None)
        self.signatures = [s for s in self.signatures if not s.task_id.startswith(step_id + ".")]
        self._close_visit(step_id, outcome, by)

    def _finish_visit(self, step_id: str, outcome: str, by: str | None) -> None:
        activation = self.activations[step_id]
        for index in range(len(self.history) - 1, -1, -1):
            visit = self.history[index]
            if visit.step_id == step_id and visit.activation == activation:
                self.history[index] = replace(
                    visit, completed_at=self.ctx.now, outcome=outcome, by=by
                )
                break
        if step_id in self.current:
            self.current.remove(step_id)

    def _close_visit(self, step_id: str, outcome: str, by: str | None) -> None:
        self._finish_visit(step_id, outcome, by)
        step = self.flow.step(step_id)
        self.emit(StepCompleted(step_id, step.name, self.activations[step_id], by, outcome))

    def interrupt(self, outcome: str, by: str | None) -> None:
        """Complete every current step with `outcome` (close, cancel, reopen)."""
        for step_id in list(self.current):
            self.complete(step_id, outcome, by)

    def end(self, outcome: str) -> None:
        self.ended = True
        self.outcome = outcome  # type: ignore[assignment]
        self.emit(FlowEnded(outcome))  # type: ignore[arg-type]

    def sign(self, task: Task, by: str, decision: str) -> None:
        self.signatures.append(Signature(task.task_id, by, decision))  # type: ignore[arg-type]

    def extension(self, step_id: str) -> tuple[str, timedelta]:
        name = subject(step_id, self.activations[step_id])
        return name, self.extensions.get(name, timedelta(0))


def _unique_steps(steps: Any) -> list[HumanStep]:
    out: list[HumanStep] = []
    for step in steps:
        if all(step.id != s.id for s in out):
            out.append(step)
    return out
