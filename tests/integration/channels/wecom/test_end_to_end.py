"""WeCom end to end: the core sends cards, encrypted clicks drive the flow, every card updates once.

The whole service runs (create_app with the WeCom channel on, pointed at the fake WeCom); the
relay is driven by hand so each step's deliveries can be looked at. Both databases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.appkeys import SERVICE
from bot.config.loader import load_config_text
from bot.service.wiring import Service
from bot.settings import Settings
from storage.db import Database
from storage.models import Complaint, OutboxMessage, TimelineEntry
from tests.fakes.clock import FakeClock
from tests.fakes.configs import staff_in
from tests.fakes.wecom_client import WecomCallbacks
from tests.fakes.wecom_server import FakeWecom
from tests.integration.channels.wecom.conftest import AES_KEY, CALLBACK_TOKEN, CHANNEL

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
    "订单号": "202611230001",
}


class ClockView:
    """The service's clock reading the test's FakeClock, so signatures and timers agree."""

    def __init__(self, clock: FakeClock):
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now


@dataclass
class Desk:
    client: TestClient
    service: Service
    fake: FakeWecom
    clock: FakeClock
    wecom: WecomCallbacks

    @property
    def url(self) -> str:
        return str(self.client.make_url(f"/callbacks/wecom/{CHANNEL}"))

    async def deliver(self) -> int:
        """Run the outbox relay until nothing is due."""
        total = 0
        while sent := await self.service.relay.run_once():
            total += sent
        return total

    def cards_of(self, user: str) -> dict[str, Any]:
        """task_id -> the card as `user` sees it now."""
        return {task: record.current for (u, task), record in self.fake.cards.items() if u == user}

    def only_card(self, user: str, *, actionable: bool = True) -> tuple[str, dict[str, Any]]:
        cards = [
            (task, card)
            for task, card in self.cards_of(user).items()
            if not actionable or card.get("card_type") != "text_notice"
        ]
        assert len(cards) == 1, cards
        return cards[0]

    async def click(
        self, user: str, task_id: str, action: str, selections: dict[str, list[str]] | None = None
    ) -> int:
        code = self.fake.click_code(user, task_id)
        xml = self.wecom.card_click(user, task_id, f"act:{action}", code, selections=selections)
        status, _body = await self.wecom.post(self.client.session, self.url, xml)
        return status

    async def say(self, user: str, text: str) -> str:
        status, body = await self.wecom.post(
            self.client.session, self.url, self.wecom.text(user, text)
        )
        assert status == 200
        return self.wecom.open_reply(body).get("Content", "") if body != "success" else ""

    async def timeline(self, number: str) -> list[tuple[str, str]]:
        async with self.service.rt.db.read() as s:
            complaint = await s.scalar(select(Complaint).where(Complaint.number == number))
            rows = await s.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.complaint_id == complaint.id)
                .order_by(TimelineEntry.id)
            )
            return [(r.actor, r.summary) for r in rows]

    async def complaint(self, number: str) -> Complaint:
        async with self.service.rt.db.read() as s:
            return await s.scalar(select(Complaint).where(Complaint.number == number))

    def updates_of(self, user: str, task_id: str) -> int:
        return len(self.fake.card(user, task_id).updates)

    def updates(self) -> dict[tuple[str, str], int]:
        """(user, task_id) -> how many times that member's card was updated so far."""
        return {key: len(record.updates) for key, record in self.fake.cards.items()}

    async def failed_rows(self) -> list[tuple[str, str, str | None]]:
        """(kind, target, last_error) of every outbox row that failed for good."""
        async with self.service.rt.db.read() as s:
            rows = await s.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed"))
            return [(r.kind, r.target, r.last_error) for r in rows]


