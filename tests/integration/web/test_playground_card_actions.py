"""Playground card actions beyond the workflow: 转部门, 回复客户, 评论, 等待客户补充, 查询."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.service.wiring import Service
from storage.models import Complaint, Timer
from tests.integration.web.test_playground_chat import (
    delivered,
    file_complaint,
    latest_card,
    new_id,
    playground,
    say,
)


async def click(client: TestClient, person: str, card: dict, action: str, **body: object) -> None:
    response = await client.post(
        f"/playground/api/people/{person}/clicks",
        json={"id": new_id(), "card_ref": card["ref"], "action": action, **body},
    )
    assert response.status == 200, await response.text()


async def staff_says(client: TestClient, person: str, text: str) -> str:
    response = await client.post(
        f"/playground/api/people/{person}/messages", json={"id": new_id(), "text": text}
    )
    assert response.status == 200, await response.text()
    return (await response.json())["reply"]


async def accepted_by_zhangsan(client: TestClient, service: Service) -> tuple[str, str, dict]:
    """A filed complaint accepted by 张三: (customer session, number, his current card)."""
    session = new_id()
    number = await file_complaint(client, session)
    pg = playground(service)
    card = (await delivered(pg, "user:zhangsan", lambda d: d.kind == "card")).payload["card"]
    await click(client, "zhangsan", card, "accept")
    await delivered(pg, "user:zhangsan", lambda d: d.kind == "card_update")
    return session, number, latest_card(pg, "zhangsan", number)


def action_ids(card: dict) -> list[str]:
    return [a["id"] for a in card["actions"]]


async def test_the_holder_moves_the_complaint_to_another_department(
    client: TestClient, service: Service
):
    _session, number, card = await accepted_by_zhangsan(client, service)
    pg = playground(service)
    await click(
        client, "zhangsan", card, "submit", inputs={"description": "保温杯杯身有裂缝，漏水"}
    )
    handle = (await delivered(pg, "user:lisi", lambda d: d.kind == "card")).payload["card"]
    await click(client, "lisi", handle, "accept")
    await delivered(pg, "user:lisi", lambda d: d.kind == "card_update")
    mine = latest_card(pg, "lisi", number)
    assert "assign_department" in action_ids(mine)
    (department,) = [s for s in mine["selects"] if s["key"] == "department"]
    assert department["for_actions"] == ["assign_department"]
    logistics = next(o["id"] for o in department["options"] if o["text"] == "物流部")
    await click(client, "lisi", mine, "assign_department", selections={"department": [logistics]})
    moved = await delivered(pg, "user:zhaoliu", lambda d: d.kind == "card")
    assert moved.payload["card"]["complaint_number"] == number
    body = await (await client.get(f"/api/v1/complaints/{number}")).json()
    assert body["department"] == "logistics" and body["assignee"] == "zhaoliu"


async def test_assign_department_without_a_choice_says_so_on_the_card(
    client: TestClient, service: Service
):
    _session, number, card = await accepted_by_zhangsan(client, service)
    await click(client, "zhangsan", card, "assign_department")
    pg = playground(service)
    await delivered(
        pg, "user:zhangsan", lambda d: d.payload.get("card", {}).get("notice") is not None
    )
    assert latest_card(pg, "zhangsan", number)["notice"] == "请先选择要转到哪个部门"


async def test_reply_from_the_card_reaches_the_customer_and_comments_do_not(
    client: TestClient, service: Service
):
    session = new_id()
    number = await file_complaint(client, session)
    pg = playground(service)
    card = (await delivered(pg, "user:zhangsan", lambda d: d.kind == "card")).payload["card"]
    assert action_ids(card)[-2:] == ["reply_customer", "comment"]
    await click(client, "zhangsan", card, "comment", inputs={"comment": "先查一下库存"})
    await click(
        client, "zhangsan", card, "reply_customer", inputs={"comment": "您好，我们正在核实"}
    )
    reply = await delivered(
        pg, f"user:c-{session}", lambda d: "正在核实" in d.payload.get("text", "")
    )
    assert reply.payload["text"] == f"关于投诉 {number} 的回复：您好，我们正在核实"
    await delivered(
        pg, "user:zhangsan", lambda d: d.payload.get("card", {}).get("notice") == "已回复客户"
    )
    texts = [d.payload.get("text", "") for d in pg.inbox(f"user:c-{session}")]
    assert not any("库存" in t for t in texts)
    timeline = latest_card(pg, "zhangsan", number)["timeline"]
    assert [e["text"] for e in timeline][-2:] == [
        "张三 评论：先查一下库存",
        "张三 回复客户：您好，我们正在核实",
    ]


async def test_a_reply_needs_text(client: TestClient, service: Service):
    number = await file_complaint(client, new_id())
    pg = playground(service)
    card = (await delivered(pg, "user:zhangsan", lambda d: d.kind == "card")).payload["card"]
    await click(client, "zhangsan", card, "reply_customer")
    await delivered(pg, "user:zhangsan", lambda d: d.kind == "card_update")
    assert latest_card(pg, "zhangsan", number)["notice"] == "请先写下要回复客户的话"


async def test_waiting_for_the_customer_pauses_until_they_answer(
    client: TestClient, service: Service
):
    session, number, card = await accepted_by_zhangsan(client, service)
    pg = playground(service)
    assert "wait_customer" in action_ids(card)
    await click(client, "zhangsan", card, "wait_customer", inputs={"question": "订单截图"})
    asked = await delivered(
        pg, f"user:c-{session}", lambda d: "订单截图" in d.payload.get("text", "")
    )
    assert "请您补充：订单截图" in asked.payload["text"]
    await delivered(
        pg, "user:zhangsan", lambda d: d.payload.get("card", {}).get("badge") == "等待客户补充"
    )
    paused = latest_card(pg, "zhangsan", number)
    assert "wait_customer" not in action_ids(paused) and "submit" in action_ids(paused)
    assert await timer_statuses(service, number) == {"paused"}

    updates_before = len(pg.inbox("user:zhangsan"))
    answer = await say(client, session, "截图已经拍好了，订单 202611230001")
    assert "已收到您补充的信息" in answer["reply"]
    assert await timer_statuses(service, number) == {"pending"}
    # The holder's card no longer says the clock is stopped, and offers asking again.
    await delivered(
        pg,
        "user:zhangsan",
        lambda d: d in pg.inbox("user:zhangsan")[updates_before:] and d.kind == "card_update",
    )
    running = latest_card(pg, "zhangsan", number)
    assert running["badge"] != "等待客户补充" and "wait_customer" in action_ids(running)


async def test_waiting_is_only_for_the_holder_of_an_accepted_task(
    client: TestClient, service: Service
):
    number = await file_complaint(client, new_id())
    pg = playground(service)
    card = (await delivered(pg, "user:zhangsan", lambda d: d.kind == "card")).payload["card"]
    assert "wait_customer" not in action_ids(card)
    await click(client, "zhangsan", card, "wait_customer")  # a forged click
    await delivered(pg, "user:zhangsan", lambda d: d.kind == "card_update")
    assert latest_card(pg, "zhangsan", number)["notice"] == "只有已受理的处理人可以请客户补充"
    assert await timer_statuses(service, number) == {"pending"}


async def test_query_by_someone_not_handling_it_sends_a_read_only_card(
    client: TestClient, service: Service
):
    number = await file_complaint(client, new_id())
    answer = await staff_says(client, "lisi", f"查询 {number}")
    assert answer == f"投诉 {number} 的卡片已发给您（仅供查看）。"
    pg = playground(service)
    shown = (await delivered(pg, "user:lisi", lambda d: d.kind == "card")).payload["card"]
    assert shown["complaint_number"] == number
    assert shown["actions"] == [] and shown["selects"] == [] and shown["inputs"] == []
    assert shown["notice"] == "您不是当前处理人，仅供查看"
    assert any(f["label"] == "问题描述" for f in shown["fields"])


async def test_staff_typing_reply_to_customer_reaches_the_customer(
    client: TestClient, service: Service
):
    session = new_id()
    number = await file_complaint(client, session)
    pg = playground(service)
    await delivered(pg, "user:zhangsan", lambda d: d.kind == "card")
    answer = await staff_says(client, "zhangsan", "回复客户：已安排补发")
    assert answer == f"已回复客户（投诉 {number}）。"
    reply = await delivered(pg, f"user:c-{session}", lambda d: "补发" in d.payload.get("text", ""))
    assert reply.payload["text"] == f"关于投诉 {number} 的回复：已安排补发"


async def timer_statuses(service: Service, number: str) -> set[str]:
    async with service.rt.db.read() as session:
        complaint = await session.scalar(select(Complaint).where(Complaint.number == number))
        assert complaint is not None
        rows = await session.scalars(
            select(Timer.status).where(
                Timer.complaint_id == complaint.id, Timer.status != "cancelled"
            )
        )
        return set(rows.all())


async def test_the_new_actions_also_work_as_typed_commands(client: TestClient, service: Service):
    session, number, _card = await accepted_by_zhangsan(client, service)
    pg = playground(service)
    assert await staff_says(client, "zhangsan", f"回复客户 {number} 明天回电") == (
        f"已回复客户（投诉 {number}）。"
    )
    await delivered(pg, f"user:c-{session}", lambda d: "明天回电" in d.payload.get("text", ""))
    reply = await staff_says(client, "zhangsan", f"等待客户补充 {number} 收货地址")
    assert "计时已暂停" in reply
    assert await timer_statuses(service, number) == {"paused"}
    assert "请写上部门名称" in await staff_says(client, "zhangsan", f"转部门 {number}")
    assert await staff_says(client, "zhangsan", f"转部门 {number} 物流部") == (
        f"已转部门投诉 {number}。"
    )
    body = await (await client.get(f"/api/v1/complaints/{number}")).json()
    assert body["department"] == "logistics"
