"""Supervisor actions on a late step, and closing, cancelling and reopening a complaint."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.workflow import (
    CUSTOMER,
    ActionKind,
    AssigneeChanged,
    Commented,
    DeadlineExtended,
    FlowDefinition,
    FlowEnded,
    Reminded,
    Reopened,
    StepCompleted,
    TaskAccepted,
    TaskClosed,
    TaskOpened,
    TimerRequested,
    TimersCancelled,
)

A = ActionKind


@pytest.fixture
def managed_flow(flow_doc):
    """The example flow with 管理层 as supervisors and a warning 2h before the handling limit."""
    flow_doc["supervisors"] = [{"role": "管理层"}]
    flow_doc["steps"][2]["warn_before"] = "2h"
    return FlowDefinition.model_validate(flow_doc)


@pytest.fixture
def late(managed_flow, new_run):
    """Handling by 李四 (product) is running late."""
    run = new_run(managed_flow, type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    return run


# --- timers --------------------------------------------------------------------------------------


def test_entering_a_timed_step_requests_its_timers(late):
    assert late.last.of_type(TimerRequested) == [
        TimerRequested("handle:1", "handle", "warning", timedelta(hours=22)),
        TimerRequested("handle:1", "handle", "breached", timedelta(hours=24)),
        TimerRequested("handle:1", "handle", "escalated", timedelta(hours=48)),
    ]
    assert TimersCancelled("accept:1") in late.last.effects


def test_completing_a_step_cancels_its_timers(late):
    late.accept_and_submit("lisi", "handle.1", solution="换新")
    assert TimersCancelled("handle:1") in late.last.effects
    assert late.last.of_type(TimerRequested) == [
        TimerRequested("followup:1", "followup", "breached", timedelta(hours=24))
    ]


def test_rejection_gives_the_step_fresh_timers(late):
    late.accept_and_submit("lisi", "handle.1", solution="退款", compensation=3000)
    late.do(A.REJECT, "qianqi", "signoff.1.qianqi")
    assert TimersCancelled("signoff:1") in late.last.effects
    subjects = {t.subject for t in late.last.of_type(TimerRequested)}
    assert subjects == {"handle:2"}


# --- remind / reassign / take over / extend ------------------------------------------------------


def test_flow_supervisors_and_the_department_head_supervise(late):
    late.do(A.REMIND, "boss", "handle.1")
    assert late.last.effects == (Reminded("handle.1", "boss"),)
    late.do(A.REMIND, "lisi", "handle.1")  # head of the complaint's department
    assert late.refused(A.REMIND, "xiaomei", "handle.1") == "只有主管可以催办"


def test_step_supervisors_override_the_flow_supervisors(flow_doc, new_run):
    flow_doc["supervisors"] = [{"role": "管理层"}]
    flow_doc["steps"][2]["supervisors"] = [{"person": "zhangsan"}]
    run = new_run(FlowDefinition.model_validate(flow_doc), type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    run.do(A.REMIND, "zhangsan", "handle.1")
    assert run.refused(A.REMIND, "boss", "handle.1") == "只有主管可以催办"


def test_without_configured_supervisors_the_complaint_department_head_supervises(flow, new_run):
    unsupervised = flow.model_copy(update={"supervisors": None})
    run = new_run(unsupervised, type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    assert run.refused(A.REASSIGN, "boss", "handle.1", target="wangwu") == "只有主管可以改派"
    run.do(A.REASSIGN, "lisi", "handle.1", target="wangwu")
    assert run.task("handle.1").assignee == "wangwu"


def test_reassign_moves_the_task(late):
    late.do(A.ACCEPT, "lisi", "handle.1")
    late.do(A.REASSIGN, "boss", "handle.1", target="wangwu", text="李四休假")
    assert late.last.effects == (
        AssigneeChanged("handle.1", "lisi", "wangwu", "boss", "李四休假", ("wangwu",)),
    )
    task = late.task("handle.1")
    assert (task.assignee, task.accepted) == ("wangwu", False)


def test_reassign_refusals(late):
    assert late.refused(A.REASSIGN, "xiaomei", "handle.1", target="wangwu") == "只有主管可以改派"
    assert late.refused(A.REASSIGN, "boss", "handle.1") == "请选择改派对象"
    assert late.refused(A.REASSIGN, "boss", "handle.1", target="ghost") == "找不到此人"
    assert late.refused(A.REASSIGN, "boss", "handle.1", target="lisi") == "已经由 李四 处理"


def test_take_over_makes_the_supervisor_the_accepted_assignee(late):
    late.do(A.TAKE_OVER, "boss", "handle.1")
    assert late.last.effects == (
        AssigneeChanged("handle.1", "lisi", "boss", "boss", "接手", ("boss",)),
        TaskAccepted("handle.1", "boss"),
    )
    late.do(A.SUBMIT, "boss", "handle.1", values={"solution": "总经理亲自处理"})
    assert late.state.current == ("followup",)


def test_take_over_refusals(late):
    assert late.refused(A.TAKE_OVER, "xiaomei", "handle.1") == "只有主管可以接手"
    late.do(A.TAKE_OVER, "boss", "handle.1")
    assert late.refused(A.TAKE_OVER, "boss", "handle.1") == "你已在处理"


def test_extend_shifts_every_timer_and_accumulates(late):
    late.do(A.EXTEND, "boss", "handle.1", extend_by=timedelta(hours=4), text="等待厂家检测")
    assert late.last.effects == (
        DeadlineExtended("handle:1", "boss", timedelta(hours=4), "等待厂家检测"),
        TimersCancelled("handle:1"),
        TimerRequested("handle:1", "handle", "warning", timedelta(hours=26)),
        TimerRequested("handle:1", "handle", "breached", timedelta(hours=28)),
        TimerRequested("handle:1", "handle", "escalated", timedelta(hours=52)),
    )
    late.do(A.EXTEND, "boss", "handle.1", extend_by=timedelta(hours=2), text="再等等")
    assert late.state.extensions == {"handle:1": timedelta(hours=6)}
    breached = [t for t in late.last.of_type(TimerRequested) if t.level == "breached"]
    assert breached[0].after == timedelta(hours=30)
    late.accept_and_submit("lisi", "handle.1", solution="x")
    assert late.state.extensions == {}


def test_extend_refusals(late, flow_doc, new_run):
    assert late.refused(A.EXTEND, "xiaomei", "handle.1") == "只有主管可以延期"
    assert late.refused(A.EXTEND, "boss", "handle.1", text="x") == "请填写延期时长"
    zero = late.refused(A.EXTEND, "boss", "handle.1", text="x", extend_by=timedelta(0))
    assert zero == "请填写延期时长"
    assert (
        late.refused(A.EXTEND, "boss", "handle.1", extend_by=timedelta(hours=1)) == "请填写延期原因"
    )
    del flow_doc["steps"][2]["time_limit"], flow_doc["steps"][2]["escalate_after"]
    run = new_run(FlowDefinition.model_validate(flow_doc), type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    untimed = run.refused(A.EXTEND, "lisi", "handle.1", extend_by=timedelta(hours=1), text="x")
    assert untimed == "该步骤没有时限"


def test_an_unstaffed_step_waits_for_a_supervisor(managed_flow, directory, form_fields):
    from dataclasses import replace

    from tests.unit.workflow.conftest import Run

    departments = dict(directory.departments)
    departments["product"] = replace(departments["product"], head=None)
    headless = replace(directory, departments=departments)
    run = Run(managed_flow, headless, form_fields, {"type": "产品质量"})
    run.accept_and_submit("xiaomei", "accept.1")
    task = run.task("handle.1")
    assert (task.candidates, task.assignee) == ((), None)
    assert run.refused(A.ACCEPT, "lisi", "handle.1") == "这一步不归你处理"
    run.do(A.REASSIGN, "boss", "handle.1", target="wangwu")
    run.accept_and_submit("wangwu", "handle.1", solution="x")
    assert run.state.current == ("followup",)


# --- close / cancel / reopen ---------------------------------------------------------------------


def test_close_ends_the_flow_now(late):
    late.do(A.CLOSE, "boss", text="客户已满意")
    assert late.last.effects == (
        Commented("boss", "客户已满意"),
        TaskClosed("handle.1", "handle", "cancelled", "boss"),
        TimersCancelled("handle:1"),
        StepCompleted("handle", "部门处理", 1, "boss", "closed"),
        FlowEnded("closed"),
    )
    assert late.state.ended and late.state.tasks == () and late.state.current == ()
    assert late.status == "closed"
    assert late.refused(A.CLOSE, "boss") == "该投诉已结案"
    assert late.refused(A.SUBMIT, "lisi", "handle.1") == "该投诉已结案"


def test_close_needs_a_supervisor(late):
    assert late.refused(A.CLOSE, "xiaomei") == "只有主管可以结案"


def test_customer_withdraws(late):
    late.do(A.CANCEL, CUSTOMER, text="问题已自行解决")
    assert late.last.of_type(FlowEnded) == [FlowEnded("cancelled")]
    assert late.status == "cancelled"
    assert late.refused(A.CANCEL, CUSTOMER) == "该投诉已撤销"
    assert late.refused(A.REOPEN, "boss") == "投诉已撤销，不能重新打开"
    assert late.refused(A.ACCEPT, "lisi", "handle.1") == "该投诉已撤销"


def test_staff_other_than_supervisors_cannot_cancel(late):
    assert late.refused(A.CANCEL, "xiaomei") == "只有客户本人或主管可以撤销投诉"
    late.do(A.CANCEL, "boss")
    assert late.status == "cancelled"


def test_reopen_after_close_starts_again_at_the_first_task(late):
    late.accept_and_submit("lisi", "handle.1", solution="换新")
    late.accept_and_submit("xiaomei", "followup.1", satisfaction=1)
    assert late.status == "closed"
    assert late.refused(A.REOPEN, "xiaomei") == "只有主管可以重新打开"
    late.do(A.REOPEN, "boss", text="客户不满意")
    assert Reopened("boss") in late.last.effects
    assert late.last.of_type(TaskOpened) == [
        TaskOpened("accept.2", "accept", ("zhangsan", "xiaomei"), None)
    ]
    assert late.state.reopened == 1 and not late.state.ended and late.state.outcome is None
    assert late.status == "in_progress"
    assert late.refused(A.SUBMIT, "xiaomei", "followup.1") == "该步骤已完成"


def test_reopen_while_resolved_cancels_the_followup(late):
    late.accept_and_submit("lisi", "handle.1", solution="换新")
    assert late.status == "resolved"
    late.do(A.ACCEPT, "zhangsan", "followup.1")
    assert late.refused(A.REOPEN, "xiaomei") == "只有主管或回访人可以重新打开"
    late.do(A.REOPEN, "zhangsan")
    assert TaskClosed("followup.1", "followup", "cancelled", "zhangsan") in late.last.effects
    assert late.state.current == ("accept",)
    assert late.state.reopened == 1


def test_reopen_is_refused_while_in_progress(late):
    assert late.refused(A.REOPEN, "boss") == "投诉还在处理中，无需重新打开"