def each_updated_once(
    before: Mapping[tuple[str, str], int], after: Mapping[tuple[str, str], int]
) -> set[tuple[str, str]]:
    """The cards an action updated; fails when one was updated more than once."""
    changed = {key for key, count in after.items() if key in before and count != before[key]}
    twice = {key: after[key] - before[key] for key in changed if after[key] - before[key] != 1}
    assert not twice, f"cards updated more than once by one click: {twice}"
    return changed


async def act(
    desk: Desk,
    user: str,
    task_id: str,
    action: str,
    selections: dict[str, list[str]] | None = None,
) -> set[tuple[str, str]]:
    """A click, delivered; the cards it updated (each once, the clicked one among them)."""
    before = desk.updates()
    assert await desk.click(user, task_id, action, selections) == 200
    await desk.deliver()
    changed = each_updated_once(before, desk.updates())
    assert (user, task_id) in changed, f"the clicked card {user}/{task_id} was not updated"
    return changed


async def open_desk(
    aiohttp_client: Any, db: Database, tmp_path: Path, fake: FakeWecom, clock: FakeClock
) -> Desk:
    """The service on the test database, everyone in WeCom at the fake (shared by modules)."""
    text = staff_in("wecom", api_bases={CHANNEL: fake.base_url}, third_signer=True)
    config = load_config_text(
        text,
        environ={
            "WECOM_CORP_ID": fake.corp_id,
            "WECOM_AGENT_ID": str(fake.agent_id),
            "WECOM_SECRET": fake.secret,
            "WECOM_TOKEN": CALLBACK_TOKEN,
            "WECOM_AES_KEY": AES_KEY,
        },
    )
    settings = Settings(
        DATABASE_URL=db.url,
        DATA_DIR=tmp_path,
        SECRET_KEY="test",
        PUBLIC_BASE_URL="https://bot.example.com",
    )
    app = create_app(settings, config, clock=ClockView(clock), background=False)
    client = await aiohttp_client(app)
    wecom = WecomCallbacks(
        corp_id=fake.corp_id,
        token=CALLBACK_TOKEN,
        encoding_aes_key=AES_KEY,
        agent_id=fake.agent_id,
        clock=clock,
    )
    return Desk(client, app[SERVICE], fake, clock, wecom)


def offered(card: Mapping[str, Any]) -> list[str]:
    """The actions a WeCom card offers: its buttons, or its action chooser (two selects)."""
    if "button_list" in card:
        return [b["key"].removeprefix("act:") for b in card["button_list"]]
    chooser = next(s for s in card.get("select_list", ()) if s["question_key"] == "_action")
    return [o["id"] for o in chooser["option_list"]]


@pytest.fixture
async def desk(
    aiohttp_client, db: Database, tmp_path: Path, fake: FakeWecom, clock: FakeClock
) -> Desk:
    return await open_desk(aiohttp_client, db, tmp_path, fake, clock)


async def _new_complaint(desk: Desk, values: dict[str, str] = QUALITY) -> str:
    async with desk.service.rt.db.write() as s:
        lc = await desk.service.complaints.create(
            s, values=values, channel="playground", actor="customer"
        )
    await desk.deliver()
    return lc.number


