"""The neutral card rendered for DingTalk: template variables, delivery bodies, the fallback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.cards.model import (
    Card,
    CardAction,
    CardEvent,
    CardField,
    CardInput,
    CardOption,
    CardSelect,
)
from bot.channels.dingtalk.cards import (
    PRIVATE_VARIABLES,
    TEMPLATE_VARIABLES,
    CardSpace,
    command_link,
    render_action_card,
    render_card_params,
    render_card_update,
    render_dingtalk_card,
)
from bot.channels.dingtalk.inbound import parse_card_callback

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TEMPLATE_FILE = Path(__file__).resolve().parents[4] / "config" / "dingtalk_card_template.json"


def task_card(**overrides: object) -> Card:
    card = Card(
        ref="task:17:zhangsan",
        kind="task",
        complaint_number="TS20261123-0001",
        title="投诉待受理",
        badge="待受理",
        badge_tone="warning",
        subtitle="客户 王女士",
        fields=(CardField("客户姓名", "王女士"), CardField("问题类型", "产品质量")),
        timeline=(CardEvent("11-23 14:05", "客户提交投诉"),),
        actions=(CardAction("accept", "受理", "primary"), CardAction("transfer", "转交")),
        selects=(
            CardSelect(
                "assignee",
                "转交给",
                (CardOption("lisi", "李四"), CardOption("wangwu", "王五")),
                for_actions=("transfer",),
            ),
        ),
        inputs=(CardInput("comment", "备注", placeholder="可选"),),
        url="https://bot.example.com/c/TS20261123-0001",
    )
    return Card.from_dict({**card.to_dict(), **overrides})


def test_params_are_strings_with_lists_as_json() -> None:
    params = render_card_params(task_card())
    assert all(isinstance(v, str) for v in params.values())
    assert json.loads(params["fields"]) == [
        {"label": "客户姓名", "value": "王女士"},
        {"label": "问题类型", "value": "产品质量"},
    ]
    assert [a["id"] for a in json.loads(params["actions"])] == ["accept", "transfer"]
    assert json.loads(params["selects"])[0]["param"] == "select_assignee"
    assert json.loads(params["inputs"])[0]["param"] == "input_comment"


def test_params_fill_exactly_the_template_variables() -> None:
    assert tuple(render_card_params(task_card())) == TEMPLATE_VARIABLES


def test_shipped_template_declares_what_the_renderer_fills() -> None:
    template = json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))
    names = tuple(v["name"] for v in template["variables"])
    private = tuple(v["name"] for v in template["variables"] if v.get("private"))
    assert names == TEMPLATE_VARIABLES
    assert private == PRIVATE_VARIABLES


def test_template_buttons_send_the_params_the_parser_reads() -> None:
    template = json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))
    buttons = [c for c in template["layout"] if c.get("source") == "actions"]
    assert buttons[0]["item"]["action"]["params"] == {"action": "${item.id}"}
    assert set(template["callback"]["params"]) == {"action", "input_<key>", "select_<key>"}


def test_button_params_round_trip_through_the_click_parser() -> None:
    """What a button and its controls send back parses into the click the card meant."""
    params = render_card_params(task_card())
    button = json.loads(params["actions"])[1]
    select = json.loads(params["selects"])[0]
    sent = {**button["params"], select["param"]: "lisi", "input_comment": "请跟进"}
    data = {
        "outTrackId": "task:17:zhangsan",
        "userId": "0101",
        "content": json.dumps({"cardPrivateData": {"actionIds": ["x"], "params": sent}}),
    }
    click = parse_card_callback("c", data, dedupe_key="k", sent_at=NOW)
    assert (click.action, dict(click.selections), dict(click.inputs)) == (
        "transfer",
        {"assignee": ("lisi",)},
        {"comment": "请跟进"},
    )


def test_settled_card_shows_the_outcome_and_no_controls() -> None:
    params = render_card_params(task_card().settle("已由 张三 受理 · 11-23 14:05"))
    assert params["outcome"] == "已由 张三 受理 · 11-23 14:05"
    assert params["settled"] == "true" and params["has_actions"] == "false"
    assert (params["actions"], params["selects"], params["inputs"]) == ("[]", "[]", "[]")


def test_public_params_never_carry_a_notice() -> None:
    params = render_card_params(task_card(notice="此任务已由李四受理"))
    assert params["notice"] == ""
    assert "李四受理" not in params["summary_md"]


def test_card_to_a_person_goes_to_the_robot_chat_with_the_ref_as_track_id() -> None:
    body = render_dingtalk_card(
        task_card(),
        template_id="tpl.schema",
        robot_code="dingrobot",
        space=CardSpace("user", "0101"),
    )
    assert body["outTrackId"] == "task:17:zhangsan"
    assert body["cardTemplateId"] == "tpl.schema"
    assert body["openSpaceId"] == "dtv1.card//IM_ROBOT.0101"
    assert body["imRobotOpenDeliverModel"]["spaceType"] == "IM_ROBOT"
    assert body["callbackType"] == "STREAM"
    assert "privateData" not in body


def test_card_to_a_group_uses_its_open_conversation() -> None:
    body = render_dingtalk_card(
        task_card(), template_id="t", robot_code="dingrobot", space=CardSpace("group", "cidG==")
    )
    assert body["openSpaceId"] == "dtv1.card//IM_GROUP.cidG=="
    assert body["imGroupOpenDeliverModel"] == {"robotCode": "dingrobot"}


def test_http_mode_cards_name_their_callback_route() -> None:
    body = render_dingtalk_card(
        task_card(), template_id="t", robot_code="r", callback_type="HTTP", callback_route_key="k"
    )
    assert (body["callbackType"], body["callbackRouteKey"]) == ("HTTP", "k")
    assert "openSpaceId" not in body


def test_a_notice_is_private_to_its_viewer() -> None:
    card = task_card(notice="此任务已由李四受理")
    body = render_dingtalk_card(
        card, template_id="t", robot_code="r", space=CardSpace("user", "0101")
    )
    assert body["privateData"] == {"0101": {"cardParamMap": {"notice": "此任务已由李四受理"}}}
    assert body["cardData"]["cardParamMap"]["notice"] == ""


def test_update_replaces_public_data_by_key_and_sets_the_viewers_notice() -> None:
    card = task_card().settle("已由 张三 受理").with_notice("您已受理")
    body = render_card_update(card, viewer="0101")
    assert body["outTrackId"] == "task:17:zhangsan"
    assert body["cardUpdateOptions"] == {
        "updateCardDataByKey": True,
        "updatePrivateDataByKey": True,
    }
    assert body["cardData"]["cardParamMap"]["actions"] == "[]"
    assert body["privateData"] == {"0101": {"cardParamMap": {"notice": "您已受理"}}}


def test_update_without_notice_clears_the_viewers_old_notice() -> None:
    body = render_card_update(task_card(), viewer="0101")
    assert body["privateData"]["0101"]["cardParamMap"]["notice"] == ""


def test_update_for_everyone_touches_no_private_data() -> None:
    assert "privateData" not in render_card_update(task_card())


def test_fallback_buttons_send_the_typed_command() -> None:
    msg_key, param = render_action_card(task_card())
    assert msg_key == "sampleActionCard2"
    assert param["actionTitle1"] == "受理"
    assert param["actionURL1"].startswith("dtmd://dingtalkclient/sendMessage?content=")
    assert unquote(param["actionURL1"].split("content=")[1]) == "受理 TS20261123-0001"
    assert "客户姓名" in param["text"]


def test_fallback_with_one_button_uses_the_single_button_card() -> None:
    msg_key, param = render_action_card(task_card(actions=[{"id": "accept", "label": "受理"}]))
    assert msg_key == "sampleActionCard"
    assert unquote(param["singleURL"]).endswith("content=受理 TS20261123-0001")


def test_fallback_without_buttons_is_markdown() -> None:
    msg_key, param = render_action_card(task_card().settle("已办结"))
    assert msg_key == "sampleMarkdown" and "已办结" in param["text"]


def test_fallback_lists_buttons_beyond_five_as_commands() -> None:
    actions = [{"id": f"a{i}", "label": f"操作{i}"} for i in range(7)]
    msg_key, param = render_action_card(task_card(actions=actions))
    assert msg_key == "sampleActionCard5"
    assert "「操作6 TS20261123-0001」" in param["text"]


def test_command_link_encodes_everything() -> None:
    link = command_link("受理 TS20261123-0001&x=1")
    assert " " not in link and "&x" not in link


labels = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s and s)


@given(
    fields=st.lists(st.tuples(labels, st.text(max_size=30)), max_size=6),
    actions=st.lists(labels, max_size=4, unique=True),
    outcome=st.none() | st.text(max_size=20),
)
def test_any_card_renders_to_string_params(
    fields: list[tuple[str, str]], actions: list[str], outcome: str | None
) -> None:
    card = task_card(
        fields=[{"label": k, "value": v} for k, v in fields],
        actions=[{"id": f"a{i}", "label": a} for i, a in enumerate(actions)],
        outcome=outcome,
    )
    params = render_card_params(card)
    assert all(isinstance(v, str) for v in params.values())
    assert json.loads(params["fields"]) == [{"label": k, "value": v} for k, v in fields]
    assert [a["label"] for a in json.loads(params["actions"])] == actions


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_fallback_button_count_picks_the_msg_key(count: int) -> None:
    actions = [{"id": f"a{i}", "label": f"操作{i}"} for i in range(count)]
    msg_key, param = render_action_card(task_card(actions=actions))
    assert msg_key == f"sampleActionCard{count}"
    assert all(f"actionURL{i}" in param for i in range(1, count + 1))


# --- cards built by bot.cards.build: department choice, comments, waiting for the customer -----


def _built(actions: tuple[str, ...]) -> Card:
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
        created_at=NOW,
        values=(),
        timeline=(),
    )
    return build_task_card(
        view,
        ref="cb-1",
        task_id="t1",
        step=StepInfo("handle", "部门处理", None, ()),
        viewer="lisi",
        actions=actions,
        people=(PersonOption("zhangsan", "张三", "客服部"), PersonOption("lisi", "李四", "产品部")),
        tz=UTC,
    )


def test_template_card_carries_department_select_and_comment_input() -> None:
    params = render_card_params(_built(("submit", "assign_department")))
    actions = [a["id"] for a in json.loads(params["actions"])]
    assert actions == ["submit", "assign_department", "wait_customer", "reply_customer", "comment"]
    (department,) = json.loads(params["selects"])
    assert department["param"] == "select_department"
    assert department["for_actions"] == ["assign_department"]
    assert [o["text"] for o in department["options"]] == ["客服部", "产品部"]
    inputs = {i["param"]: i["for_actions"] for i in json.loads(params["inputs"])}
    assert inputs == {
        "input_question": ["wait_customer"],
        "input_comment": ["reply_customer", "comment"],
    }


def test_a_reply_click_reads_back_as_the_action_with_its_text() -> None:
    data = {
        "outTrackId": "cb-1",
        "userId": "0103",
        "content": json.dumps(
            {
                "cardPrivateData": {
                    "actionIds": ["reply_customer"],
                    "params": {"action": "reply_customer", "input_comment": "明天补发"},
                }
            }
        ),
    }
    click = parse_card_callback("staff-dingtalk", data, dedupe_key="k", sent_at=NOW)
    assert (click.action, click.inputs) == ("reply_customer", {"comment": "明天补发"})


def test_action_card_fallback_leaves_out_buttons_that_need_text() -> None:
    _key, param = render_action_card(_built(("submit",)))
    titles = [v for k, v in param.items() if k.startswith("actionTitle")]
    assert titles == ["提交", "等待客户补充"]
