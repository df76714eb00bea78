"""Robot messages and card clicks become the right neutral events; forged callbacks are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.base import CardClick, InboundMessage
from bot.channels.callbacks import CallbackRejected
from bot.channels.dingtalk.inbound import (
    DingtalkPayloadError,
    parse_bot_message,
    parse_card_callback,
    parse_http_callback,
    sign,
    verify_signature,
)
from tests.fakes.dingtalk_gateway import dingtalk_sign

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
SECRET = "app-secret-0123456789"


def bot_message(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "msgId": "msgABC==",
        "msgtype": "text",
        "text": {"content": " 受理 TS20261123-0001 "},
        "conversationId": "cidP2P",
        "conversationType": "1",
        "senderStaffId": "0101",
        "senderNick": "张三",
        "createAt": NOW_MS - 1000,
        "robotCode": "dingrobot",
    }
    data.update(overrides)
    return data


def card_callback(params: dict[str, object], action_ids: list[str] | None = None) -> dict:
    content = {"cardPrivateData": {"actionIds": action_ids or ["submit"], "params": params}}
    return {
        "outTrackId": "task:17:zhangsan",
        "userId": "0101",
        "corpId": "dingcorp",
        "type": "actionCallback",
        "content": json.dumps(content, ensure_ascii=False),
    }


def test_text_message_becomes_an_inbound_text_keyed_by_msg_id() -> None:
    event = parse_bot_message("staff-dingtalk", bot_message(), received_at=NOW)
    assert event == InboundMessage(
        channel="staff-dingtalk",
        dedupe_key="msg:msgABC==",
        sender="0101",
        kind="text",
        sent_at=NOW - timedelta(seconds=1),
        text="受理 TS20261123-0001",
        sender_name="张三",
        raw_type="text",
    )


def test_group_message_keeps_its_conversation() -> None:
    event = parse_bot_message(
        "c", bot_message(conversationType="2", conversationId="cidGROUP"), received_at=NOW
    )
    assert event is not None and event.conversation_id == "cidGROUP"


def test_one_to_one_message_has_no_conversation() -> None:
    event = parse_bot_message("c", bot_message(), received_at=NOW)
    assert event is not None and event.conversation_id is None


def test_picture_becomes_an_image_with_its_download_code() -> None:
    data = bot_message(msgtype="picture", content={"downloadCode": "dl-1"})
    event = parse_bot_message("c", data, received_at=NOW)
    assert event is not None and (event.kind, event.media_id) == ("image", "dl-1")


def test_voice_carries_the_recognised_text() -> None:
    data = bot_message(msgtype="audio", content={"downloadCode": "dl-2", "recognition": "进度"})
    event = parse_bot_message("c", data, received_at=NOW)
    assert event is not None and (event.kind, event.text) == ("voice", "进度")


def test_rich_text_joins_its_text_parts() -> None:
    data = bot_message(
        msgtype="richText", content={"richText": [{"text": "查询 "}, {"downloadCode": "x"}]}
    )
    event = parse_bot_message("c", data, received_at=NOW)
    assert event is not None and event.text == "查询"


def test_unknown_message_kinds_are_skipped() -> None:
    assert parse_bot_message("c", bot_message(msgtype="interactiveCard"), received_at=NOW) is None


def test_message_from_outside_the_organisation_is_skipped() -> None:
    data = bot_message()
    del data["senderStaffId"]
    assert parse_bot_message("c", data, received_at=NOW) is None


def test_message_without_id_is_malformed() -> None:
    data = bot_message()
    del data["msgId"]
    with pytest.raises(DingtalkPayloadError):
        parse_bot_message("c", data, received_at=NOW)


def test_missing_create_time_falls_back_to_arrival() -> None:
    data = bot_message()
    del data["createAt"]
    event = parse_bot_message("c", data, received_at=NOW)
    assert event is not None and event.sent_at == NOW


def test_card_click_reads_action_inputs_and_selections() -> None:
    params = {
        "action": "resolve",
        "input_solution": "已补发商品",
        "select_assignee": ["lisi"],
        "select_department": '["logistics","finance"]',
        "unrelated": "x",
    }
    click = parse_card_callback(
        "staff-dingtalk", card_callback(params), dedupe_key="card:m1", sent_at=NOW
    )
    assert click == CardClick(
        channel="staff-dingtalk",
        dedupe_key="card:m1",
        sender="0101",
        card_ref="task:17:zhangsan",
        action="resolve",
        sent_at=NOW,
        selections={"assignee": ("lisi",), "department": ("logistics", "finance")},
        inputs={"solution": "已补发商品"},
    )


def test_card_click_without_action_param_uses_the_action_id() -> None:
    click = parse_card_callback(
        "c", card_callback({}, action_ids=["accept"]), dedupe_key="k", sent_at=NOW
    )
    assert click.action == "accept"


def test_single_selection_and_empty_selection() -> None:
    params = {"action": "transfer", "select_assignee": "wangwu", "select_department": ""}
    click = parse_card_callback("c", card_callback(params), dedupe_key="k", sent_at=NOW)
    assert dict(click.selections) == {"assignee": ("wangwu",)}


def test_card_click_content_may_arrive_as_an_object() -> None:
    data = card_callback({})
    data["content"] = {"cardPrivateData": {"actionIds": ["approve"], "params": {}}}
    click = parse_card_callback("c", data, dedupe_key="k", sent_at=NOW)
    assert click.action == "approve"


@pytest.mark.parametrize("missing", ["outTrackId", "userId"])
def test_card_click_without_card_or_user_is_malformed(missing: str) -> None:
    data = card_callback({"action": "accept"})
    del data[missing]
    with pytest.raises(DingtalkPayloadError):
        parse_card_callback("c", data, dedupe_key="k", sent_at=NOW)


def test_card_click_with_broken_content_is_malformed() -> None:
    data = card_callback({"action": "accept"})
    data["content"] = "{not json"
    with pytest.raises(DingtalkPayloadError):
        parse_card_callback("c", data, dedupe_key="k", sent_at=NOW)


def test_http_card_click_repeats_get_one_key_and_new_clicks_another() -> None:
    data = card_callback({"action": "accept"})
    first = parse_http_callback("c", data, timestamp=str(NOW_MS), received_at=NOW)
    retry = parse_http_callback("c", data, timestamp=str(NOW_MS), received_at=NOW)
    later = parse_http_callback("c", data, timestamp=str(NOW_MS + 60_000), received_at=NOW)
    assert isinstance(first, CardClick) and isinstance(later, CardClick) and retry is not None
    assert first.dedupe_key == retry.dedupe_key != later.dedupe_key


def test_http_robot_message_parses_as_a_message() -> None:
    event = parse_http_callback("c", bot_message(), timestamp=str(NOW_MS), received_at=NOW)
    assert isinstance(event, InboundMessage) and event.dedupe_key == "msg:msgABC=="


# --- signatures -------------------------------------------------------------------------------


def test_signature_matches_dingtalks_formula() -> None:
    assert sign(SECRET, NOW_MS) == dingtalk_sign(SECRET, NOW_MS)


def test_a_correct_signature_passes() -> None:
    verify_signature(str(NOW_MS), sign(SECRET, NOW_MS), SECRET, NOW)


def test_a_signature_made_with_another_secret_is_refused() -> None:
    with pytest.raises(CallbackRejected) as refused:
        verify_signature(str(NOW_MS), sign("other", NOW_MS), SECRET, NOW)
    assert refused.value.status == 403


@pytest.mark.parametrize("offset_ms", [3600_001, -3600_001])
def test_a_timestamp_over_an_hour_off_is_refused(offset_ms: int) -> None:
    stamp = NOW_MS + offset_ms
    with pytest.raises(CallbackRejected, match="hour"):
        verify_signature(str(stamp), sign(SECRET, stamp), SECRET, NOW)


def test_a_timestamp_just_inside_the_hour_passes() -> None:
    stamp = NOW_MS - 3600_000
    verify_signature(str(stamp), sign(SECRET, stamp), SECRET, NOW)


@pytest.mark.parametrize(("timestamp", "signature"), [(None, "x"), ("1", None), ("abc", "x")])
def test_missing_or_broken_headers_are_refused(
    timestamp: str | None, signature: str | None
) -> None:
    with pytest.raises(CallbackRejected):
        verify_signature(timestamp, signature, SECRET, NOW)


@given(
    secret=st.text(min_size=1, max_size=64),
    offset=st.integers(min_value=-3600_000, max_value=3600_000),
)
def test_any_signed_timestamp_within_the_hour_verifies(secret: str, offset: int) -> None:
    stamp = NOW_MS + offset
    verify_signature(str(stamp), sign(secret, stamp), secret, NOW)


@given(secret=st.text(min_size=1, max_size=32), other=st.text(min_size=1, max_size=32))
def test_a_signature_never_verifies_with_a_different_secret(secret: str, other: str) -> None:
    if secret == other:
        return
    with pytest.raises(CallbackRejected):
        verify_signature(str(NOW_MS), sign(other, NOW_MS), secret, NOW)