async def test_a_complaint_is_worked_from_cards_to_the_end(desk: Desk):
    number = await _new_complaint(desk)
    # The shared 客服 queue: both 张三 and 小美 get the card.
    task, card = desk.only_card("XiaoMei")
    assert number in card["main_title"]["title"]
    zs_task, _ = desk.only_card("ZhangSan")

    # Each click below updates every card it touches exactly once (act checks it).
    changed = await act(desk, "XiaoMei", task, "accept")
    assert changed == {("XiaoMei", task), ("ZhangSan", zs_task)}
    # 张三's copy now says who took it, and offers nothing.
    assert desk.cards_of("ZhangSan")[zs_task]["card_type"] == "text_notice"
    assert "已由 小美 受理" in str(desk.cards_of("ZhangSan")[zs_task])

    # Transfer to 张三, who submits; 产品质量 goes to 产品部 (李四).
    await act(desk, "XiaoMei", task, "transfer", {"assignee": ["zhangsan"]})
    assert "已转派给 张三" in str(desk.cards_of("XiaoMei")[task])
    zs_task, _ = desk.only_card("ZhangSan")
    # A transferred task is offered anew: 张三 accepts before he can submit.
    await act(desk, "ZhangSan", zs_task, "accept")
    await act(desk, "ZhangSan", zs_task, "submit")
    assert (await desk.complaint(number)).department == "product"

    handle, _ = desk.only_card("LiSi")
    await act(desk, "LiSi", handle, "accept")
    # WeCom cards have no text box: fields are typed in chat, then 提交 sends them.
    assert "已记下" in await desk.say("LiSi", "解决方案：补发新杯")
    assert "已记下" in await desk.say("LiSi", "赔偿金额：200")
    await act(desk, "LiSi", handle, "submit")
    complaint = await desk.complaint(number)
    assert complaint.current_step == "followup" and complaint.status == "resolved"
    assert complaint.values["solution"] == "补发新杯"

    followup, _ = desk.only_card("ZhangSan")
    await act(desk, "ZhangSan", followup, "accept")
    await act(desk, "ZhangSan", followup, "submit")
    assert (await desk.complaint(number)).status == "closed"
    story = await desk.timeline(number)
    assert ("person:xiaomei", "受理了「客服受理」") in story
    assert ("person:xiaomei", "将任务转派给 张三") in story
    assert ("person:lisi", "填写了 解决方案、赔偿金额") in story
    # No update reused a ResponseCode (the fake answers 60140 and the row would fail).
    assert await desk.failed_rows() == []


async def test_double_click_retry_and_stale_card_change_nothing(desk: Desk):
    number = await _new_complaint(desk)
    task, _ = desk.only_card("XiaoMei")
    zs_task, _ = desk.only_card("ZhangSan")
    code = desk.fake.click_code("XiaoMei", task)
    xml = desk.wecom.card_click("XiaoMei", task, "act:accept", code)
    # WeCom retries the very same event: one acceptance.
    for _ in range(3):
        status, _ = await desk.wecom.post(desk.client.session, desk.url, xml)
        assert status == 200
    await desk.deliver()
    story = await desk.timeline(number)
    assert story.count(("person:xiaomei", "受理了「客服受理」")) == 1
    assert desk.updates_of("XiaoMei", task) == 1

    # 张三 clicks his stale copy (a new click, a new code): refused, his card says why.
    await desk.click("ZhangSan", zs_task, "accept")
    await desk.deliver()
    assert (await desk.timeline(number)) == story
    stale = desk.cards_of("ZhangSan")[zs_task]
    assert "已由 小美 受理" in str(stale)
    # Still settled: the refusal must not bring back buttons on a card that said "done".
    assert stale["card_type"] == "text_notice"
    assert "button_list" not in stale


