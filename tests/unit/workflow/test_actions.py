"""Each action of a person on a task: what it does and every reason it is refused."""

from __future__ import annotations

import pytest

from bot.errors import WorkflowError
from bot.workflow import (
    CUSTOMER,
    FLOW_KEY,
    Action,
    ActionKind,
    AssigneeChanged,
    Commented,
    DepartmentChanged,
    FieldsWritten,
    FlowDefinition,
    TaskAccepted,
    act,
)

A = ActionKind


@pytest.fixture
def at_handle(flow, new_run):
    """A product-quality complaint waiting for 李四 (department head) to accept."""
    run = new_run(flow, type="产品质量", description="屏幕坏点")
    run.accept_and_submit("xiaomei", "accept.1")
    return run


# --- accept --------------------------------------------------------------------------------------


def test_shared_queue_is_claimed_by_the_first_accept(flow, new_run):
    run = new_run(flow)
    run.do(A.ACCEPT, "xiaomei", "accept.1")
    assert run.last.of_type(TaskAccepted) == [TaskAccepted("accept.1", "xiaomei")]
    task = run.task("accept.1")
    assert (task.assignee, task.accepted) == ("xiaomei", True)
    assert run.refused(A.ACCEPT, "zhangsan", "accept.1") == "已由 小美 受理"
    assert run.refused(A.SUBMIT, "zhangsan", "accept.1") == "已由 小美 受理"
    assert run.refused(A.ACCEPT, "xiaomei", "accept.1") == "你已受理"


def test_accept_is_refused_to_people_outside_the_step(flow, new_run):
    run = new_run(flow)
    assert run.refused(A.ACCEPT, "lisi", "accept.1") == "这一步不归你处理"
    assert run.refused(A.ACCEPT, "nobody", "accept.1") == "这一步不归你处理"


def test_task_ids_must_name_an_open_task(flow, new_run):
    run = new_run(flow)
    assert run.refused(A.ACCEPT, "xiaomei") == "请指明要处理的任务"
    assert run.refused(A.ACCEPT, "xiaomei", "accept.7") == "找不到该任务"
    assert run.refused(A.ACCEPT, "xiaomei", "nonsense") == "找不到该任务"


def test_a_single_assignee_task_waits_for_its_acceptance(at_handle):
    run = at_handle
    assert run.refused(A.SUBMIT, "lisi", "handle.1", values={"solution": "x"}) == "请先受理再提交"
    assert run.refused(A.ACCEPT, "wangwu", "handle.1") == "这一步不归你处理"
    run.do(A.ACCEPT, "lisi", "handle.1")
    assert run.task("handle.1").accepted


def test_first_response_is_recorded_once(at_handle):
    run = at_handle
    first = (run.state.first_response_at, run.state.first_response_by)
    run.do(A.ACCEPT, "lisi", "handle.1")
    assert (run.state.first_response_at, run.state.first_response_by) == first


# --- submit --------------------------------------------------------------------------------------


def test_submit_requires_the_required_fields(at_handle):
    run = at_handle
    run.do(A.ACCEPT, "lisi", "handle.1")
    assert run.refused(A.SUBMIT, "lisi", "handle.1") == "请填写解决方案"
    assert run.refused(A.SUBMIT, "lisi", "handle.1", values={"solution": "  "}) == "请填写解决方案"


def test_submit_refuses_fields_outside_write(at_handle):
    run = at_handle
    run.do(A.ACCEPT, "lisi", "handle.1")
    reason = run.refused(A.SUBMIT, "lisi", "handle.1", values={"solution": "x", "满意度": 5})
    assert reason == "「满意度」不能在这一步填写"


def test_submit_accepts_labels_and_writes_by_key(at_handle):
    run = at_handle
    run.do(A.ACCEPT, "lisi", "handle.1")
    run.do(A.SUBMIT, "lisi", "handle.1", values={"解决方案": "换新", "赔偿金额": 1200})
    assert run.last.of_type(FieldsWritten) == [
        FieldsWritten({"solution": "换新", "compensation": 1200}, "lisi", "handle")
    ]
    # The new amount is visible to the next condition in the same transition.
    assert run.state.current == ("signoff",)


def test_required_field_already_on_the_complaint_is_enough(flow, new_run):
    run = new_run(flow, type="服务态度", solution="已道歉")
    run.accept_and_submit("xiaomei", "accept.1")
    run.accept_and_submit("wangwu", "handle.1")
    assert run.state.current == ("followup",)
    assert not [e for e in run.last.effects if isinstance(e, FieldsWritten)]


