"""CRM, ERP and QMS connectors end to end against the fake systems (both databases)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.service.clock import FixedClock
from storage.models import Complaint, ComplaintLink, Customer, OutboxMessage
from tests.fakes.business_systems import BusinessSystems
from tests.integration.integrations.conftest import (
    AppFactory,
    deliver,
    integration_config,
    service_of,
    token,
)

PHONE = "13912345678"
LOGISTICS = {
    "客户姓名": "王小明",
    "联系电话": PHONE,
    "投诉类型": "物流问题",
    "问题描述": "快递三天没有动静",
    "订单号": "202611230001",
}


def quality(order: str, phone: str = PHONE) -> dict[str, Any]:
    return {
        "客户姓名": "李雷",
        "联系电话": phone,
        "投诉类型": "产品质量",
        "问题描述": "杯盖漏水，无法使用",
        "订单号": order,
    }


async def _create(client: TestClient, values: dict[str, Any], headers: dict[str, str]) -> str:
    response = await client.post("/api/v1/complaints", json={"values": values}, headers=headers)
    assert response.status == 201, await response.text()
    return (await response.json())["number"]


async def _detail(client: TestClient, number: str) -> dict[str, Any]:
    return await (await client.get(f"/api/v1/complaints/{number}")).json()


def _lines(detail: dict[str, Any], actor: str) -> list[str]:
    return [e["summary"] for e in detail["timeline"] if e["actor"] == actor]


async def test_intake_is_enriched_from_crm_and_erp_and_rules_act_on_it(
    client: TestClient, systems: BusinessSystems, clock: FixedClock
):
    systems.customers[PHONE] = {
        "name": "王小明",
        "customer_no": "C123456",
        "level": "VIP",
        "history": "近一年投诉 2 次，均已解决",
    }
    systems.orders["202611230001"] = {"status": "已发货", "product": "保温杯"}
    service = service_of(client)
    number = await _create(client, LOGISTICS, await token(service, "hotline", "write"))
    await deliver(service, clock)
    detail = await _detail(client, number)
    values = detail["values"]
    assert values["crm_level"] == "VIP" and values["crm_history"].startswith("近一年")
    assert (values["order_status"], values["product"]) == ("已发货", "保温杯")
    # The rule on 订单状态 moved the complaint to 物流部 before 客服受理 finished.
    assert detail["department"] == "logistics"
    assert any("CRM 查到客户：王小明" in line for line in _lines(detail, "integration:crm"))
    assert any("订单状态 已发货" in line for line in _lines(detail, "integration:erp"))
    async with service.rt.db.read() as s:
        customer = await s.scalar(select(Customer).where(Customer.phone == PHONE))
    assert customer is not None and customer.customer_no == "C123456"
    assert customer.profile["level"] == "VIP"
    [lookup] = systems.requests("/crm/customers")
    assert (
        lookup.query == {"phone": PHONE} and lookup.headers["Authorization"] == "Bearer crm-secret"
    )
    display = {v["label"]: v["text"] for v in detail["display"]}
    assert display["客户等级"] == "VIP"
    # The cards show it: the open task's cards were updated with the CRM's values.
    async with service.rt.db.read() as s:
        updates = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "card_update"))
        ).all()
    assert any("近一年投诉 2 次" in json.dumps(u.payload, ensure_ascii=False) for u in updates)


async def test_chat_intake_only_queues_the_lookups(
    client: TestClient, systems: BusinessSystems, clock: FixedClock
):
    systems.hang.update({"crm", "erp"})
    service = service_of(client)
    async with service.rt.db.write() as s:
        lc = await service.complaints.create(
            s, values=LOGISTICS, channel="playground", actor="customer"
        )
    assert systems.log == []  # nothing was asked while the customer waited for the reply
    async with service.rt.db.read() as s:
        jobs = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "integrations"))
        ).all()
    assert sorted(j.payload["job"] for j in jobs) == ["crm.lookup", "erp.lookup"]
    assert {j.target for j in jobs} == {f"crm.lookup:{lc.number}", f"erp.lookup:{lc.number}"}


async def test_a_hanging_crm_never_holds_up_intake_and_the_timeline_says_so(
    make_client: AppFactory, systems: BusinessSystems, clock: FixedClock
):
    systems.hang.add("crm")
    systems.orders["202611230001"] = {"status": "运输中", "product": "保温杯"}
    client = await make_client(integration_config(systems.base_url, lookup_timeout="1s"))
    service = service_of(client)
    headers = await token(service, "hotline", "write")
    # Intake only queues the lookup: it answers although the CRM never will.
    number = await asyncio.wait_for(_create(client, LOGISTICS, headers), timeout=30)
    await deliver(service, clock)
    detail = await _detail(client, number)
    assert "CRM 查询失败：超时（1秒未响应）" in _lines(detail, "integration:crm")
    assert detail["values"]["order_status"] == "运输中"  # the ERP lookup went on regardless
    assert detail["status"] == "new" and detail["tasks"]


async def test_an_unknown_order_and_customer_are_noted(
    client: TestClient, systems: BusinessSystems, clock: FixedClock
):
    service = service_of(client)
    number = await _create(client, LOGISTICS, await token(service, "hotline", "write"))
    await deliver(service, clock)
    detail = await _detail(client, number)
    assert "CRM 中没有找到该客户" in _lines(detail, "integration:crm")
    assert "ERP 中没有找到订单 202611230001，请核对订单号" in _lines(detail, "integration:erp")
    assert "order_status" not in detail["values"]


async def test_lookups_are_cached(client: TestClient, systems: BusinessSystems, clock: FixedClock):
    systems.customers[PHONE] = {"name": "王小明", "level": "普通"}
    service = service_of(client)
    headers = await token(service, "hotline", "write")
    for _ in range(2):
        await _create(client, LOGISTICS, headers)
    await deliver(service, clock)
    assert len(systems.requests("/crm/customers")) == 1
    assert len(systems.requests("/erp/orders/")) == 1


async def _close(client: TestClient, number: str, headers: dict[str, str]) -> None:
    """Walk the example flow to its end through the API, as the staff would on cards."""
    steps = [
        {"action": "accept", "person": "xiaomei"},
        {"action": "submit", "person": "xiaomei"},
        {"action": "accept", "person": "lisi"},
        {"action": "submit", "person": "lisi", "values": {"解决方案": "补发新杯"}},
        {"action": "accept", "person": "zhangsan"},
        {"action": "submit", "person": "zhangsan", "values": {"满意度": 5}},
    ]
    for step in steps:
        response = await client.post(
            f"/api/v1/complaints/{number}/actions", json=step, headers=headers
        )
        assert response.status == 200, (step, await response.text())


async def test_closing_pushes_the_outcome_back_retrying_after_errors(
    client: TestClient, systems: BusinessSystems, clock: FixedClock
):
    systems.fail["push"] = [502]
    service = service_of(client)
    headers = await token(service, "desk", "write", "act", "read")
    number = await _create(client, quality("202611230002"), headers)
    await _close(client, number, headers)
    await deliver(service, clock)
    pushes = systems.requests("/crm/complaints")
    assert len(pushes) == 2
    assert pushes[0].headers["Idempotency-Key"] == pushes[1].headers["Idempotency-Key"]
    assert pushes[1].body == {
        "number": number,
        "customer_no": None,
        "outcome": "补发新杯",
        "satisfaction": 5,
        "status": "closed",
    }
    assert "处理结果已同步到 CRM" in _lines(await _detail(client, number), "integration:crm")


async def test_a_refused_push_is_noted_as_failed(
    client: TestClient, systems: BusinessSystems, clock: FixedClock
):
    systems.fail["push"] = [400]
    service = service_of(client)
    headers = await token(service, "desk", "write", "act", "read")
    number = await _create(client, quality("202611230002"), headers)
    await _close(client, number, headers)
    await deliver(service, clock)
    assert "CRM 回写失败：请求被拒绝（HTTP 400）" in _lines(
        await _detail(client, number), "integration:crm"
    )


async def test_the_threshold_opens_one_quality_item_linked_on_each_complaint(
    client: TestClient, systems: BusinessSystems, clock: FixedClock
):
    for order in ("202611230011", "202611230012", "202611230013", "202611230014"):
        systems.orders[order] = {"status": "已签收", "product": "保温杯"}
    systems.fail["qms"] = [503]
    service = service_of(client)
    headers = await token(service, "hotline", "write")
    numbers = []
    for order in ("202611230011", "202611230012", "202611230013"):
        numbers.append(await _create(client, quality(order), headers))
        await deliver(service, clock)  # each complaint learns its product from the ERP
    calls = systems.requests("/qms/items")
    assert len(calls) == 2 and len({c.headers["Idempotency-Key"] for c in calls}) == 1
    assert calls[-1].body == {"title": "保温杯 质量投诉 3 起", "count": 3, "complaints": numbers}
    for number in numbers:
        detail = await _detail(client, number)
        assert [(link["system"], link["external_id"]) for link in detail["links"]] == [
            ("qms", "QI-0001")
        ]
        assert detail["values"]["qms_item"] == "QI-0001"
        assert any(
            line.startswith("已在 QMS 创建质量改进项 QI-0001")
            for line in _lines(detail, "integration:qms")
        )
    # A fourth complaint about the same product joins the open item; no second item opens.
    later = await _create(client, quality("202611230014"), headers)
    await deliver(service, clock)
    assert len(systems.requests("/qms/items")) == 2
    detail = await _detail(client, later)
    assert detail["values"]["qms_item"] == "QI-0001"
    async with service.rt.db.read() as s:
        linked = (
            await s.scalars(
                select(Complaint.number).join(
                    ComplaintLink, ComplaintLink.complaint_id == Complaint.id
                )
            )
        ).all()
    assert sorted(linked) == sorted([*numbers, later])
