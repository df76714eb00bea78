"""The example flow end to end (config/example.yaml): routing by type, sign-off, rejection."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.workflow import (
    ActionKind,
    ConditionFailed,
    DepartmentChanged,
    FlowEnded,
    StepCompleted,
    StepEntered,
    TaskAccepted,
    TaskClosed,
    TaskOpened,
    TimerRequested,
    TimersCancelled,
)

A = ActionKind


def test_start_opens_the_accept_step_as_a_shared_queue_for_customer_service(flow, new_run):
    run = new_run(flow)
    assert run.state.current == ("accept",)
    assert run.last.of_type(TaskOpened) == [
        TaskOpened("accept.1", "accept", ("zhangsan", "xiaomei"), None)
    ]
    assert run.last.of_type(TimerRequested) == [
        TimerRequested("accept:1", "accept", "breached", timedelta(hours=2))
    ]
    assert run.status == "new"


@pytest.mark.parametrize(
    ("complaint_type", "department", "head"),
    [
        ("产品质量", "product", "lisi"),
        ("物流问题", "logistics", "zhaoliu"),
        ("服务态度", "support", "wangwu"),
    ],
)
def test_complaint_type_routes_to_the_department_head(
    flow, new_run, complaint_type, department, head
):
    run = new_run(flow)
    run.accept_and_submit("xiaomei", "accept.1", type=complaint_type)
    assert run.department == department
    assert DepartmentChanged(department, None) in run.last.effects
    assert run.state.current == ("handle",)
    assert run.last.of_type(TaskOpened) == [TaskOpened("handle.1", "handle", (head,), head)]
    assert run.task("handle.1").accepted is False  # assigned, not yet accepted


def test_small_compensation_goes_straight_to_followup_and_closes(flow, new_run):
    run = new_run(flow, type="产品质量", description="屏幕有坏点")
    run.do(A.ACCEPT, "xiaomei", "accept.1")
    assert run.status == "in_progress"
    assert run.state.first_response_by == "xiaomei"
    run.do(A.SUBMIT, "xiaomei", "accept.1")
    run.accept_and_submit("lisi", "handle.1", solution="换新", compensation=500)
    assert [e.step_id for e in run.last.of_type(StepEntered)] == ["check_amount", "followup"]
    assert StepCompleted("check_amount", "赔偿金额判断", 1, None, "else") in run.last.effects
    assert run.status == "resolved"
    run.accept_and_submit("zhangsan", "followup.1", satisfaction=5)
    assert run.last.of_type(FlowEnded) == [FlowEnded("closed")]
    assert run.state.ended and run.state.tasks == () and run.state.current == ()
    assert run.status == "closed"
    assert run.values == {
        "type": "产品质量",
        "description": "屏幕有坏点",
        "solution": "换新",
        "compensation": 500,
        "satisfaction": 5,
    }
    visited = [(v.step_id, v.outcome) for v in run.state.history]
    assert visited == [
        ("accept", "done"),
        ("route", '投诉类型 == "产品质量"'),
        ("handle", "done"),
        ("check_amount", "else"),
        ("followup", "done"),
        ("end", "closed"),
    ]


def test_missing_compensation_counts_as_small(flow, new_run):
    run = new_run(flow, type="物流问题")
    run.accept_and_submit("xiaomei", "accept.1")
    run.accept_and_submit("zhaoliu", "handle.1", solution="补发")
    assert run.state.current == ("followup",)
    assert run.last.of_type(ConditionFailed)[0].step_id == "check_amount"


def test_large_compensation_needs_both_signatures(flow, new_run):
    run = new_run(flow, type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    run.accept_and_submit("lisi", "handle.1", solution="退款", compensation=2000)
    assert run.state.current == ("signoff",)
    assert run.task_ids == ["signoff.1.qianqi", "signoff.1.zhangsan"]
    assert run.last.of_type(TimerRequested) == [
        TimerRequested("signoff:1", "signoff", "breached", timedelta(hours=8))
    ]
    run.do(A.APPROVE, "qianqi", "signoff.1.qianqi")
    assert run.state.current == ("signoff",)
    assert run.task_ids == ["signoff.1.zhangsan"]
    run.do(A.APPROVE, "zhangsan", "signoff.1.zhangsan")
    assert StepCompleted("signoff", "大额赔偿会签", 1, "zhangsan", "approved") in run.last.effects
    assert TimersCancelled("signoff:1") in run.last.effects
    assert run.state.current == ("followup",)
    assert run.state.signatures == ()


def test_one_rejection_cancels_the_other_signature_and_returns_to_handling(flow, new_run):
    run = new_run(flow, type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    run.accept_and_submit("lisi", "handle.1", solution="退款", compensation=2000)
    run.do(A.REJECT, "zhangsan", "signoff.1.zhangsan", text="金额过高")
    closed = run.last.of_type(TaskClosed)
    assert TaskClosed("signoff.1.zhangsan", "signoff", "rejected", "zhangsan") in closed
    assert TaskClosed("signoff.1.qianqi", "signoff", "cancelled", "zhangsan") in closed
    assert run.state.current == ("handle",)
    assert run.task_ids == ["handle.2"]
    assert run.task("handle.2").assignee == "lisi"
    assert run.state.activations["handle"] == 2
    assert run.refused(A.APPROVE, "qianqi", "signoff.1.qianqi") == "该步骤已完成"
    # Second round: a smaller amount goes to followup.
    run.accept_and_submit("lisi", "handle.2", solution="部分退款", compensation=800)
    assert run.state.current == ("followup",)


def test_second_signoff_round_is_a_new_activation(flow, new_run):
    run = new_run(flow, type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    run.accept_and_submit("lisi", "handle.1", solution="退款", compensation=2000)
    run.do(A.REJECT, "qianqi", "signoff.1.qianqi")
    run.accept_and_submit("lisi", "handle.2", solution="退款", compensation=1500)
    assert run.task_ids == ["signoff.2.qianqi", "signoff.2.zhangsan"]
    assert run.refused(A.APPROVE, "qianqi", "signoff.1.qianqi") == "该步骤已完成"
    run.do(A.APPROVE, "qianqi", "signoff.2.qianqi")
    run.do(A.APPROVE, "zhangsan", "signoff.2.zhangsan")
    assert run.state.current == ("followup",)


def test_any_mode_completes_on_the_first_approval(flow_doc, new_run):
    from bot.workflow import FlowDefinition

    flow_doc["steps"][4]["mode"] = "any"
    run = new_run(FlowDefinition.model_validate(flow_doc), type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    run.accept_and_submit("lisi", "handle.1", solution="退款", compensation=2000)
    run.do(A.APPROVE, "zhangsan", "signoff.1.zhangsan")
    assert TaskClosed("signoff.1.qianqi", "signoff", "cancelled", "zhangsan") in run.last.effects
    assert run.state.current == ("followup",)


def test_effects_alone_tell_the_whole_story(flow, new_run):
    run = new_run(flow, type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    run.accept_and_submit("lisi", "handle.1", solution="换新")
    run.accept_and_submit("xiaomei", "followup.1", satisfaction=4)
    opened = {e.task_id for e in run.effects if isinstance(e, TaskOpened)}
    closed = {e.task_id for e in run.effects if isinstance(e, TaskClosed)}
    assert opened == closed == {"accept.1", "handle.1", "followup.1"}
    accepted = [e.by for e in run.effects if isinstance(e, TaskAccepted)]
    assert accepted == ["xiaomei", "lisi", "xiaomei"]
    requested = {e.subject for e in run.effects if isinstance(e, TimerRequested)}
    cancelled = {e.subject for e in run.effects if isinstance(e, TimersCancelled)}
    assert requested == cancelled == {"accept:1", "handle:1", "followup:1"}
