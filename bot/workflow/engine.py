"""The pure workflow engine: (definition, state, action) -> (state, effects).

Like SpiffWorkflow: automatic steps (exclusive choices) run at once until only human steps remain;
people move human steps forward with actions. Nothing here does I/O or reads the clock: the time
is ctx.now, the timers are effects the service schedules with its calendar.

Decisions:
- SUBMIT needs an accepted task (no auto-accept): acceptance is the first response the SLA
  measures, so it is always an explicit act. Sign-off tasks need no acceptance: a vote responds.
- TRANSFER, REASSIGN, TAKE_OVER and a department move keep the task id and emit AssigneeChanged;
  the old holder's card is then refused "这一步不归你处理".
- A branch condition that cannot be evaluated (e.g. an amount nobody entered) counts as false and
  is reported as ConditionFailed, so the flow takes the else branch instead of stalling.
- Supervisors: the step's (or else the flow's) `supervisors`, plus the head of the complaint's
  department; before the complaint has one, the heads of the people on the task stand in.
- The customer acts as CUSTOMER ("customer"): they may comment and cancel.
- REOPEN re-enters the flow's start step (a new activation); the reopened count goes up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.errors import ActionRefused, WorkflowError
from bot.workflow.assignees import resolve
from bot.workflow.context import FLOW_ACTIONS, TASK_ACTIONS, Action, ActionKind, FlowContext
from bot.workflow.definition import FlowDefinition, ParallelStep, TaskStep
from bot.workflow.effects import (
    AssigneeChanged,
    Commented,
    DeadlineExtended,
    Reminded,
    Reopened,
    TaskAccepted,
    TimersCancelled,
)
from bot.workflow.guards import CHECKS, is_resolved, refuse
from bot.workflow.runner import Draft
from bot.workflow.signoff import decided
from bot.workflow.state import Task, Transition, WorkflowState
from bot.workflow.timers import timer_requests

# available_actions() lists flow-level actions (comment, reopen, close, cancel) under this key.
FLOW_KEY = "*"

Apply = Callable[[Draft, Action, Any], None]


def start(flow: FlowDefinition, ctx: FlowContext) -> Transition:
    """Start a flow at its start step and run until a human step (or the end) is reached."""
    draft = Draft(flow, WorkflowState(), ctx)
    draft.run(flow.start)
    return Transition(draft.freeze(), tuple(draft.effects))


def act(flow: FlowDefinition, state: WorkflowState, action: Action, ctx: FlowContext) -> Transition:
    """Apply one person's action; ActionRefused (state untouched) when it is not allowed now."""
    check = CHECKS.get(action.kind)
    apply = _APPLY.get(action.kind)
    if check is None or apply is None:
        raise WorkflowError(f"unknown action '{action.kind}'", action=str(action.kind))
    draft = Draft(flow, state, ctx)
    task = check(draft, action)
    apply(draft, action, task)
    return Transition(draft.freeze(), tuple(draft.effects))


def available_actions(
    flow: FlowDefinition, state: WorkflowState, person_id: str, ctx: FlowContext
) -> dict[str, tuple[ActionKind, ...]]:
    """task_id -> what `person_id` may do on it now; flow-level actions under FLOW_KEY."""
    draft = Draft(flow, state, ctx)
    out: dict[str, tuple[ActionKind, ...]] = {}
    for task in state.tasks:
        kinds = tuple(
            k for k in TASK_ACTIONS if _allowed(draft, Action(k, person_id, task.task_id))
        )
        if kinds:
            out[task.task_id] = kinds
    flow_kinds = tuple(k for k in FLOW_ACTIONS if _allowed(draft, Action(k, person_id)))
    if flow_kinds:
        out[FLOW_KEY] = flow_kinds
    return out


def lifecycle_status(flow: FlowDefinition, state: WorkflowState) -> str:
    """new | in_progress | resolved (at the last human step before the end) | closed | cancelled"""
    if state.outcome == "cancelled":
        return "cancelled"
    if state.ended:
        return "closed"
    if state.first_response_at is None:
        return "new"
    return "resolved" if is_resolved(flow, state.current) else "in_progress"


def _allowed(draft: Draft, action: Action) -> bool:
    try:
        CHECKS[action.kind](draft, action)
    except ActionRefused:
        return False
    return True


def _comment(draft: Draft, action: Action) -> None:
    if action.text.strip():
        draft.emit(Commented(action.actor, action.text.strip()))


def _person_target(draft: Draft, action: Action, task: Task, missing: str) -> str:
    target = action.target
    if not target:
        refuse(missing, action, task)
    if draft.directory.person(target) is None:
        refuse("找不到此人", action, task)
    if target == task.assignee:
        refuse(f"已经由 {draft.name(target)} 处理", action, task)
    return target


def _hand_to(draft: Draft, action: Action, task: Task, target: str, reason: str) -> None:
    draft.put_task(replace(task, candidates=(target,), assignee=target, accepted=False))
    draft.emit(
        AssigneeChanged(task.task_id, task.assignee, target, action.actor, reason, (target,))
    )


# --- one function per action kind --------------------------------------------------------------


def _accept(draft: Draft, action: Action, task: Task) -> None:
    draft.put_task(replace(task, assignee=action.actor, accepted=True))
    draft.emit(TaskAccepted(task.task_id, action.actor))
    draft.first_response(action.actor)


def _transfer(draft: Draft, action: Action, task: Task) -> None:
    target = _person_target(draft, action, task, "请选择转交对象")
    _hand_to(draft, action, task, target, action.text.strip() or "转交")


