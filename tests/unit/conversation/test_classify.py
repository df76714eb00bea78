"""Messages outside a dialog, dialog commands, and satisfaction survey answers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.conversation import (
    Help,
    ProgressQuery,
    StartIntake,
    classify,
    command,
    complaint_details,
    parse_survey_answer,
)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("投诉", StartIntake("投诉")),
        ("我要投诉", StartIntake("我要投诉")),
        ("我要投诉！", StartIntake("我要投诉！")),
        (
            "你们的快递把我的东西弄坏了，我要投诉",
            StartIntake("你们的快递把我的东西弄坏了，我要投诉"),
        ),
        ("进度", ProgressQuery()),
        ("查询", ProgressQuery()),
        ("查询进度", ProgressQuery()),
        ("投诉进度", ProgressQuery()),
        ("我的投诉", ProgressQuery()),
        ("我的投诉处理进度？", ProgressQuery()),
        ("TS20261123-0001", ProgressQuery("TS20261123-0001")),
        ("ts20261123-0001", ProgressQuery("TS20261123-0001")),
        ("查询 TS20261123-0001", ProgressQuery("TS20261123-0001")),
        ("TS20261123-0001进度怎么样了？", ProgressQuery("TS20261123-0001")),
        ("帮助", Help()),
        ("Help", Help()),
        ("你们的快递把我的东西弄坏了", None),
        ("你好", None),
        ("", None),
        ("  ", None),
    ],
)
def test_classify(text: str, intent: object) -> None:
    assert classify(text) == intent


def test_menu_click_keys_classify_like_their_words() -> None:
    # A click's key is not the customer's words, so nothing is kept as the description.
    assert classify("complaint", click=True) == StartIntake("")
    assert classify("COMPLAIN", click=True) == StartIntake("")
    assert classify("PROGRESS", click=True) == ProgressQuery()
    assert classify("complaint") is None


def test_a_number_inside_a_longer_story_starts_a_complaint_instead() -> None:
    text = "TS20261123-0001这个投诉一直没人处理，我要再投诉一次"
    assert isinstance(classify(text), StartIntake)


@pytest.mark.parametrize(
    ("text", "details"),
    [
        ("我要投诉", ""),
        ("投诉：快递员态度很差", "快递员态度很差"),
        ("快递员态度很差，我要投诉！", "快递员态度很差"),
        ("上次投诉没人管", "上次投诉没人管"),
    ],
)
def test_complaint_details_drop_the_trigger_words(text: str, details: str) -> None:
    assert complaint_details(text) == details


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("取消", "cancel"),
        ("取消。", "cancel"),
        ("上一步", "back"),
        ("跳过", "skip"),
        ("帮助", "help"),
        ("确认提交", "confirm"),
        ("完成", "done"),
        ("修改", "edit"),
        ("查询进度", "progress"),
        ("我要投诉", "start"),
        ("取消订单的时候坏了", None),
    ],
)
def test_commands_are_whole_messages(text: str, name: str | None) -> None:
    assert command(text) == name


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("5", (5, "")),
        ("五分", (5, "")),
        ("五", (5, "")),
        ("★★★", (3, "")),
        ("★★★☆☆ 还行", (3, "还行")),
        ("4 星，很满意", (4, "很满意")),
        ("4分！处理得很快", (4, "处理得很快")),
        ("３", (3, "")),
        ("非常满意", (5, "")),
        ("不满意，太慢了", (2, "不满意，太慢了")),
        ("一般", (3, "")),
        ("很好", None),
        ("10", None),
        ("0分", None),
        ("4.5", None),
        ("", None),
    ],
)
def test_parse_survey_answer(text: str, answer: tuple[int, str] | None) -> None:
    assert parse_survey_answer(text) == answer


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_classifies_and_scores_without_crashing(text: str) -> None:
    classify(text)
    command(text)
    found = parse_survey_answer(text)
    assert found is None or 1 <= found[0] <= 5
