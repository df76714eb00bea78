"""The WeCom renderer: every neutral card shape becomes a template_card WeCom accepts."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cards.model import Card, CardAction, CardEvent, CardField, CardOption, CardSelect
from bot.channels.wecom.cards import (
    CHOICE_QUESTION_KEY,
    CHOICE_SUBMIT_KEY,
    WecomCardError,
    card_as_markdown,
    card_ref_from_task_id,
    clip,
    clip_bytes,
    fresh_task_id,
    render_wecom_card,
    wecom_task_id,
)
from tests.fakes.wecom_server import template_card_problems
from tests.unit.channels.wecom.samples import (
    ALL_SHAPES,
    PEOPLE,
    assignee_card,
    escalation_card,
    notice_card,
    settled_card,
    task_card,
    two_select_card,
)

AGENT = 1000002
LINK = "https://bot.example.com/c/TS20241123-0001"
TASK_ID = re.compile(r"^[A-Za-z0-9_@-]{1,128}$")


def render(card: Card, **kwargs: object) -> dict:
    return render_wecom_card(card, agent_id=AGENT, link=LINK, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", ALL_SHAPES.values(), ids=ALL_SHAPES.keys())
def test_every_card_shape_renders_a_template_card_wecom_accepts(make: Callable[[], Card]) -> None:
    body = render(make())
    template = body["template_card"]
    assert body["msgtype"] == "template_card" and body["agentid"] == AGENT
    assert template_card_problems(template) == []
    assert len(template.get("button_list", [])) <= 6
    assert TASK_ID.match(template["task_id"]) and len(template["task_id"].encode()) <= 128
    selects = template.get("select_list", []) + (
        [template["button_selection"]] if "button_selection" in template else []
    )
    for select in selects:
        assert len(select["question_key"].encode()) <= 1024
        assert all(0 < len(o["id"].encode()) <= 128 for o in select["option_list"])


@pytest.mark.parametrize("make", ALL_SHAPES.values(), ids=ALL_SHAPES.keys())
def test_rendering_is_deterministic_and_survives_the_outbox_round_trip(
    make: Callable[[], Card],
) -> None:
    card = make()
    assert render(card) == render(card)
    assert render(Card.from_dict(card.to_dict())) == render(card)


def test_task_id_is_the_card_ref_so_a_click_names_the_card() -> None:
    card = task_card()
    assert render(card)["template_card"]["task_id"] == card.ref
    assert card_ref_from_task_id(card.ref) == card.ref


def test_buttons_only_card_is_button_interaction_with_action_keys_and_styles() -> None:
    template = render(task_card())["template_card"]
    assert template["card_type"] == "button_interaction"
    assert "button_selection" not in template
    assert template["button_list"] == [
        {"type": 0, "text": "受理", "style": 1, "key": "act:accept"},
        {"type": 0, "text": "转交", "style": 4, "key": "act:transfer"},
    ]


def test_one_select_becomes_a_button_selection_with_its_preselected_option() -> None:
    template = render(assignee_card())["template_card"]
    assert template["card_type"] == "button_interaction"
    selection = template["button_selection"]
    assert selection["question_key"] == "assignee"
    assert selection["selected_id"] == "wangwu"
    assert [o["id"] for o in selection["option_list"]] == [p.id for p in PEOPLE]


def test_two_selects_become_multiple_interaction_with_an_action_chooser() -> None:
    template = render(two_select_card())["template_card"]
    assert template["card_type"] == "multiple_interaction"
    keys = [s["question_key"] for s in template["select_list"]]
    assert keys == ["assignee", "department", CHOICE_QUESTION_KEY]
    chooser = template["select_list"][-1]
    assert [o["id"] for o in chooser["option_list"]] == ["accept", "transfer"]
    assert chooser["selected_id"] == "transfer"  # the action the selects are for
    assert template["submit_button"]["key"] == CHOICE_SUBMIT_KEY


def test_two_selects_with_one_action_submit_that_action() -> None:
    card = replace(two_select_card(), actions=(CardAction("transfer", "确认转交", "primary"),))
    template = render(card)["template_card"]
    assert [s["question_key"] for s in template["select_list"]] == ["assignee", "department"]
    assert template["submit_button"] == {"text": "确认转交", "key": "act:transfer"}


def test_escalation_card_offers_urge_reassign_take_over_and_extend() -> None:
    template = render(escalation_card())["template_card"]
    assert [(b["text"], b["key"]) for b in template["button_list"]] == [
        ("催办", "act:urge"),
        ("改派", "act:reassign"),
        ("接手", "act:take_over"),
        ("延期", "act:extend"),
    ]
    assert template["button_list"][-1]["style"] == 2  # danger
    assert template["source"] == {"desc": "已超时 2 小时", "desc_color": 2}


def test_settled_card_shows_the_outcome_and_offers_no_controls() -> None:
    template = render(settled_card())["template_card"]
    assert template["card_type"] == "text_notice"
    assert "button_list" not in template and "select_list" not in template
    assert template["quote_area"]["quote_text"] == "已由 张三 受理 · 11-23 14:05"
    assert template["card_action"] == {"type": 1, "url": LINK}


def test_settled_card_links_to_its_own_url_when_it_has_one() -> None:
    card = replace(settled_card(), url="https://bot.example.com/x")
    template = render_wecom_card(card, agent_id=AGENT)["template_card"]
    assert template["card_action"] == {"type": 1, "url": "https://bot.example.com/x"}


def test_settled_card_without_any_link_cannot_be_rendered() -> None:
    with pytest.raises(WecomCardError, match="needs a link"):
        render_wecom_card(settled_card(), agent_id=AGENT)


def test_notice_is_shown_in_the_quote_area_while_buttons_stay() -> None:
    template = render(notice_card())["template_card"]
    assert template["card_type"] == "button_interaction"
    assert template["quote_area"] == {
        "type": 0,
        "title": "提示",
        "quote_text": "该投诉已由 李四 受理，无需重复操作",
    }


def test_fields_become_at_most_six_short_key_value_rows() -> None:
    fields = tuple(CardField(f"字段名称很长{i}", "值" * 40) for i in range(9))
    template = render(replace(task_card(), fields=fields))["template_card"]
    rows = template["horizontal_content_list"]
    assert len(rows) == 6
    assert rows[0] == {"keyname": "字段名称…", "value": "值" * 25 + "…"}


def test_timeline_shows_the_last_three_events() -> None:
    events = tuple(CardEvent(f"11-23 14:0{i}", f"第{i}步") for i in range(5))
    template = render(replace(task_card(), timeline=events))["template_card"]
    assert template["sub_title_text"] == "11-23 14:02 第2步\n11-23 14:03 第3步\n11-23 14:04 第4步"


def test_more_than_six_actions_keep_the_first_six() -> None:
    actions = tuple(CardAction(f"a{i}", f"操作{i}") for i in range(8))
    template = render(replace(task_card(), actions=actions))["template_card"]
    assert [b["key"] for b in template["button_list"]] == [f"act:a{i}" for i in range(6)]


def test_more_than_ten_options_keep_the_selected_one_visible() -> None:
    options = tuple(CardOption(f"p{i}", f"人员{i}") for i in range(15))
    select = CardSelect("assignee", "转交给", options, selected="p14", for_actions=("transfer",))
    template = render(replace(task_card(), selects=(select,)))["template_card"]
    ids = [o["id"] for o in template["button_selection"]["option_list"]]
    assert len(ids) == 10 and "p14" in ids
    assert template["button_selection"]["selected_id"] == "p14"


def test_option_id_longer_than_wecom_allows_is_refused() -> None:
    select = CardSelect("assignee", "转交给", (CardOption("x" * 129, "某人"),))
    with pytest.raises(WecomCardError, match="option id"):
        render(replace(task_card(), selects=(select,)))


@pytest.mark.parametrize("ref", ["c-1-处理", "c-1@2", "c 1", "", "x" * 101])
def test_card_refs_that_are_not_wecom_safe_are_refused(ref: str) -> None:
    with pytest.raises(WecomCardError, match="not WeCom-safe"):
        wecom_task_id(ref)
    with pytest.raises(WecomCardError):
        render(replace(task_card(), ref=ref))


def test_replacement_task_id_is_deterministic_valid_and_maps_back_to_the_ref() -> None:
    ref = "c" + "-x" * 49  # 99 bytes, near the limit
    first = fresh_task_id(ref, "outbox:17")
    assert first == fresh_task_id(ref, "outbox:17") != fresh_task_id(ref, "outbox:18")
    assert TASK_ID.match(first) and len(first.encode()) <= 128
    assert card_ref_from_task_id(first) == ref
    assert render(task_card(ref), task_id=first)["template_card"]["task_id"] == first


def test_group_markdown_shows_the_card_without_buttons() -> None:
    text = card_as_markdown(settled_card())
    assert "快递破损投诉" in text and "已由 张三 受理" in text and "受理 TS" not in text


def test_clip_marks_a_cut_with_an_ellipsis() -> None:
    assert clip("快递破损", 5) == "快递破损"
    assert clip("快递破损投诉", 5) == "快递破损…"


def test_clip_bytes_stays_within_the_limit_and_keeps_utf8_whole() -> None:
    text = "投诉进展\n" * 1000
    clipped = clip_bytes(text, 4096, at_line=True)
    assert len(clipped.encode()) <= 4096
    assert clipped.endswith("投诉进展\n…")
    assert clip_bytes("一二三四", 8) == "一…"  # 3 + 3 bytes, never half a character


# --- property: any card the model can hold renders into a valid card ---------------------------

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=60
)
_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=40)


@st.composite
def cards(draw: st.DrawFn) -> Card:
    actions = draw(
        st.lists(
            st.builds(
                CardAction,
                id=_ids,
                label=_text,
                style=st.sampled_from(["primary", "default", "danger"]),
            ),
            max_size=8,
            unique_by=lambda a: a.id,
        )
    )
    selects = draw(
        st.lists(
            st.builds(
                CardSelect,
                key=_ids,
                title=_text,
                options=st.lists(
                    st.builds(CardOption, id=_ids, text=_text),
                    min_size=1,
                    max_size=14,
                    unique_by=lambda o: o.id,
                ).map(tuple),
            ),
            max_size=4,
            unique_by=lambda s: s.key,
        ).filter(lambda ss: all(s.key != CHOICE_QUESTION_KEY for s in ss))
    )
    card = Card(
        ref=draw(_ids),
        kind=draw(st.sampled_from(["task", "escalation", "info"])),
        complaint_number="TS20241123-0001",
        title=draw(_text),
        badge=draw(_text),
        badge_tone=draw(st.sampled_from(["info", "warning", "danger", "success", "muted"])),
        subtitle=draw(st.one_of(st.just(""), _text)),
        fields=tuple(draw(st.lists(st.builds(CardField, label=_text, value=_text), max_size=9))),
        timeline=tuple(draw(st.lists(st.builds(CardEvent, at=_text, text=_text), max_size=5))),
        actions=tuple(actions),
        selects=tuple(selects),
        notice=draw(st.one_of(st.none(), _text)),
    )
    if draw(st.booleans()):
        card = card.settle(draw(_text))
    return card


@settings(max_examples=150, deadline=None)
@given(cards())
def test_any_card_renders_valid_and_deterministic(card: Card) -> None:
    body = render(card)
    assert template_card_problems(body["template_card"]) == []
    assert body == render(card)


# --- cards built by bot.cards.build: department choice, comments, waiting for the customer -----


def _built(actions: tuple[str, ...]) -> Card:
    from datetime import UTC, datetime

    from bot.cards.build import PersonOption, StepInfo, build_task_card
    from bot.domain.complaint import ComplaintView

    view = ComplaintView(
        number="TS20261123-0001",
        status="in_progress",
        type="产品质量",
        step_id="handle",
        step_name="部门处理",
        department_name="产品部",
        assignee_name="李四",
        customer_name="王小明",
        created_at=datetime(2026, 11, 23, tzinfo=UTC),
        values=(),
        timeline=(),
        url="https://bot.example.com/console/complaints/TS20261123-0001",
    )
    return build_task_card(
        view,
        ref="cb-0123456789abcdef",
        task_id="t1",
        step=StepInfo("handle", "部门处理", None, (("solution", "解决方案", True),)),
        viewer="lisi",
        actions=actions,
        people=(PersonOption("zhangsan", "张三", "客服部"), PersonOption("lisi", "李四", "产品部")),
        tz=UTC,
    )


def test_holder_card_offers_department_and_waiting_but_no_text_only_buttons() -> None:
    template = render(_built(("submit", "transfer", "assign_department")))["template_card"]
    assert template_card_problems(template) == []
    assert template["card_type"] == "multiple_interaction"
    keys = [s["question_key"] for s in template["select_list"]]
    assert keys == ["assignee", "department", CHOICE_QUESTION_KEY]
    department = template["select_list"][1]
    assert [o["text"] for o in department["option_list"]] == ["客服部", "产品部"]
    assert department["selected_id"] == "产品部"
    chooser = [o["id"] for o in template["select_list"][-1]["option_list"]]
    assert chooser == ["submit", "transfer", "assign_department", "wait_customer"]


def test_department_select_alone_rides_on_the_buttons() -> None:
    template = render(_built(("assign_department", "remind")))["template_card"]
    assert template["card_type"] == "button_interaction"
    assert template["button_selection"]["question_key"] == "department"
    keys = [b["key"] for b in template["button_list"]]
    assert keys == ["act:assign_department", "act:remind"]  # no 回复客户 / 评论 in WeCom
