"""DingTalk cards beyond the workflow: 回复客户 / 评论 / 等待客户补充 / 转部门, and chat replies.

The whole service with everyone in DingTalk (see test_end_to_end_harness); the customer files
through the playground channel, whose inbox shows what they received.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.playground import PlaygroundAdapter
from storage.db import Database
from storage.models import Customer, Timer
from tests.fakes.clock import FakeClock
from tests.fakes.dingtalk_gateway import FakeDingtalk
from tests.integration.channels.dingtalk.test_end_to_end_harness import (
    QUALITY,
    STAFF,
    Desk,
    actions_of,
    input_keys,
    open_desk,
)

ZHANGSAN = STAFF["zhangsan"]
CUSTOMER = "c-dingtalk-1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def gateway(clock: FakeClock) -> AsyncIterator[FakeDingtalk]:
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


async def customers_complaint(desk: Desk) -> str:
    """A complaint of a customer who can be written to (on the playground channel)."""
    async with desk.db.write() as session:
        customer = Customer(
            channel="playground",
            external_id=CUSTOMER,
            name="王小明",
            profile={},
            created_at=desk.clock.now,
            updated_at=desk.clock.now,
        )
        session.add(customer)
        await session.flush()
        lc = await desk.service.complaints.create(
            session, values=dict(QUALITY), channel="playground", actor="customer", customer=customer
        )
    await desk.deliver()
    return lc.number


def received(desk: Desk) -> list[str]:
    """The texts the customer got."""
    pg = desk.service.adapters["playground"]
    assert isinstance(pg, PlaygroundAdapter)
    return [d.payload.get("text", "") for d in pg.inbox(f"user:{CUSTOMER}") if not d.inbound]


async def test_reply_typed_into_the_card_reaches_the_customer(desk: Desk) -> None:
    number = await customers_complaint(desk)
    ref, view = desk.only_card(ZHANGSAN)
    assert actions_of(view)[-2:] == ["reply_customer", "comment"]
    assert "comment" in input_keys(view)
    await desk.click(ZHANGSAN, ref, "comment", inputs={"comment": "先联系仓库"})
    assert desk.view(ZHANGSAN, ref)["notice"] == "已记为评论"
    await desk.click(ZHANGSAN, ref, "reply_customer", inputs={"comment": "您好，我们正在核实"})
    assert f"关于投诉 {number} 的回复：您好，我们正在核实" in received(desk)
    assert not any("仓库" in text for text in received(desk))
    assert desk.view(ZHANGSAN, ref)["notice"] == "已回复客户"
    assert desk.fake.cards[ref].params["notice"] == ""  # the notice is his alone
    story = await desk.timeline(number)
    assert ("person:zhangsan", "回复客户：您好，我们正在核实") in story


async def test_reply_typed_in_the_chat_reaches_the_customer(desk: Desk) -> None:
    number = await customers_complaint(desk)
    desk.only_card(ZHANGSAN)
    answer = await desk.say(ZHANGSAN, "回复客户：新杯子今天寄出")
    assert answer == f"已回复客户（投诉 {number}）。"
    assert f"关于投诉 {number} 的回复：新杯子今天寄出" in received(desk)


async def test_waiting_for_the_customer_pauses_the_clock_and_shows_on_the_card(
    desk: Desk,
) -> None:
    number = await customers_complaint(desk)
    ref, _ = desk.only_card(ZHANGSAN)
    await desk.click(ZHANGSAN, ref, "accept")
    view = desk.view(ZHANGSAN, ref)
    assert "wait_customer" in actions_of(view) and "question" in input_keys(view)
    await desk.click(ZHANGSAN, ref, "wait_customer", inputs={"question": "杯子裂缝的照片"})
    assert any("请您补充：杯子裂缝的照片" in text for text in received(desk))
    view = desk.view(ZHANGSAN, ref)
    assert view["badge"] == "等待客户补充" and view["badge_tone"] == "warning"
    assert "wait_customer" not in actions_of(view) and "submit" in actions_of(view)
    async with desk.db.read() as session:
        statuses = set((await session.scalars(select(Timer.status))).all())
    assert statuses == {"paused"}
    story = await desk.timeline(number)
    assert ("person:zhangsan", "等待客户补充信息，计时暂停：杯子裂缝的照片") in story


async def test_the_department_select_moves_the_complaint(desk: Desk) -> None:
    number = await customers_complaint(desk)
    ref, _ = desk.only_card(ZHANGSAN)
    await desk.click(ZHANGSAN, ref, "accept")
    view = desk.view(ZHANGSAN, ref)
    (department,) = [s for s in json.loads(view["selects"]) if s["key"] == "department"]
    assert department["param"] == "select_department"
    logistics = next(o["id"] for o in department["options"] if o["text"] == "物流部")
    await desk.click(ZHANGSAN, ref, "assign_department", selections={"department": [logistics]})
    complaint = await desk.complaint(number)
    assert complaint.department == "logistics"
    assert ("system", "分派至 物流部") in await desk.timeline(number)
