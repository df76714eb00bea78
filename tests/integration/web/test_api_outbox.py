"""GET /api/v1/outbox shows what failed and why; POST …/retry puts a failed message back."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient

from bot.integrations.tokens import create_token
from bot.service.wiring import Service
from storage.models import OutboxMessage

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
}


async def _admin(service: Service) -> dict[str, str]:
    async with service.rt.db.write() as session:
        issued = await create_token(session, "ops", ["admin"], now=service.rt.now())
    return {"Authorization": f"Bearer {issued.secret}"}


async def _failed_card(service: Service) -> tuple[int, str]:
    """A card to 小美 that WeCom refused for good, on a real complaint."""
    now = service.rt.now()
    async with service.rt.db.write() as session:
        complaint = await service.complaints.create(
            session, values=QUALITY, channel="playground", actor="customer"
        )
        row = OutboxMessage(
            idempotency_key="test:refused-card",
            kind="card",
            channel="staff-wecom",
            target="user:XiaoMei",
            payload={},
            complaint_id=complaint.complaint.id,
            status="failed",
            attempts=6,
            due_at=now - timedelta(minutes=5),
            last_error="wecom errcode 81013: user not in the app's visible range",
            created_at=now - timedelta(minutes=30),
        )
        session.add(row)
        await session.flush()
        return row.id, complaint.complaint.number


async def test_failed_messages_are_listed_with_their_reason(client: TestClient, service: Service):
    row_id, number = await _failed_card(service)
    headers = await _admin(service)
    response = await client.get("/api/v1/outbox?status=failed", headers=headers)
    assert response.status == 200
    items = (await response.json())["items"]
    assert [(i["id"], i["channel"], i["complaint"], i["attempts"]) for i in items] == [
        (row_id, "staff-wecom", number, 6)
    ]
    assert "81013" in items[0]["last_error"]
    # Without the filter: the complaint's other messages too (its new-complaint notices).
    everything = await (await client.get("/api/v1/outbox", headers=headers)).json()
    assert len(everything["items"]) > 1
    assert [i["id"] for i in everything["items"] if i["status"] == "failed"] == [row_id]


async def test_a_failed_message_is_requeued_once(client: TestClient, service: Service):
    row_id, _ = await _failed_card(service)
    headers = await _admin(service)
    response = await client.post(f"/api/v1/outbox/{row_id}/retry", headers=headers)
    assert response.status == 200
    body = await response.json()
    assert (body["status"], body["attempts"]) == ("pending", 0)
    again = await client.post(f"/api/v1/outbox/{row_id}/retry", headers=headers)
    assert again.status == 409
    assert "pending" in (await again.json())["errors"][0]["message"]


async def test_an_unknown_message_is_404(client: TestClient, service: Service):
    response = await client.post("/api/v1/outbox/999999/retry", headers=await _admin(service))
    assert response.status == 404


async def test_the_list_filters_by_channel(client: TestClient, service: Service):
    await _failed_card(service)
    headers = await _admin(service)
    other = await client.get("/api/v1/outbox?channel=staff-dingtalk", headers=headers)
    assert (await other.json())["items"] == []
    bad = await client.get("/api/v1/outbox?channel=a%20b", headers=headers)
    assert bad.status == 400