async def test_three_approvers_one_rejects_back_to_department(desk: Desk):
    number = await _new_complaint(desk)
    task, _ = desk.only_card("XiaoMei")
    await act(desk, "XiaoMei", task, "accept")
    await act(desk, "XiaoMei", task, "submit")
    handle, _ = desk.only_card("LiSi")
    await act(desk, "LiSi", handle, "accept")
    await desk.say("LiSi", "解决方案：全额退款并补偿")
    await desk.say("LiSi", "赔偿金额：2000")
    await act(desk, "LiSi", handle, "submit")
    # Over 1000: 财务审核 (钱七), 客服部 head (张三) and 管理层 (周总) sign off.
    signers = {}
    for user in ("QianQi", "ZhangSan", "ZhouZong"):
        signers[user], card = desk.only_card(user)
        assert "approve" in offered(card)
    approved = await act(desk, "QianQi", signers["QianQi"], "approve")
    # One approval of three: only 钱七's own card changes.
    assert approved == {("QianQi", signers["QianQi"])}
    rejected = await act(desk, "ZhangSan", signers["ZhangSan"], "reject")
    # The rejection settles both remaining signers' cards, each once.
    assert {("ZhangSan", signers["ZhangSan"]), ("ZhouZong", signers["ZhouZong"])} <= rejected
    complaint = await desk.complaint(number)
    assert complaint.current_step == "handle"
    story = await desk.timeline(number)
    assert ("person:qianqi", "同意了「大额赔偿会签」") in story
    assert ("person:zhangsan", "驳回了「大额赔偿会签」") in story
    # Every approver's card ended in the right state, and nothing waits on 周总 any more.
    assert "已由 钱七 同意" in str(desk.cards_of("QianQi")[signers["QianQi"]])
    assert "已由 张三 驳回" in str(desk.cards_of("ZhangSan")[signers["ZhangSan"]])
    assert desk.cards_of("ZhouZong")[signers["ZhouZong"]]["card_type"] == "text_notice"
    # 李四 has the handling task again (a new activation).
    again = [t for t, c in desk.cards_of("LiSi").items() if c.get("card_type") != "text_notice"]
    assert again and again[0] != handle
    assert await desk.failed_rows() == []


# --- beyond the workflow: 回复客户 typed in chat, 转部门 and 等待客户补充 from a card --------


async def _customers_complaint(desk: Desk, external_id: str) -> str:
    """A complaint of a customer who can be written to (on the playground channel)."""
    from storage.models import Customer

    async with desk.service.rt.db.write() as s:
        customer = Customer(
            channel="playground",
            external_id=external_id,
            name="王小明",
            profile={},
            created_at=desk.clock.now,
            updated_at=desk.clock.now,
        )
        s.add(customer)
        await s.flush()
        lc = await desk.service.complaints.create(
            s, values=QUALITY, channel="playground", actor="customer", customer=customer
        )
    await desk.deliver()
    return lc.number


def _customer_texts(desk: Desk, external_id: str) -> list[str]:
    pg: Any = desk.service.adapters["playground"]
    inbox = pg.inbox(f"user:{external_id}")
    return [d.payload.get("text", "") for d in inbox]


async def test_reply_typed_to_the_app_reaches_the_customer(desk: Desk):
    number = await _customers_complaint(desk, "c-wecom-1")
    desk.only_card("ZhangSan")
    answer = await desk.say("ZhangSan", "回复客户：已安排补发新杯")
    assert answer == f"已回复客户（投诉 {number}）。"
    await desk.deliver()
    assert f"关于投诉 {number} 的回复：已安排补发新杯" in _customer_texts(desk, "c-wecom-1")


async def test_department_and_waiting_from_a_wecom_card(desk: Desk):
    number = await _customers_complaint(desk, "c-wecom-2")
    task, _ = desk.only_card("ZhangSan")
    await act(desk, "ZhangSan", task, "accept")
    card = desk.cards_of("ZhangSan")[task]
    # Two selects (转派给, 转到部门): one submit button and an action chooser; no text buttons.
    assert card["card_type"] == "multiple_interaction"
    selects = {s["question_key"]: s for s in card["select_list"]}
    chooser = [o["id"] for o in selects["_action"]["option_list"]]
    assert "assign_department" in chooser and "wait_customer" in chooser
    assert "reply_customer" not in chooser and "comment" not in chooser

    await act(desk, "ZhangSan", task, "wait_customer")
    texts = _customer_texts(desk, "c-wecom-2")
    assert any("请您补充相关信息" in t for t in texts), texts
    assert desk.cards_of("ZhangSan")[task]["source"]["desc"] == "等待客户补充"

    logistics = next(o["id"] for o in selects["department"]["option_list"] if o["text"] == "物流部")
    await act(
        desk, "ZhangSan", task, "*", {"_action": ["assign_department"], "department": [logistics]}
    )
    assert (await desk.complaint(number)).department == "logistics"
