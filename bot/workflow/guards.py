"""Who may do what, now: one check per action kind, shared by act() and available_actions().

A check only reads the draft; it returns the task the action is about (None for flow-level
actions) or raises ActionRefused with a short Chinese reason. What the action carries (values,
target, text, extension) is validated later, by the action itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NoReturn

from bot.errors import ActionRefused
from bot.workflow.context import CUSTOMER, Action, ActionKind
from bot.workflow.definition import EndStep, FlowDefinition, ParallelStep, TaskStep
from bot.workflow.runner import Draft
from bot.workflow.state import Task

Check = Callable[[Draft, Action], Task | None]


def refuse(reason: str, action: Action, task: Task | None = None) -> NoReturn:
    """Raise ActionRefused naming the step and action."""
    raise ActionRefused(reason, step=task.step_id if task else None, action=action.kind.value)


def ended_reason(draft: Draft) -> str:
    return "该投诉已撤销" if draft.outcome == "cancelled" else "该投诉已结案"


def open_task(draft: Draft, action: Action) -> Task:
    """The open task the action names; refused for finished, stale or unknown tasks."""
    if not action.task_id:
        refuse("请指明要处理的任务", action)
    task = draft.task(action.task_id)
    if task is not None:
        return task
    if draft.ended:
        refuse(ended_reason(draft), action)
    refuse("该步骤已完成" if draft.was_task(action.task_id) else "找不到该任务", action)


def holder_refusal(draft: Draft, task: Task, person: str) -> str | None:
    """Why `person` may not work on the task (None when they hold it or may claim it)."""
    if task.may_take(person):
        return None
    if task.accepted and task.assignee:
        return f"已由 {draft.name(task.assignee)} 受理"
    return "这一步不归你处理"


def _as_holder(draft: Draft, action: Action) -> Task:
    task = open_task(draft, action)
    reason = holder_refusal(draft, task, action.actor)
    if reason:
        refuse(reason, action, task)
    return task


def check_accept(draft: Draft, action: Action) -> Task:
    task = open_task(draft, action)
    if task.accepted:
        if task.assignee == action.actor:
            refuse("你已受理", action, task)
        refuse(f"已由 {draft.name(task.assignee)} 受理", action, task)
    return _as_holder(draft, action)


def check_submit(draft: Draft, action: Action) -> Task:
    task = open_task(draft, action)
    if not isinstance(draft.human_step(task.step_id), TaskStep):
        refuse("会签请选择同意或驳回", action, task)
    task = _as_holder(draft, action)
    if not (task.accepted and task.assignee == action.actor):
        refuse("请先受理再提交", action, task)
    return task


def check_sign(draft: Draft, action: Action) -> Task:
    task = open_task(draft, action)
    if not isinstance(draft.human_step(task.step_id), ParallelStep):
        refuse("这一步不是会签", action, task)
    return _as_holder(draft, action)


def check_transfer(draft: Draft, action: Action) -> Task:
    return _as_holder(draft, action)


def check_assign_department(draft: Draft, action: Action) -> Task:
    task = open_task(draft, action)
    if action.actor in draft.supervisors(task):
        return task
    task = _as_holder(draft, action)
    if not task.accepted:
        refuse("请先受理", action, task)
    return task


def _supervising(message: str) -> Check:
    def check(draft: Draft, action: Action) -> Task:
        task = open_task(draft, action)
        if action.actor not in draft.supervisors(task):
            refuse(message, action, task)
        return task

    return check


check_remind = _supervising("只有主管可以催办")
check_reassign = _supervising("只有主管可以改派")


def check_take_over(draft: Draft, action: Action) -> Task:
    task = _supervising("只有主管可以接手")(draft, action)
    assert task is not None
    if task.accepted and task.assignee == action.actor:
        refuse("你已在处理", action, task)
    return task


def check_extend(draft: Draft, action: Action) -> Task:
    task = _supervising("只有主管可以延期")(draft, action)
    assert task is not None
    if not draft.human_step(task.step_id).timed:
        refuse("该步骤没有时限", action, task)
    return task


def check_comment(draft: Draft, action: Action) -> None:
    actor = action.actor
    if actor == CUSTOMER or actor in draft.participants or actor in draft.supervisors():
        return None
    refuse("你不是该投诉的处理人", action)


def check_close(draft: Draft, action: Action) -> None:
    if draft.ended:
        refuse(ended_reason(draft), action)
    if action.actor not in draft.supervisors():
        refuse("只有主管可以结案", action)


def check_cancel(draft: Draft, action: Action) -> None:
    if draft.ended:
        refuse(ended_reason(draft), action)
    if action.actor != CUSTOMER and action.actor not in draft.supervisors():
        refuse("只有客户本人或主管可以撤销投诉", action)


def check_reopen(draft: Draft, action: Action) -> None:
    if draft.outcome == "cancelled":
        refuse("投诉已撤销，不能重新打开", action)
    if draft.ended:
        if action.actor not in draft.supervisors():
            refuse("只有主管可以重新打开", action)
        return None
    if not is_resolved(draft.flow, draft.current):
        refuse("投诉还在处理中，无需重新打开", action)
    holders = {t.assignee for t in draft.tasks if t.accepted}
    if action.actor not in holders and action.actor not in draft.supervisors():
        refuse("只有主管或回访人可以重新打开", action)


def is_resolved(flow: FlowDefinition, current: Sequence[str]) -> bool:
    """True when every current step is a human step leading straight to an end step."""
    steps = [flow.step(s) for s in current]
    return bool(steps) and all(
        isinstance(s, TaskStep | ParallelStep)
        and flow.has_step(s.next)
        and isinstance(flow.step(s.next), EndStep)
        for s in steps
    )


CHECKS: dict[ActionKind, Check] = {
    ActionKind.ACCEPT: check_accept,
    ActionKind.TRANSFER: check_transfer,
    ActionKind.ASSIGN_DEPARTMENT: check_assign_department,
    ActionKind.COMMENT: check_comment,
    ActionKind.SUBMIT: check_submit,
    ActionKind.APPROVE: check_sign,
    ActionKind.REJECT: check_sign,
    ActionKind.REOPEN: check_reopen,
    ActionKind.CLOSE: check_close,
    ActionKind.CANCEL: check_cancel,
    ActionKind.REMIND: check_remind,
    ActionKind.REASSIGN: check_reassign,
    ActionKind.TAKE_OVER: check_take_over,
    ActionKind.EXTEND: check_extend,
}
