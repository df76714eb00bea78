"""Random action sequences never leave a flow's definition, and refusals change nothing."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.errors import ActionRefused
from bot.workflow import (
    CUSTOMER,
    FLOW_KEY,
    Action,
    ActionKind,
    DepartmentChanged,
    FieldsWritten,
    FlowContext,
    FlowDefinition,
    ParallelStep,
    TaskClosed,
    TaskOpened,
    TaskStep,
    TimerRequested,
    TimersCancelled,
    WorkflowState,
    act,
    available_actions,
    lifecycle_status,
    start,
)
from tests.unit.workflow.conftest import T0, build_directory, build_form_fields, load_example

DOC = load_example()
DIRECTORY = build_directory(DOC)
FIELDS = build_form_fields(DOC)


def _variant(change: Any) -> FlowDefinition:
    doc = copy.deepcopy(DOC["flows"]["complaint"])
    change(doc)
    return FlowDefinition.model_validate(doc)


def _managed(doc: dict[str, Any]) -> None:
    doc["supervisors"] = [{"role": "管理层"}]
    doc["steps"][2]["warn_before"] = "2h"
    doc["steps"][4]["mode"] = "any"
    doc["steps"][4]["assignees"] = [{"role": "客服"}, {"department_head": "complaint"}]


def _queue(doc: dict[str, Any]) -> None:
    doc["steps"][2]["assignee"] = {"department": "complaint"}
    doc["steps"][5]["assignee"] = {"person": "xiaomei"}


FLOWS = [_variant(lambda doc: None), _variant(_managed), _variant(_queue)]
PEOPLE = [*DIRECTORY.people, CUSTOMER, "stranger"]
TARGETS = [None, "ghost", *DIRECTORY.people, *DIRECTORY.departments]
VALUES: list[dict[str, Any]] = [
    {},
    {"type": "产品质量"},
    {"投诉类型": "物流问题"},
    {"solution": "换新"},
    {"solution": "退款", "compensation": 2000},
    {"解决方案": "补偿", "赔偿金额": 300},
    {"satisfaction": 5},
    {"description": "还是坏的"},
]
FORWARD = (ActionKind.ACCEPT, ActionKind.SUBMIT, ActionKind.APPROVE, ActionKind.REJECT)
# What a submit on each step usually carries (random values still come a quarter of the time).
STEP_VALUES: dict[str, list[dict[str, Any]]] = {
    "accept": [{"type": "产品质量"}, {"投诉类型": "物流问题"}, {}],
    "handle": [{"solution": "退款", "compensation": 2000}, {"解决方案": "补偿", "赔偿金额": 300}],
    "followup": [{"satisfaction": 5}],
}


def _values_for(state: WorkflowState, task_id: str | None) -> st.SearchStrategy[dict[str, Any]]:
    task = state.task(task_id) if task_id else None
    usual = STEP_VALUES.get(task.step_id, []) if task else []
    if not usual:
        return st.sampled_from(VALUES)
    return st.one_of(
        st.sampled_from(usual),
        st.sampled_from(usual),
        st.sampled_from(usual),
        st.sampled_from(VALUES),
    )


# Refusals about what an action carries, not about who may act (offered actions may get these).
CONTENT_REASONS = (
    "请填写",
    "「",
    "请选择",
    "找不到此人",
    "找不到这个部门",
    "已经由",
    "已经在",
    "请输入评论内容",
)


def check_invariants(flow: FlowDefinition, state: WorkflowState) -> None:
    assert WorkflowState.from_dict(state.to_dict()) == state
    assert lifecycle_status(flow, state) in {
        "new",
        "in_progress",
        "resolved",
        "closed",
        "cancelled",
    }
    ids = [t.task_id for t in state.tasks]
    assert len(ids) == len(set(ids))
    if state.ended:
        assert state.tasks == () and state.current == ()
        assert state.outcome in {"closed", "cancelled"}
    else:
        assert len(state.current) == 1 and state.outcome is None
    for step_id in state.current:
        step = flow.step(step_id)
        assert isinstance(step, TaskStep | ParallelStep)
        assert state.tasks_of(step_id), f"{step_id} is current but has no open task"
    for task in state.tasks:
        assert task.step_id in state.current
        assert state.activations[task.step_id] == task.activation
        assert task.task_id.startswith(f"{task.step_id}.{task.activation}")
        assert task.assignee is None or task.assignee in task.candidates
        assert not task.accepted or task.assignee is not None
    open_visits = {(v.step_id, v.activation) for v in state.history if v.completed_at is None}
    assert open_visits == {(s, state.activations[s]) for s in state.current}
    current_subjects = {f"{s}:{state.activations[s]}" for s in state.current}
    assert set(state.extensions) <= current_subjects
    for signature in state.signatures:
        assert any(signature.task_id.startswith(f"{s}.") for s in state.current)


def action_strategy(
    data: st.DataObject,
    flow: FlowDefinition,
    state: WorkflowState,
    ctx: FlowContext,
    stale: list[str],
) -> tuple[Action, bool]:
    """Mostly an action available_actions offers someone (so flows get deep), else anything."""
    menu = [
        (person, key, kind)
        for person in PEOPLE
        for key, kinds in available_actions(flow, state, person, ctx).items()
        for kind in kinds
    ]
    # Ending a flow is always on offer to supervisors; keep it rare so flows get deep.
    progress = [m for m in menu if m[2] not in (ActionKind.CANCEL, ActionKind.CLOSE)] or menu
    forward = [m for m in menu if m[2] in FORWARD] or progress
    mode = data.draw(st.integers(0, 9), label="mode")
    if progress and mode < 8:
        actor, key, kind = data.draw(st.sampled_from(forward if mode < 5 else progress))
        task = None if key == FLOW_KEY else key
    else:
        actor = data.draw(st.sampled_from(PEOPLE), label="actor")
        kind = data.draw(st.sampled_from(list(ActionKind)), label="kind")
        choices = [None, "junk.1", *[t.task_id for t in state.tasks], *stale]
        task = data.draw(st.sampled_from(choices), label="task")
    key = task if task is not None else FLOW_KEY
    is_offered = (actor, key, kind) in menu
    action = Action(
        kind,
        actor,
        task,
        target=data.draw(st.sampled_from(TARGETS), label="target"),
        values=data.draw(_values_for(state, task), label="values"),
        text=data.draw(st.sampled_from(["", "说明"]), label="text"),
        extend_by=data.draw(
            st.sampled_from([None, timedelta(0), timedelta(hours=3)]), label="extend_by"
        ),
    )
    return action, is_offered


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), flow_index=st.integers(0, len(FLOWS) - 1), length=st.integers(1, 40))
def test_no_action_sequence_leaves_the_definition(
    data: st.DataObject, flow_index: int, length: int
) -> None:
    flow = FLOWS[flow_index]
    values: dict[str, Any] = {}
    department: list[str | None] = [None]
    open_tasks: set[str] = set()
    live_timers: set[str] = set()
    stale: list[str] = []
    now = [T0]

    def ctx() -> FlowContext:
        env = {name: values[key] for name, key in FIELDS.items() if key in values}
        return FlowContext(env, department[0], DIRECTORY, now[0], FIELDS)

    def apply(effects: tuple[Any, ...]) -> None:
        for effect in effects:
            if isinstance(effect, FieldsWritten):
                values.update(effect.values)
            elif isinstance(effect, DepartmentChanged):
                department[0] = effect.department
            elif isinstance(effect, TaskOpened):
                open_tasks.add(effect.task_id)
            elif isinstance(effect, TaskClosed):
                open_tasks.discard(effect.task_id)
                stale.append(effect.task_id)
            elif isinstance(effect, TimerRequested):
                live_timers.add(effect.subject)
            elif isinstance(effect, TimersCancelled):
                live_timers.discard(effect.subject)

    transition = start(flow, ctx())
    apply(transition.effects)
    state = transition.state
    check_invariants(flow, state)
    for _ in range(length):
        now[0] += timedelta(minutes=7)
        action, offered = action_strategy(data, flow, state, ctx(), stale)
        before = state.to_dict()
        try:
            transition = act(flow, state, action, ctx())
        except ActionRefused as refused:
            assert state.to_dict() == before, "a refused action changed the state"
            assert not offered or refused.reason.startswith(CONTENT_REASONS), (
                f"{action.kind} was offered to {action.actor} but refused: {refused.reason}"
            )
            continue
        state = transition.state
        apply(transition.effects)
        check_invariants(flow, state)
        # The service can follow the flow from the effects alone.
        assert open_tasks == {t.task_id for t in state.tasks}
        expected_timers = {
            f"{s}:{state.activations[s]}"
            for s in state.current
            if flow.step(s).timed  # type: ignore[union-attr]
        }
        assert live_timers == expected_timers
    event(f"final status: {lifecycle_status(flow, state)}")
    event(f"reached sign-off: {'signoff' in state.activations}")
    event(f"reopened: {state.reopened > 0}")
