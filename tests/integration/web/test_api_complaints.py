"""Complaints through the REST API: create, read, edit, act, comment (both databases)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.integrations.tokens import create_token
from bot.service.wiring import Service
from storage.models import Complaint, Customer

VALUES = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "保温杯有裂缝，一倒水就漏",
    "订单号": "202611230001",
}


async def _headers(service: Service, *scopes: str, name: str = "hotline") -> dict[str, str]:
    async with service.rt.db.write() as session:
        issued = await create_token(session, name, scopes, now=service.rt.now())
    return {"Authorization": f"Bearer {issued.secret}"}


async def _create(client: TestClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/complaints", json={"values": VALUES, **extra}, headers=headers
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def test_a_created_complaint_is_on_the_timeline_as_the_integration(
    client: TestClient, service: Service
):
    headers = await _headers(service, "write", "read")
    created = await _create(client, headers, customer={"customer_no": "C123456"})
    number = created["number"]
    assert created["channel"] == "hotline" and created["status"] == "new"
    assert created["tasks"][0]["step_id"] == "accept"
    first = created["timeline"][0]
    assert (first["actor"], first["actor_name"], first["summary"]) == (
        "integration:hotline",
        "集成「hotline」",
        "提交了投诉（hotline）",
    )
    assert created["customer"]["customer_no"] == "C123456"
    read = await client.get(f"/api/v1/complaints/{number}", headers=headers)
    assert (await read.json())["values"]["order_no"] == "202611230001"
    # The same customer complains again: their history links up.
    again = await _create(client, headers, customer={"customer_no": "C123456"})
    assert again["customer"]["id"] == created["customer"]["id"]
    history = await (
        await client.get(f"/api/v1/customers/{created['customer']['id']}", headers=headers)
    ).json()
    assert [c["number"] for c in history["complaints"]] == [again["number"], number]


async def test_form_errors_come_back_per_field(client: TestClient, service: Service):
    headers = await _headers(service, "write")
    response = await client.post(
        "/api/v1/complaints",
        json={"values": {**VALUES, "联系电话": "12345", "投诉类型": "天气不好", "问题描述": None}},
        headers=headers,
    )
    assert response.status == 422
    errors = {e["field"]: e for e in (await response.json())["errors"]}
    assert set(errors) >= {"phone", "type", "description"}
    assert errors["type"]["label"] == "投诉类型" and errors["type"]["message"]
    shape = await client.post("/api/v1/complaints", json={"values": "nope"}, headers=headers)
    assert shape.status == 422 and (await shape.json())["errors"][0]["field"] == "values"
    broken = await client.post("/api/v1/complaints", data=b"{not json", headers=headers)
    assert broken.status == 400


async def test_text_no_database_can_store_is_refused(client: TestClient, service: Service):
    headers = await _headers(service, "write", "read")
    for bad in ("漏水\x00了", "\ud800"):
        response = await client.post(
            "/api/v1/complaints",
            data=json.dumps({"values": {**VALUES, "问题描述": bad}}),
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status == 422, bad
        assert (await response.json())["errors"][0]["field"] == "values.问题描述"
    nul_query = await client.get("/api/v1/complaints?q=%00", headers=headers)
    assert nul_query.status == 400


async def test_a_retried_create_returns_the_first_result(client: TestClient, service: Service):
    headers = {**await _headers(service, "write"), "Idempotency-Key": "call-7781"}
    first = await client.post("/api/v1/complaints", json={"values": VALUES}, headers=headers)
    second = await client.post("/api/v1/complaints", json={"values": VALUES}, headers=headers)
    assert (first.status, second.status) == (201, 201)
    assert (await first.json())["number"] == (await second.json())["number"]
    assert first.headers["Idempotent-Replayed"] == "false"
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    other = await client.post(
        "/api/v1/complaints", json={"values": {**VALUES, "订单号": ""}}, headers=headers
    )
    assert other.status == 422 and other.headers.get("Idempotent-Replayed") is None
    async with service.rt.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Complaint)) == 1


async def test_concurrent_retries_with_one_key_create_once(client: TestClient, service: Service):
    headers = {**await _headers(service, "write"), "Idempotency-Key": "burst-1"}
    answers = await asyncio.gather(
        *(
            client.post("/api/v1/complaints", json={"values": VALUES}, headers=headers)
            for _ in range(4)
        )
    )
    numbers = {(await a.json())["number"] for a in answers}
    assert [a.status for a in answers] == [201] * 4 and len(numbers) == 1
    async with service.rt.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Complaint)) == 1


async def test_patch_writes_only_the_fields_the_api_may_write(client: TestClient, service: Service):
    headers = await _headers(service, "write", "read")
    number = (await _create(client, headers))["number"]
    response = await client.patch(
        f"/api/v1/complaints/{number}",
        json={"values": {"订单号": "202611239999"}},
        headers=headers,
    )
    assert response.status == 200
    body = await response.json()
    assert body["values"]["order_no"] == "202611239999"
    assert body["timeline"][-1]["actor"] == "integration:hotline"
    refused = await client.patch(
        f"/api/v1/complaints/{number}", json={"values": {"解决方案": "自己写的"}}, headers=headers
    )
    assert refused.status == 422
    assert (await refused.json())["errors"][0]["field"] == "solution"
    missing = await client.patch(
        "/api/v1/complaints/TS20991231-9999",
        json={"values": {"订单号": "202611239999"}},
        headers=headers,
    )
    assert missing.status == 404


async def test_actions_run_as_the_named_staff_member(client: TestClient, service: Service):
    headers = await _headers(service, "write", "act", "read", name="crm-desk")
    number = (await _create(client, headers))["number"]
    accept = await client.post(
        f"/api/v1/complaints/{number}/actions",
        json={"action": "accept", "person": "xiaomei"},
        headers=headers,
    )
    assert accept.status == 200
    body = await accept.json()
    assert body["status"] == "in_progress" and body["tasks"][0]["assignee"] == "xiaomei"
    actors = [(e["actor"], e["summary"]) for e in body["timeline"]]
    assert ("person:xiaomei", "受理了「客服受理」") in actors
    assert ("integration:crm-desk", "经集成「crm-desk」代 小美 操作：受理") in actors
    refused = await client.post(
        f"/api/v1/complaints/{number}/actions",
        json={"action": "submit", "person": "lisi"},
        headers=headers,
    )
    assert refused.status == 409
    assert (await refused.json())["errors"][0]["message"] == "已由 小美 受理"
    stranger = await client.post(
        f"/api/v1/complaints/{number}/actions",
        json={"action": "accept", "person": "nobody"},
        headers=headers,
    )
    assert stranger.status == 422
    bad_value = await client.post(
        f"/api/v1/complaints/{number}/actions",
        json={"action": "submit", "person": "xiaomei", "values": {"投诉类型": "天气"}},
        headers=headers,
    )
    assert bad_value.status == 422 and (await bad_value.json())["errors"][0]["field"] == "type"


async def test_comments_are_added_and_listed(client: TestClient, service: Service):
    headers = await _headers(service, "write", "read")
    number = (await _create(client, headers))["number"]
    added = await client.post(
        f"/api/v1/complaints/{number}/comments", json={"text": "已电话联系客户"}, headers=headers
    )
    assert added.status == 201
    comment = await added.json()
    assert (comment["author"], comment["text"]) == ("integration:hotline", "已电话联系客户")
    listed = await (
        await client.get(f"/api/v1/complaints/{number}/comments", headers=headers)
    ).json()
    assert [c["text"] for c in listed["items"]] == ["已电话联系客户"]


async def test_lists_filter_and_page_by_cursor(client: TestClient, service: Service):
    headers = await _headers(service, "write", "read")
    numbers = [(await _create(client, headers))["number"] for _ in range(3)]
    page = await (await client.get("/api/v1/complaints?limit=2", headers=headers)).json()
    assert [c["number"] for c in page["items"]] == numbers[:0:-1]
    rest = await (
        await client.get(
            f"/api/v1/complaints?limit=2&cursor={page['next_cursor']}", headers=headers
        )
    ).json()
    assert [c["number"] for c in rest["items"]] == numbers[:1] and rest["next_cursor"] is None
    found = await (
        await client.get("/api/v1/complaints?q=保温杯&status=new,in_progress", headers=headers)
    ).json()
    assert len(found["items"]) == 3
    none = await (await client.get("/api/v1/complaints?type=服务态度", headers=headers)).json()
    assert none["items"] == []
    for query in (
        "cursor=zzzz",
        "limit=0",
        "limit=201",
        "created_from=2026-11-23",
        "status=open",
        "created_from=0001-01-01T00:00:00%2B14:00",
    ):
        response = await client.get(f"/api/v1/complaints?{query}", headers=headers)
        assert response.status == 400, query


async def test_customers_are_found_by_phone(client: TestClient, service: Service):
    headers = await _headers(service, "write", "read")
    await _create(client, headers)
    found = await (await client.get("/api/v1/customers?phone=13912345678", headers=headers)).json()
    assert [c["name"] for c in found["items"]] == ["王小明"]
    async with service.rt.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1
    assert (await client.get("/api/v1/customers/999", headers=headers)).status == 404
