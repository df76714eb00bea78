"""Dialog invariants under any sequence of customer messages (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.conversation import ProgressQuery, Submit
from bot.forms import validate, visible_fields
from tests.unit.conversation.chat import Chat

WORDS = [
    "投诉",
    "我要投诉",
    "取消",
    "上一步",
    "跳过",
    "帮助",
    "修改",
    "修改 联系电话",
    "修改 投诉类型",
    "确认提交",
    "完成",
    "进度",
    "没有",
    "王小明",
    "13800000001",
    "138 0000 0002",
    "123",
    "C123456",
    "1",
    "2",
    "3",
    "9",
    "产品质量",
    "123456789012",
    "快递把我的东西弄坏了",
    "坏",
    "TS20261123-0001",
]
text_messages = st.one_of(st.sampled_from(WORDS), st.text(max_size=20)).map(
    lambda text: {"text": text}
)
media_messages = st.builds(
    lambda kind, ident, recognition: {
        "kind": kind,
        "attachment_id": ident,
        "recognition": recognition if kind == "voice" else None,
    },
    st.sampled_from(["image", "video", "voice", "file"]),
    st.text("abc123", min_size=1, max_size=4),
    st.none() | st.sampled_from(WORDS),
)
other_messages = st.sampled_from(
    [
        {"kind": "location", "location": {"lat": 31.2, "lng": 121.4, "label": "上海"}},
        {"kind": "click", "text": "我要投诉"},
        {"kind": "click", "text": "progress"},
        {"kind": "image"},  # no id: nothing to keep
    ]
)
messages = st.lists(st.one_of(text_messages, media_messages, other_messages), max_size=25)
profiles = st.sampled_from([{}, {"name": "王小明"}, {"name": "王小明", "phone": "13800000001"}])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=messages, profile=profiles)
def test_any_conversation_keeps_its_invariants(script: list[dict[str, Any]], profile: dict) -> None:
    chat = Chat(profile=profile)
    for message in script:
        turn = chat.send(**message)  # Chat stores and reloads the state at every step
        if isinstance(turn.intent, Submit):
            assert validate(chat.form, turn.intent.values, chat.ctx).ok
        if turn.state is None:
            continue
        if not isinstance(turn.intent, ProgressQuery):
            assert turn.replies, "an open dialog always says something"
        if turn.state.phase == "asking":
            shown = visible_fields(chat.form, _typed(chat))
            assert turn.state.current in {f.key for f in shown if f.asked}


def _typed(chat: Chat) -> dict[str, Any]:
    from bot.forms import load_values

    return load_values(chat.form, chat.state.values)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noise=st.lists(st.text(max_size=12), max_size=6))
def test_noise_never_stops_a_customer_from_finishing(noise: list[str]) -> None:
    chat = Chat(profile={"name": "王小明", "phone": "13800000001"})
    chat.send("我要投诉")
    for text in noise:
        chat.send(text)
        if chat.state is None:
            chat.send("我要投诉")
    answers = {
        "customer_name": "王小明",
        "phone": "13800000001",
        "customer_no": "跳过",
        "type": "服务态度",
        "order_no": "跳过",
        "description": "客服态度很差，挂我电话",
        "media": "跳过",
    }
    for _ in range(12):
        if chat.phase != "asking":
            break
        chat.send(answers[chat.asking])
    if chat.phase == "choosing_edit":
        chat.send("上一步")
    for _ in range(12):
        if chat.phase != "asking":
            break
        chat.send(answers[chat.asking])
    assert chat.phase == "confirming"
    turn = chat.send("确认提交")
    assert isinstance(turn.intent, Submit) and chat.state is None