def _reassign(draft: Draft, action: Action, task: Task) -> None:
    target = _person_target(draft, action, task, "请选择改派对象")
    _hand_to(draft, action, task, target, action.text.strip() or "改派")


def _take_over(draft: Draft, action: Action, task: Task) -> None:
    me = action.actor
    draft.put_task(replace(task, candidates=(me,), assignee=me, accepted=True))
    draft.involve(me)
    draft.emit(
        AssigneeChanged(task.task_id, task.assignee, me, me, action.text.strip() or "接手", (me,))
    )
    draft.emit(TaskAccepted(task.task_id, me))
    draft.first_response(me)


def _assign_department(draft: Draft, action: Action, task: Task) -> None:
    target = action.target
    if not target:
        refuse("请选择部门", action, task)
    if target not in draft.directory.departments:
        refuse("找不到这个部门", action, task)
    if target == draft.department:
        refuse(f"已经在{draft.directory.department_name(target)}", action, task)
    draft.set_department(target)
    # Tasks assigned through the complaint's department follow it to the new department.
    for open_task in list(draft.tasks):
        step = draft.human_step(open_task.step_id)
        if not (isinstance(step, TaskStep) and step.assignee.follows_complaint):
            continue
        people = tuple(resolve(step.assignee, draft.directory, draft.department))
        single = people[0] if len(people) == 1 else None
        moved = replace(open_task, candidates=people, assignee=single, accepted=False)
        if moved != open_task:
            draft.put_task(moved)
            reason = action.text.strip() or "转部门"
            draft.emit(
                AssigneeChanged(
                    open_task.task_id, open_task.assignee, single, action.actor, reason, people
                )
            )


def _submit(draft: Draft, action: Action, task: Task) -> None:
    step = draft.human_step(task.step_id)
    assert isinstance(step, TaskStep)
    ctx = draft.ctx
    writable = {ctx.field_key(name) for name in step.write}
    values: dict[str, Any] = {}
    for name, value in action.values.items():
        key = ctx.field_key(name)
        if key not in writable:
            refuse(f"「{ctx.field_label(key)}」不能在这一步填写", action, task)
        values[key] = value
    for name in step.required:
        key = ctx.field_key(name)
        if _blank(values[key] if key in values else draft.env.get(key)):
            refuse(f"请填写{ctx.field_label(key)}", action, task)
    draft.write_fields(values, action.actor, step.id)
    _comment(draft, action)
    draft.close_task(task, "done", action.actor)
    draft.complete(step.id, "done", action.actor)
    draft.run(step.next)


def _sign(decision: str) -> Apply:
    def apply(draft: Draft, action: Action, task: Task) -> None:
        step = draft.human_step(task.step_id)
        assert isinstance(step, ParallelStep)
        _comment(draft, action)
        draft.close_task(task, decision, action.actor)
        draft.sign(task, action.actor, decision)
        draft.involve(action.actor)
        draft.first_response(action.actor)
        prefix = f"{step.id}.{task.activation}"
        result = decided(
            step,
            [t for t in draft.tasks if t.step_id == step.id],
            [s for s in draft.signatures if s.task_id.startswith(prefix + ".")],
        )
        if result is None:
            return
        draft.complete(step.id, result, action.actor)
        draft.run(step.on_reject if result == "rejected" else step.next)

    return apply


def _comment_only(draft: Draft, action: Action, task: None) -> None:
    if not action.text.strip():
        refuse("请输入评论内容", action)
    _comment(draft, action)


def _remind(draft: Draft, action: Action, task: Task) -> None:
    draft.emit(Reminded(task.task_id, action.actor))
    _comment(draft, action)


def _extend(draft: Draft, action: Action, task: Task) -> None:
    if action.extend_by is None or action.extend_by <= timedelta(0):
        refuse("请填写延期时长", action, task)
    if not action.text.strip():
        refuse("请填写延期原因", action, task)
    step = draft.human_step(task.step_id)
    subject, total = draft.extension(step.id)
    total += action.extend_by + max(action.overdue_by, timedelta(0))
    draft.extensions[subject] = total
    draft.emit(DeadlineExtended(subject, action.actor, action.extend_by, action.text.strip()))
    draft.emit(TimersCancelled(subject))
    draft.effects.extend(timer_requests(step, draft.activations[step.id], total))


def _reopen(draft: Draft, action: Action, task: None) -> None:
    _comment(draft, action)
    if draft.ended:
        draft.ended, draft.outcome = False, None
    else:
        draft.interrupt("reopened", action.actor)
    draft.reopened += 1
    draft.emit(Reopened(action.actor))
    draft.run(draft.flow.start)


def _ending(outcome: str) -> Apply:
    def apply(draft: Draft, action: Action, task: None) -> None:
        _comment(draft, action)
        draft.interrupt(outcome, action.actor)
        draft.end(outcome)

    return apply


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict | set):
        return not value
    return False


_APPLY: Mapping[ActionKind, Apply] = {
    ActionKind.ACCEPT: _accept,
    ActionKind.TRANSFER: _transfer,
    ActionKind.ASSIGN_DEPARTMENT: _assign_department,
    ActionKind.COMMENT: _comment_only,
    ActionKind.SUBMIT: _submit,
    ActionKind.APPROVE: _sign("approved"),
    ActionKind.REJECT: _sign("rejected"),
    ActionKind.REOPEN: _reopen,
    ActionKind.CLOSE: _ending("closed"),
    ActionKind.CANCEL: _ending("cancelled"),
    ActionKind.REMIND: _remind,
    ActionKind.REASSIGN: _reassign,
    ActionKind.TAKE_OVER: _take_over,
    ActionKind.EXTEND: _extend,
}
