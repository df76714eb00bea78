"""Cards built from a complaint view: department choice, comments, replies, the paused clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.cards.build import (
    ACTION_LABELS,
    CARD_ONLY_ACTIONS,
    DepartmentOption,
    PersonOption,
    StepInfo,
    build_escalation_card,
    build_task_card,
    waiting_on_customer,
)
from bot.cards.model import Card, card_as_text
from bot.domain.complaint import ComplaintView, TimelineLine

T0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
PEOPLE = (
    PersonOption("zhangsan", "张三", "客服部"),
    PersonOption("xiaomei", "小美", "客服部"),
    PersonOption("lisi", "李四", "产品部"),
    PersonOption("zhaoliu", "赵六", "物流部"),
)
STEP = StepInfo("handle", "部门处理", None, (("solution", "解决方案", True),))
HOLDER = ("submit", "transfer", "assign_department")


def view(*summaries: str, status: str = "in_progress") -> ComplaintView:
    return ComplaintView(
        number="TS20261123-0001",
        status=status,
        type="产品质量",
        step_id="handle",
        step_name="部门处理",
        department_name="产品部",
        assignee_name="李四",
        customer_name="王小明",
        created_at=T0,
        values=(),
        timeline=tuple(
            TimelineLine(T0 + timedelta(minutes=i), "李四", s) for i, s in enumerate(summaries)
        ),
    )


def card(actions: tuple[str, ...] = HOLDER, v: ComplaintView | None = None, **kw: object) -> Card:
    return build_task_card(
        v or view("进入「部门处理」"),
        ref="cb-1",
        task_id="t1",
        step=STEP,
        viewer="lisi",
        actions=actions,
        people=PEOPLE,
        tz=UTC,
        **kw,  # type: ignore[arg-type]
    )


def ids(c: Card) -> list[str]:
    return [a.id for a in c.actions]


def test_assign_department_is_a_button_with_a_department_select() -> None:
    c = card()
    assert ("assign_department", "转部门") in [(a.id, a.label) for a in c.actions]
    select = next(s for s in c.selects if s.key == "department")
    assert select.for_actions == ("assign_department",)
    assert [o.text for o in select.options] == ["客服部", "产品部", "物流部"]
    assert select.selected == "产品部"  # the complaint's department is preselected


def test_department_options_come_from_the_directory_when_given() -> None:
    departments = (DepartmentOption("product", "产品部"), DepartmentOption("finance", "财务部"))
    select = next(s for s in card(departments=departments).selects if s.key == "department")
    assert [(o.id, o.text) for o in select.options] == [
        ("product", "产品部"),
        ("finance", "财务部"),
    ]
    assert select.selected == "product"


def test_no_department_select_without_the_action() -> None:
    assert all(s.key != "department" for s in card(("submit", "transfer")).selects)


def test_workers_may_comment_and_reply_to_the_customer_with_one_text_box() -> None:
    c = card(("accept",))
    assert ids(c) == ["accept", "reply_customer", "comment"]
    (box,) = [i for i in c.inputs if i.key == "comment"]
    assert set(box.for_actions) == {"comment", "reply_customer"}
    assert "wait_customer" not in ids(c)  # not accepted yet: cannot stop the clock


def test_a_viewer_without_actions_gets_a_read_only_card() -> None:
    c = card(())
    assert c.actions == () and c.inputs == () and c.selects == ()


def test_the_holder_may_wait_for_the_customer_with_an_optional_question() -> None:
    c = card()
    assert ids(c)[-3:] == ["wait_customer", "reply_customer", "comment"]
    (question,) = [i for i in c.inputs if i.key == "question"]
    assert question.for_actions == ("wait_customer",) and not question.required
    assert set(CARD_ONLY_ACTIONS) <= set(ACTION_LABELS)


def test_a_paused_clock_shows_on_the_card_and_cannot_be_paused_again() -> None:
    paused = view("进入「部门处理」", "等待客户补充信息，计时暂停：请提供订单截图", "回复客户：…")
    c = card(v=paused)
    assert waiting_on_customer(paused)
    assert (c.badge, c.badge_tone) == ("等待客户补充", "warning")
    assert "计时已暂停" in c.subtitle
    assert "wait_customer" not in ids(c) and "submit" in ids(c)


def test_the_customer_answering_or_a_new_step_ends_the_wait() -> None:
    resumed = view("等待客户补充信息，计时暂停", "评论：截图在这", "客户已补充信息，恢复计时")
    moved = view("等待客户补充信息，计时暂停", "进入「客户回访」")
    for v in (resumed, moved):
        assert not waiting_on_customer(v)
        assert card(v=v).badge == "处理中"


def test_escalation_cards_offer_only_the_supervision_actions() -> None:
    c = build_escalation_card(
        view(),
        ref="cb-e",
        task_id="t1",
        viewer="boss",
        actions=("remind", "reassign"),
        people=PEOPLE,
        tz=UTC,
        message="已超时",
    )
    assert ids(c) == ["remind", "reassign"]


def test_settled_cards_have_no_card_only_actions() -> None:
    assert card(outcome="已由 李四 提交").actions == ()


def test_without_free_text_drops_text_buttons_and_inputs() -> None:
    stripped = card().without_free_text()
    assert ids(stripped) == ["submit", "transfer", "assign_department", "wait_customer"]
    assert stripped.inputs == ()
    assert {s.key for s in stripped.selects} == {"assignee", "department"}
    only_text = replace(card(("accept",)), actions=card(("accept",)).actions[1:])
    assert only_text.without_free_text().actions == ()


def test_text_fallback_hints_that_comments_need_content() -> None:
    text = card_as_text(card(("accept",)))
    assert "评论 TS20261123-0001 内容" in text and "受理 TS20261123-0001\n" in text


def test_new_cards_survive_the_outbox_round_trip() -> None:
    c = card()
    assert Card.from_dict(c.to_dict()) == c