def test_submit_on_a_signoff_is_refused(at_handle):
    run = at_handle
    run.accept_and_submit("lisi", "handle.1", solution="x", compensation=5000)
    assert run.refused(A.SUBMIT, "qianqi", "signoff.1.qianqi") == "会签请选择同意或驳回"


def test_stale_card_of_a_completed_step_is_refused(at_handle):
    run = at_handle
    assert run.refused(A.SUBMIT, "xiaomei", "accept.1") == "该步骤已完成"
    assert run.refused(A.ACCEPT, "zhangsan", "accept.1") == "该步骤已完成"


# --- approve / reject ----------------------------------------------------------------------------


def test_approve_is_for_signoffs_and_their_signers(at_handle):
    run = at_handle
    assert run.refused(A.APPROVE, "lisi", "handle.1") == "这一步不是会签"
    run.accept_and_submit("lisi", "handle.1", solution="x", compensation=5000)
    assert run.refused(A.APPROVE, "lisi", "signoff.1.qianqi") == "这一步不归你处理"
    assert run.refused(A.REJECT, "qianqi", "signoff.1.zhangsan") == "这一步不归你处理"


def test_shared_signoff_slot_is_taken_by_the_first_signer(flow_doc, new_run):
    flow_doc["steps"][4]["assignees"] = [{"role": "客服"}, {"role": "财务审核"}]
    run = new_run(FlowDefinition.model_validate(flow_doc), type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    run.accept_and_submit("lisi", "handle.1", solution="x", compensation=5000)
    assert run.task_ids == ["signoff.1.slot1", "signoff.1.qianqi"]
    assert run.task("signoff.1.slot1").candidates == ("zhangsan", "xiaomei")
    run.do(A.ACCEPT, "xiaomei", "signoff.1.slot1")
    assert run.refused(A.APPROVE, "zhangsan", "signoff.1.slot1") == "已由 小美 受理"
    run.do(A.APPROVE, "xiaomei", "signoff.1.slot1")
    run.do(A.APPROVE, "qianqi", "signoff.1.qianqi")
    assert run.state.current == ("followup",)


def test_the_same_person_named_twice_signs_once(flow_doc, new_run):
    flow_doc["steps"][4]["assignees"] = [{"person": "qianqi"}, {"role": "财务审核"}]
    run = new_run(FlowDefinition.model_validate(flow_doc), type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    run.accept_and_submit("lisi", "handle.1", solution="x", compensation=5000)
    assert run.task_ids == ["signoff.1.qianqi"]


# --- transfer ------------------------------------------------------------------------------------


def test_transfer_hands_the_task_to_another_person_who_must_accept(at_handle):
    run = at_handle
    run.do(A.ACCEPT, "lisi", "handle.1")
    run.do(A.TRANSFER, "lisi", "handle.1", target="wangwu", text="技术问题")
    assert run.last.of_type(AssigneeChanged) == [
        AssigneeChanged("handle.1", "lisi", "wangwu", "lisi", "技术问题", ("wangwu",))
    ]
    task = run.task("handle.1")
    assert (task.candidates, task.assignee, task.accepted) == (("wangwu",), "wangwu", False)
    assert run.refused(A.SUBMIT, "lisi", "handle.1", values={"solution": "x"}) == "这一步不归你处理"
    run.accept_and_submit("wangwu", "handle.1", solution="远程修复")
    assert run.state.current == ("followup",)


def test_transfer_refusals(at_handle):
    run = at_handle
    assert run.refused(A.TRANSFER, "wangwu", "handle.1", target="zhaoliu") == "这一步不归你处理"
    assert run.refused(A.TRANSFER, "lisi", "handle.1") == "请选择转交对象"
    assert run.refused(A.TRANSFER, "lisi", "handle.1", target="ghost") == "找不到此人"
    assert run.refused(A.TRANSFER, "lisi", "handle.1", target="lisi") == "已经由 李四 处理"


# --- department ----------------------------------------------------------------------------------


def test_assign_department_moves_a_department_task_to_the_new_head(at_handle):
    run = at_handle
    run.do(A.ACCEPT, "lisi", "handle.1")
    run.do(A.ASSIGN_DEPARTMENT, "lisi", "handle.1", target="logistics")
    assert run.department == "logistics"
    assert DepartmentChanged("logistics", "product") in run.last.effects
    assert run.last.of_type(AssigneeChanged) == [
        AssigneeChanged("handle.1", "lisi", "zhaoliu", "lisi", "转部门", ("zhaoliu",))
    ]
    assert run.task("handle.1").accepted is False
    assert run.refused(A.ACCEPT, "lisi", "handle.1") == "这一步不归你处理"


def test_assign_department_to_a_member_queue(flow_doc, new_run):
    flow_doc["steps"][2]["assignee"] = {"department": "complaint"}
    run = new_run(FlowDefinition.model_validate(flow_doc), type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    run.do(A.ACCEPT, "lisi", "handle.1")
    run.do(A.ASSIGN_DEPARTMENT, "lisi", "handle.1", target="cs")
    task = run.task("handle.1")
    assert (task.candidates, task.assignee) == (("zhangsan", "xiaomei"), None)


def test_assign_department_refusals(at_handle, flow, new_run):
    run = at_handle
    assert run.refused(A.ASSIGN_DEPARTMENT, "wangwu", "handle.1", target="cs") == "这一步不归你处理"
    run.do(A.ACCEPT, "lisi", "handle.1")
    assert run.refused(A.ASSIGN_DEPARTMENT, "lisi", "handle.1") == "请选择部门"
    assert run.refused(A.ASSIGN_DEPARTMENT, "lisi", "handle.1", target="hr") == "找不到这个部门"
    same = run.refused(A.ASSIGN_DEPARTMENT, "lisi", "handle.1", target="product")
    assert same == "已经在产品部"
    fresh = new_run(flow)
    # A queue member must claim the task before routing it (张三 is a supervisor, 小美 is not).
    assert fresh.refused(A.ASSIGN_DEPARTMENT, "xiaomei", "accept.1", target="cs") == "请先受理"


def test_department_chosen_at_intake_is_overridden_by_the_branch(flow, new_run):
    run = new_run(flow, type="物流问题")
    run.do(A.ACCEPT, "xiaomei", "accept.1")
    run.do(A.ASSIGN_DEPARTMENT, "xiaomei", "accept.1", target="product")
    assert run.department == "product"
    assert run.task("accept.1").assignee == "xiaomei"  # a role task does not follow departments
    run.do(A.SUBMIT, "xiaomei", "accept.1")
    assert run.department == "logistics"


# --- comment -------------------------------------------------------------------------------------


def test_comment_by_people_involved_and_the_customer(at_handle):
    run = at_handle
    run.do(A.COMMENT, "lisi", text="已联系客户")
    assert run.last.effects == (Commented("lisi", "已联系客户"),)
    assert run.last.state == run.state
    run.do(A.COMMENT, CUSTOMER, text="请尽快")
    assert run.refused(A.COMMENT, "qianqi", text="?") == "你不是该投诉的处理人"
    assert run.refused(A.COMMENT, "lisi", text="  ") == "请输入评论内容"


def test_comment_changes_nothing_but_the_effects(at_handle):
    run = at_handle
    before = run.state
    transition = act(run.flow, before, Action(A.COMMENT, "lisi", text="hi"), run.ctx())
    assert transition.state == before


# --- available actions ---------------------------------------------------------------------------


def test_available_actions_follow_the_guards(flow, new_run):
    run = new_run(flow)
    assert run.can("xiaomei") == {"accept.1": (A.ACCEPT, A.TRANSFER), FLOW_KEY: (A.COMMENT,)}
    assert run.can("lisi") == {}
    # 张三 heads 客服部: before routing he supervises the step too.
    assert run.can("zhangsan")["accept.1"] == (
        A.ACCEPT,
        A.TRANSFER,
        A.ASSIGN_DEPARTMENT,
        A.REMIND,
        A.REASSIGN,
        A.TAKE_OVER,
        A.EXTEND,
    )
    run.do(A.ACCEPT, "xiaomei", "accept.1")
    assert run.can("xiaomei")["accept.1"] == (A.SUBMIT, A.TRANSFER, A.ASSIGN_DEPARTMENT)
    run.do(A.SUBMIT, "xiaomei", "accept.1", values={"type": "产品质量"})
    assert run.can("lisi")["handle.1"][0] == A.ACCEPT
    assert FLOW_KEY in run.can("lisi")


def test_unknown_action_kind_is_a_workflow_error(at_handle):
    run = at_handle
    with pytest.raises(WorkflowError):
        act(run.flow, run.state, Action("teleport", "lisi", "handle.1"), run.ctx())  # type: ignore[arg-type]
