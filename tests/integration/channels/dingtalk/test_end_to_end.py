"""DingTalk end to end: cards reach employees, clicks through the real SDK drive the whole flow.

The whole service runs (create_app, everyone working in DingTalk, interactive cards through a
template); the adapter's real dingtalk-stream client is connected to the fake gateway, which
pushes clicks and chat messages as DingTalk frames them and records every card instance and its
updates. The relay is driven by hand. Both databases.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from storage.db import Database
from tests.fakes.clock import FakeClock
from tests.fakes.dingtalk_gateway import FakeDingtalk
from tests.integration.channels.dingtalk.test_end_to_end_harness import (
    CHANNEL,
    STAFF,
    TEMPLATE_ID,
    Desk,
    actions_of,
    input_keys,
    open_desk,
)

ZHANGSAN, XIAOMEI, LISI = STAFF["zhangsan"], STAFF["xiaomei"], STAFF["lisi"]
QIANQI, BOSS = STAFF["qianqi"], STAFF["boss"]
CREATE_AND_DELIVER = "/v1.0/card/instances/createAndDeliver"
BATCH_SEND = "/v1.0/robot/oToMessages/batchSend"
ACCESS_TOKEN = "/v1.0/oauth2/accessToken"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def gateway(clock: FakeClock) -> AsyncIterator[FakeDingtalk]:
    # A generous ACK timeout: a slow database must not turn one click into two pushes here
    # (re-pushes are tested on purpose, with repush and NACKs).
    async with FakeDingtalk(
        clock=clock, ack_timeout=5.0, max_attempts=20, known_users=set(STAFF.values())
    ) as fake:
        yield fake


@pytest.fixture
async def desk(
    aiohttp_client, db: Database, tmp_path: Path, gateway: FakeDingtalk, clock: FakeClock
) -> AsyncIterator[Desk]:
    async with open_desk(aiohttp_client, db, tmp_path, gateway, clock) as running:
        yield running


def each_updated_once(before: Mapping[str, int], after: Mapping[str, int]) -> set[str]:
    """The cards an action updated; fails when one was updated more than once."""
    changed = {ref for ref, count in after.items() if ref in before and count != before[ref]}
    twice = {ref: after[ref] - before[ref] for ref in changed if after[ref] - before[ref] != 1}
    assert not twice, f"cards updated more than once by one action: {twice}"
    return changed


async def act(desk: Desk, user: str, ref: str, action: str, **inputs: str) -> tuple[str, set[str]]:
    """A click through the gateway, delivered; (messageId, the cards it updated, each once)."""
    before = desk.updates()
    message_id = await desk.click(user, ref, action, inputs=inputs)
    changed = each_updated_once(before, desk.updates())
    assert ref in changed, f"the clicked card {ref} was not updated"
    assert len(desk.fake.acks_for(message_id)) == 1
    return message_id, changed


def callbacks(desk: Desk, outcome: str) -> float:
    """How many stream events the service counted with this outcome."""
    metrics = desk.service.metrics
    labels = {"channel": CHANNEL, "outcome": outcome}
    return metrics.registry.get_sample_value(metrics.name("callbacks_total"), labels) or 0.0


def _unreachable(db: Database, tmp_path: Path) -> str:
    """The same kind of database, unreachable: a closed port, or a directory for SQLite."""
    if db.is_sqlite:
        return f"sqlite+aiosqlite:///{tmp_path}"  # a directory cannot be opened as a database
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = make_url(db.url).set(host="127.0.0.1", port=port)
    return url.render_as_string(hide_password=False)


async def test_a_complaint_is_worked_from_dingtalk_cards_to_the_follow_up(desk: Desk) -> None:
    number = await desk.new_complaint()
    # The 客服 queue: 张三 and 小美 each get an interactive card in their chat with the robot.
    xm_card, xm_view = desk.only_card(XIAOMEI)
    zs_card, _ = desk.only_card(ZHANGSAN)
    assert number in xm_view["title"] and actions_of(xm_view)[0] == "accept"
    assert desk.fake.cards[xm_card].template_id == TEMPLATE_ID
    assert desk.fake.cards[xm_card].callback_type == "STREAM"
    assert len(desk.fake.calls(CREATE_AND_DELIVER)) == 2
    # The rule 新投诉通知客服主管 reached 张三 as a robot text.
    assert any(number in t for t in desk.texts_to(ZHANGSAN))

    accepted, changed = await act(desk, XIAOMEI, xm_card, "accept")
    assert changed == {xm_card, zs_card}
    assert desk.view(ZHANGSAN, zs_card)["has_actions"] == "false"
    assert "已由 小美 受理" in desk.view(ZHANGSAN, zs_card)["outcome"]
    assert actions_of(desk.view(XIAOMEI, xm_card)) == [
        "submit",
        "transfer",
        "assign_department",
        "wait_customer",
        "reply_customer",
        "comment",
    ]

    # DingTalk pushes the same click again after its ACK: nothing changes.
    story, updates = await desk.timeline(number), desk.updates()
    again = await desk.repush(accepted)
    assert again.code == 200
    assert await desk.deliver() == 0
    assert await desk.timeline(number) == story
    assert desk.updates() == updates

    # 张三 taps the stale copy still open on another device: refused, his card says why.
    await act(desk, ZHANGSAN, zs_card, "accept")
    assert await desk.timeline(number) == story
    assert "已由 小美 受理" in desk.view(ZHANGSAN, zs_card)["notice"]
    # Still settled: the refusal brings back no buttons on a card that said "done".
    assert desk.view(ZHANGSAN, zs_card)["has_actions"] == "false"
    assert "已由 小美 受理" in desk.view(ZHANGSAN, zs_card)["outcome"]
    assert desk.fake.cards[zs_card].params["notice"] == ""  # a private notice, for him alone

    # The gateway rotates the connection in the middle of the flow: later clicks still arrive.
    await desk.fake.send_disconnect()
    await desk.fake.wait_connected(opened=2)
    await act(desk, XIAOMEI, xm_card, "submit")
    complaint = await desk.complaint(number)
    assert (complaint.current_step, complaint.department) == ("handle", "product")
    assert desk.view(XIAOMEI, xm_card)["settled"] == "true"
    assert desk.view(XIAOMEI, xm_card)["has_actions"] == "false"

    # 产品部 (李四) accepts; the card then asks for the fields of 部门处理.
    handle, view = desk.only_card(LISI)
    assert actions_of(view)[0] == "accept"
    await act(desk, LISI, handle, "accept")
    assert {"solution", "compensation"} <= set(input_keys(desk.view(LISI, handle)))

    # The network drops every socket: the client reconnects by itself, and the next click,
    # with the solution and the amount typed into the card, arrives.
    await desk.fake.drop_connections()
    await desk.fake.wait_connected(opened=3)
    # DingTalk also revokes the app's access token early: refreshed once, nothing resent.
    desk.fake.expire_tokens()
    await act(desk, LISI, handle, "submit", solution="全额退款并补发新杯", compensation="2000")
    complaint = await desk.complaint(number)
    assert complaint.current_step == "signoff"
    assert complaint.values["solution"] == "全额退款并补发新杯"
    assert float(complaint.values["compensation"]) == 2000
    assert desk.view(LISI, handle)["settled"] == "true"

    # Over 1000: 财务审核 (钱七), the 客服部 head (张三) and 管理层 (周总) sign off.
    signers = {}
    for user in (QIANQI, ZHANGSAN, BOSS):
        signers[user], view = desk.only_card(user)
        assert {"approve", "reject"} <= set(actions_of(view)), view["actions"]
    for user in (QIANQI, ZHANGSAN, BOSS):
        await act(desk, user, signers[user], "approve")
        view = desk.view(user, signers[user])
        assert view["has_actions"] == "false" and "同意" in view["outcome"], view
    complaint = await desk.complaint(number)
    assert (complaint.current_step, complaint.status) == ("followup", "resolved")

    # The follow-up goes to the 客服 queue again, as new cards.
    followup, view = desk.only_card(ZHANGSAN)
    assert followup not in (zs_card, signers[ZHANGSAN])
    assert desk.only_card(XIAOMEI)[0] != xm_card
    story = await desk.timeline(number)
    assert story.count(("person:xiaomei", "受理了「客服受理」")) == 1
    assert ("person:lisi", "填写了 解决方案、赔偿金额") in story
    assert ("person:boss", "完成「大额赔偿会签」") in story
    assert len(desk.fake.calls(ACCESS_TOKEN)) == 2
    # Every push was acknowledged once; nothing is left to send; no card was delivered twice.
    assert all(push.acked for push in desk.fake.pushes.values())
    assert await desk.pending_rows() == 0
    # Each card was created once; the only repeats are calls refused for the revoked token.
    tokens: dict[str, list[str]] = {}
    for call in desk.fake.calls(CREATE_AND_DELIVER):
        token = call.headers["x-acs-dingtalk-access-token"]
        tokens.setdefault(call.body["outTrackId"], []).append(token)
    assert tokens.keys() == desk.fake.cards.keys()
    revoked = next(iter(tokens.values()))[0]  # the first token, valid until expire_tokens
    for sent in tokens.values():
        assert len(sent) == 1 or (len(sent) == 2 and sent[0] == revoked != sent[1]), sent


async def test_chat_with_the_robot_is_answered_through_the_robot_api(desk: Desk) -> None:
    number = await desk.new_complaint()
    xm_card, _ = desk.only_card(XIAOMEI)
    await desk.click(XIAOMEI, xm_card, "accept")

    updates = desk.fake.cards[xm_card].updates
    todo = await desk.say(XIAOMEI, "我的待办")
    assert todo == f"您有 1 件待办：{number}，卡片已发给您。"
    # The card she holds is refreshed in place (one update), not delivered a second time.
    assert len(desk.cards_of(XIAOMEI)) == 1
    assert desk.fake.cards[xm_card].updates == updates + 1
    assert await desk.say(XIAOMEI, f"查询 {number}") == f"投诉 {number} 的卡片已发给您。"
    assert await desk.say(XIAOMEI, "客户说明天上午在家") == f"已记为投诉 {number} 的评论。"
    story = await desk.timeline(number)
    assert ("person:xiaomei", "评论：客户说明天上午在家") in story
    # The same message pushed twice (DingTalk may): one comment, one answer.
    comment = next(p.message_id for p in desk.fake.pushes.values() if "客户说明天" in str(p.data))
    answers = len(desk.texts_to(XIAOMEI))
    await desk.repush(comment)
    assert await desk.deliver() == 0
    assert await desk.timeline(number) == story
    assert len(desk.texts_to(XIAOMEI)) == answers
    await desk.click(XIAOMEI, xm_card, "submit")

    # 李四 drafts the fields in chat, then 提交 on the card sends them.
    handle, _ = desk.only_card(LISI)
    await desk.click(LISI, handle, "accept")
    assert "已记下“解决方案”" in await desk.say(LISI, "解决方案：补发新杯")
    assert "已记下“赔偿金额”" in await desk.say(LISI, "赔偿金额：200")
    await desk.click(LISI, handle, "submit")
    complaint = await desk.complaint(number)
    assert complaint.values["solution"] == "补发新杯"
    assert float(complaint.values["compensation"]) == 200
    assert complaint.current_step == "followup"  # 200 needs no sign-off
    # Done is done: the submitted task is no longer on 李四's (or 小美's) to-do list.
    assert await desk.say(LISI, "我的待办") == "您目前没有待办投诉。"
    assert (await desk.say(XIAOMEI, "我的待办")).startswith(f"您有 1 件待办：{number}")

    # Every answer went out through the robot's batchSend (`say` checks one answer each); the
    # session webhook each message carried was never used.
    assert desk.fake.calls("/robot/sendBySession") == []
    sends = desk.fake.calls(BATCH_SEND)
    assert {tuple(c.body["userIds"]) for c in sends} >= {(XIAOMEI,), (LISI,)}
    assert all(c.headers["x-acs-dingtalk-access-token"] for c in sends)


async def test_a_click_while_the_database_is_down_is_retried_and_handled_once(
    desk: Desk, db: Database, tmp_path: Path
) -> None:
    number = await desk.new_complaint()
    xm_card, _ = desk.only_card(XIAOMEI)
    zs_card, _ = desk.only_card(ZHANGSAN)
    story, updates = await desk.timeline(number), desk.updates()

    working = desk.service.rt.db
    desk.service.rt.db = Database(_unreachable(db, tmp_path))
    try:
        message_id = await desk.fake.push_card_callback(xm_card, XIAOMEI, action="accept")
        # Not stored, so not acknowledged: the SDK answers with a non-200 code (a NACK).
        await desk.fake.wait_for(lambda: bool(desk.fake.acks_for(message_id)))
        assert desk.fake.acks_for(message_id)[0].code != 200
        assert not desk.fake.pushes[message_id].acked
    finally:
        unreachable, desk.service.rt.db = desk.service.rt.db, working
        await unreachable.dispose()
    assert await desk.timeline(number) == story
    # The service said so (Reply(accepted=False)); it did not crash the SDK's handler.
    assert callbacks(desk, "unavailable") >= 1

    # DingTalk pushes it again; now it is stored, handled and acknowledged, once.
    await desk.fake.wait_acked(message_id)
    acks = desk.fake.acks_for(message_id)
    assert [a.code for a in acks].count(200) == 1 and acks[-1].code == 200
    assert desk.fake.pushes[message_id].attempts == len(acks) >= 2
    await desk.deliver()
    assert (await desk.timeline(number))[len(story) :] == [("person:xiaomei", "受理了「客服受理」")]
    each_updated_once(updates, desk.updates())
    assert desk.fake.cards[xm_card].updates == desk.fake.cards[zs_card].updates == 1
    assert "已由 小美 受理" in desk.view(ZHANGSAN, zs_card)["outcome"]


async def test_three_approvers_tapping_at_once_are_all_counted(desk: Desk) -> None:
    """The stream hands over frames concurrently: simultaneous approvals must not be lost."""
    number = await desk.new_complaint()
    xm_card, _ = desk.only_card(XIAOMEI)
    await desk.click(XIAOMEI, xm_card, "accept")
    await desk.click(XIAOMEI, xm_card, "submit")
    handle, _ = desk.only_card(LISI)
    await desk.click(LISI, handle, "accept")
    await desk.click(
        LISI, handle, "submit", inputs={"solution": "全额退款", "compensation": "1500"}
    )
    signers = {user: desk.only_card(user)[0] for user in (QIANQI, ZHANGSAN, BOSS)}
    before = desk.updates()

    pushed = await asyncio.gather(
        *(
            desk.fake.push_card_callback(ref, user, action="approve")
            for user, ref in signers.items()
        )
    )
    for message_id in pushed:
        await desk.fake.wait_acked(message_id)
    await desk.deliver()

    complaint = await desk.complaint(number)
    assert (complaint.current_step, complaint.status) == ("followup", "resolved")
    each_updated_once(before, desk.updates())
    for user, ref in signers.items():
        view = desk.view(user, ref)
        assert view["has_actions"] == "false" and "同意" in view["outcome"], (user, view)
