"""WeCom app chat: reports, 我的待办, 查询, comments, and clicks on someone else's card.

The whole service runs with everyone in WeCom at the fake WeCom (the harness of
test_end_to_end.py); messages and clicks arrive as encrypted callbacks. Both databases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config.loader import load_config
from storage.db import Database
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.clock import FakeClock
from tests.fakes.wecom_server import FakeWecom
from tests.integration.channels.wecom.test_end_to_end import Desk, _new_complaint, open_desk

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHARTS = load_config(EXAMPLE_CONFIG).digests[0].charts


@pytest.fixture
async def desk(
    aiohttp_client: Any, db: Database, tmp_path: Path, fake: FakeWecom, clock: FakeClock
) -> Desk:
    return await open_desk(aiohttp_client, db, tmp_path, fake, clock)


def offers(card: dict[str, Any], action: str) -> bool:
    """Whether a template_card lets its reader do `action` (a button, or the action select)."""
    if any(b.get("key") == f"act:{action}" for b in card.get("button_list", [])):
        return True
    choices = [s for s in card.get("select_list", []) if s["question_key"] == "_action"]
    return any(o["id"] == action for s in choices for o in s["option_list"])


def shown_to(desk: Desk, user: str, start: int) -> list[dict[str, Any]]:
    """The template cards sent to, or updated for, `user` since request number `start`."""
    out = []
    for request in desk.fake.requests[start:]:
        body = request.body if isinstance(request.body, dict) else {}
        if "template_card" not in body or (request.answer or {}).get("errcode") != 0:
            continue
        if body.get("touser") == user or user in body.get("userids", []):
            out.append(body["template_card"])
    return out


def delivered_to(desk: Desk, user: str, msgtype: str) -> list[dict[str, Any]]:
    return [m for m in desk.fake.delivered if m["touser"] == user and m["msgtype"] == msgtype]


async def _report(desk: Desk, user: str, ask: str) -> str:
    """`user` asks for a report; waits for it to be built, then delivers the outbox."""
    reply = await desk.say(user, ask)
    try:
        await desk.service.dispatcher.drain(timeout=120)
    finally:
        desk.service.digests.close()
    await desk.deliver()
    return reply


@pytest.mark.parametrize(
    ("ask", "period", "heading", "title"),
    [
        ("本周报表", "2026-W48", "正在生成本周报表", "本周投诉报表"),
        ("月报", "2026-11", "正在生成本月报表", "本月投诉报表"),
    ],
)
async def test_a_supervisor_gets_the_report_he_asks_for_in_chat(
    desk: Desk, ask: str, period: str, heading: str, title: str
):
    await _new_complaint(desk)
    before = len(desk.fake.delivered)
    assert heading in await _report(desk, "ZhangSan", ask)

    [markdown] = delivered_to(desk, "ZhangSan", "markdown")
    content = markdown["markdown"]["content"]
    assert content.startswith(f"## {title}｜{period}\n")  # named as asked, the heading once
    assert "新增投诉 **1** 起" in content
    images = delivered_to(desk, "ZhangSan", "image")
    assert len(images) == len(CHARTS)
    for image in images:
        assert desk.fake.media[image["image"]["media_id"]].startswith(PNG_MAGIC)
    # The report went to 张三 alone, and nothing failed on the way.
    assert {m["touser"] for m in desk.fake.delivered[before:]} == {"ZhangSan"}
    assert await desk.failed_rows() == []


async def test_reports_go_to_heads_and_supervisors_only(desk: Desk):
    """小美 (客服, heads nothing, not a flow supervisor) is told who reports are for."""
    await _new_complaint(desk)
    reply = await _report(desk, "XiaoMei", "本周报表")
    assert "部门负责人和主管" in reply
    assert delivered_to(desk, "XiaoMei", "markdown") == []
    assert delivered_to(desk, "XiaoMei", "image") == []


async def test_my_todo_sends_my_open_tasks_as_cards(desk: Desk):
    first = await _new_complaint(desk)
    second = await _new_complaint(desk)
    xm = {desk.cards_of("XiaoMei")[t]["main_title"]["title"]: t for t in desk.cards_of("XiaoMei")}
    for number in (first, second):
        task = next(t for title, t in xm.items() if number in title)
        assert await desk.click("XiaoMei", task, "accept") == 200
        await desk.deliver()
    cards_before = len(desk.fake.cards)

    reply = await desk.say("XiaoMei", "我的待办")
    await desk.deliver()
    assert f"您有 2 件待办：{first}、{second}" in reply
    new_cards = list(desk.fake.cards.values())[cards_before:]
    assert {c.user for c in new_cards} == {"XiaoMei"}
    titles = [c.sent["main_title"]["title"] for c in new_cards]
    assert sorted(n for n in (first, second) if any(n in t for t in titles)) == [first, second]
    for card in new_cards:
        assert offers(card.sent, "submit")

    # Someone with nothing to do is told so, and gets no card.
    assert "没有待办" in await desk.say("WangWu", "我的待办")


async def test_query_sends_the_complaints_card(desk: Desk):
    number = await _new_complaint(desk)
    start = len(desk.fake.requests)
    # 小美 may take the 客服受理 task: her card of it is sent again (refreshed in place while
    # its ResponseCode is unused), with the buttons to work it.
    assert f"投诉 {number} 的卡片已发给您" in await desk.say("XiaoMei", f"查询 {number}")
    await desk.deliver()
    [card] = shown_to(desk, "XiaoMei", start)
    assert number in card["main_title"]["title"] and offers(card, "accept")
    assert shown_to(desk, "ZhangSan", start) == []
    # 王五 holds nothing on it: he reads the card as text, with no buttons to press.
    text = await desk.say("WangWu", f"查询 {number}")
    assert number in text and "仅供查看" in text
    assert "没有找到投诉" in await desk.say("WangWu", "查询 TS20990101-9999")
    assert await desk.failed_rows() == []


async def test_plain_text_becomes_a_comment_on_my_latest_card(desk: Desk):
    await _new_complaint(desk)
    latest = await _new_complaint(desk)
    reply = await desk.say("XiaoMei", "已电话联系客户，客户同意补发")
    assert reply == f"已记为投诉 {latest} 的评论。"
    story = await desk.timeline(latest)
    assert any(
        actor == "person:xiaomei" and "已电话联系客户，客户同意补发" in summary
        for actor, summary in story
    ), story


async def test_a_click_on_someone_elses_card_is_refused_and_changes_nothing(desk: Desk):
    number = await _new_complaint(desk)
    xm_task, xm_card = desk.only_card("XiaoMei")
    story, updates = await desk.timeline(number), desk.updates()
    complaint = await desk.complaint(number)
    start = len(desk.fake.requests)

    # 张三's click arrives with 小美's card id (his own click, his own ResponseCode).
    assert await desk.click("ZhangSan", xm_task, "accept") == 200
    await desk.deliver()
    assert await desk.timeline(number) == story
    after = await desk.complaint(number)
    assert (after.status, after.current_step, after.assignee) == (
        complaint.status,
        complaint.current_step,
        complaint.assignee,
    )
    # 小美's card is as it was: not updated, buttons still there, no word meant for 张三.
    assert shown_to(desk, "XiaoMei", start) == []
    assert desk.updates()[("XiaoMei", xm_task)] == updates[("XiaoMei", xm_task)]
    assert desk.cards_of("XiaoMei")[xm_task] == xm_card
    # 张三, who clicked, is the one told why.
    told = [
        r.body
        for r in desk.fake.requests[start:]
        if isinstance(r.body, dict)
        and (r.body.get("touser") == "ZhangSan" or "ZhangSan" in r.body.get("userids", []))
    ]
    assert any("这张卡片不是发给您的" in str(body) for body in told), told

    # And 小美 can still work her card: her accept updates it once, nothing fails.
    before = desk.updates()
    assert await desk.click("XiaoMei", xm_task, "accept") == 200
    await desk.deliver()
    assert desk.updates()[("XiaoMei", xm_task)] == before[("XiaoMei", xm_task)] + 1
    assert ("person:xiaomei", "受理了「客服受理」") in await desk.timeline(number)
    assert await desk.failed_rows() == []
