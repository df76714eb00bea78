"""Webhooks out: signed deliveries through the outbox, retries, the delivery log (both databases).

The receiver below checks signatures from the documented scheme with hashlib/hmac directly,
not with bot.integrations.signing, so a mistake there cannot hide itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.service.clock import FixedClock
from bot.workflow import Action, ActionKind
from storage.models import OutboxMessage
from tests.fakes.business_systems import BusinessSystems
from tests.integration.integrations.conftest import (
    AppFactory,
    deliver,
    integration_config,
    service_of,
    token,
)

SECRET = "whsec-test-0123456789"
QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "保温杯有裂缝，一倒水就漏",
    "订单号": "202611230001",
}


@dataclass
class Receiver:
    """Accepts a delivery once per delivery id, after checking the signature and timestamp."""

    clock: FixedClock
    fail_with: list[int] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # delivery id -> body
    attempts: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        stamp = request.headers["X-Complaint-Bot-Timestamp"]
        expected = (
            "sha256="
            + hmac.new(SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        )
        given = request.headers.get("X-Complaint-Bot-Signature", "")
        fresh = abs(self.clock.now().timestamp() - int(stamp)) <= 300
        if not (hmac.compare_digest(expected, given) and fresh):
            self.bad_signatures += 1
            return web.Response(status=401)
        delivery = request.headers["X-Complaint-Bot-Delivery"]
        self.attempts.append(delivery)
        if self.fail_with:
            return web.Response(status=self.fail_with.pop(0), text="receiver trouble")
        body = json.loads(raw)
        assert body["event"] == request.headers["X-Complaint-Bot-Event"]
        self.accepted.setdefault(delivery, body)  # a repeated delivery id is a no-op
        return web.json_response({"ok": True})


@pytest.fixture
async def receiver(clock: FixedClock) -> AsyncIterator[Receiver]:
    hook = Receiver(clock)
    app = web.Application()
    app.router.add_post("/hooks", hook.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    hook.url = str(server.make_url("/hooks"))
    yield hook
    await server.close()


def hooks_config(
    systems: BusinessSystems, url: str, events: list[str], secret: str | None = SECRET
) -> str:
    return integration_config(
        systems.base_url,
        webhooks=[
            {"name": "quality-board", "url": url, "events": events, "secret": secret},
        ],
    )


async def _create(client: TestClient, headers: dict[str, str], values: dict[str, Any]) -> str:
    response = await client.post("/api/v1/complaints", json={"values": values}, headers=headers)
    assert response.status == 201, await response.text()
    return (await response.json())["number"]


async def test_a_created_complaint_is_delivered_signed(
    make_client: AppFactory, systems: BusinessSystems, receiver: Receiver, clock: FixedClock
):
    client = await make_client(hooks_config(systems, receiver.url, ["complaint.created"]))
    service = service_of(client)
    number = await _create(client, await token(service, "hotline", "write"), QUALITY)
    await deliver(service, clock)
    assert receiver.bad_signatures == 0
    [(delivery, body)] = receiver.accepted.items()
    assert delivery.startswith("hook:quality-board:")
    assert body["id"] == delivery and body["event"] == "complaint.created"
    assert body["complaint"]["number"] == number
    assert body["complaint"]["values"]["type"] == "产品质量"
    assert body["data"]["actor"] == "integration:hotline"


async def test_retries_after_500s_deliver_once(
    make_client: AppFactory, systems: BusinessSystems, receiver: Receiver, clock: FixedClock
):
    receiver.fail_with = [500, 503]
    client = await make_client(hooks_config(systems, receiver.url, ["complaint.created"]))
    service = service_of(client)
    await _create(client, await token(service, "hotline", "write"), QUALITY)
    await deliver(service, clock)
    assert len(receiver.attempts) == 3 and len(set(receiver.attempts)) == 1
    assert len(receiver.accepted) == 1
    admin = await token(service, "ops", "admin")
    log = await (
        await client.get("/api/v1/webhooks/quality-board/deliveries", headers=admin)
    ).json()
    [entry] = log["items"]
    assert (entry["status"], entry["attempts"], entry["event"]) == ("sent", 3, "complaint.created")
    assert entry["delivery"] == receiver.attempts[0]


async def test_a_refusing_receiver_fails_the_delivery_and_it_can_be_retried(
    make_client: AppFactory, systems: BusinessSystems, receiver: Receiver, clock: FixedClock
):
    receiver.fail_with = [410]
    client = await make_client(hooks_config(systems, receiver.url, ["complaint.created"]))
    service = service_of(client)
    await _create(client, await token(service, "hotline", "write"), QUALITY)
    await deliver(service, clock)
    admin = await token(service, "ops", "admin")
    log = await (
        await client.get("/api/v1/webhooks/quality-board/deliveries?status=failed", headers=admin)
    ).json()
    [entry] = log["items"]
    assert entry["attempts"] == 1 and "HTTP 410" in entry["last_error"]
    listing = await (await client.get("/api/v1/webhooks", headers=admin)).json()
    assert listing["items"][0] | {"url": None} == {
        "name": "quality-board",
        "url": None,
        "events": ["complaint.created"],
        "active": True,
        "pending": 0,
        "sent": 0,
        "failed": 1,
    }
    retried = await client.post(
        f"/api/v1/webhooks/quality-board/deliveries/{entry['id']}/retry", headers=admin
    )
    assert retried.status == 200 and (await retried.json())["status"] == "pending"
    await deliver(service, clock)
    assert len(receiver.accepted) == 1
    again = await client.post(
        f"/api/v1/webhooks/quality-board/deliveries/{entry['id']}/retry", headers=admin
    )
    assert again.status == 409


async def test_workflow_events_reach_their_subscription(
    make_client: AppFactory, systems: BusinessSystems, receiver: Receiver, clock: FixedClock
):
    events = ["step.completed", "sla.breached", "complaint.closed", "survey.answered"]
    client = await make_client(hooks_config(systems, receiver.url, events))
    service = service_of(client)
    number = await _create(client, await token(service, "hotline", "write"), QUALITY)
    clock.advance(timedelta(hours=3))  # past 客服受理's 2 h limit
    await service.ticker.tick()
    async with service.rt.db.write() as s:
        lc = await service.complaints.act(
            s, number, Action(ActionKind.ACCEPT, "xiaomei", task_id="accept.1")
        )
        await service.complaints.act(
            s, number, Action(ActionKind.SUBMIT, "xiaomei", task_id="accept.1")
        )
        await service.complaints.act(s, number, Action(ActionKind.CLOSE, "lisi"))
        await service.complaints.answer_survey(
            s, number, score=4, comment="还行", channel="hotline"
        )
    assert lc.number == number
    await deliver(service, clock)
    seen = [body["event"] for body in receiver.accepted.values()]
    assert {"step.completed", "sla.breached", "complaint.closed", "survey.answered"} <= set(seen)
    survey = next(b for b in receiver.accepted.values() if b["event"] == "survey.answered")
    assert survey["data"]["score"] == 4
    breached = next(b for b in receiver.accepted.values() if b["event"] == "sla.breached")
    assert breached["data"]["level"] == "breached"


async def test_a_subscription_without_its_secret_sends_nothing(
    make_client: AppFactory, systems: BusinessSystems, receiver: Receiver, clock: FixedClock
):
    client = await make_client(
        hooks_config(systems, receiver.url, ["complaint.created"], secret="${UNSET_WEBHOOK_SECRET}")
    )
    service = service_of(client)
    await _create(client, await token(service, "hotline", "write"), QUALITY)
    await deliver(service, clock)
    async with service.rt.db.read() as s:
        hooks = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "webhook"))
        ).all()
    assert hooks == [] and receiver.attempts == []


async def test_a_rule_webhook_goes_out_through_the_same_adapter(
    make_client: AppFactory, systems: BusinessSystems, clock: FixedClock
):
    rule = {
        "name": "新投诉推送工单系统",
        "when": "complaint.created",
        "then": [
            {
                "call_webhook": {
                    "url": f"{systems.base_url}/crm/complaints",
                    "headers": {"X-Source": "bot"},
                    "payload": {"number": "{number}", "type": "{投诉类型}"},
                }
            }
        ],
    }
    text = integration_config(systems.base_url)
    import yaml

    data = yaml.safe_load(text)
    data["rules"].append(rule)
    data["connectors"].pop("crm")
    client = await make_client(yaml.safe_dump(data, allow_unicode=True))
    service = service_of(client)
    number = await _create(client, await token(service, "hotline", "write"), QUALITY)
    await deliver(service, clock)
    [call] = systems.requests("/crm/complaints")
    assert call.headers["X-Source"] == "bot" and call.headers["X-Complaint-Bot-Event"] == "rule"
    assert call.body == {"number": number, "type": "产品质量"}


async def test_a_threshold_subscription_receives_the_threshold_event(
    make_client: AppFactory, systems: BusinessSystems, receiver: Receiver, clock: FixedClock
):
    """The example rule 产品质量投诉集中预警 (5 on one order in 24 h) fires once, at the fifth."""
    client = await make_client(hooks_config(systems, receiver.url, ["threshold"]))
    service = service_of(client)
    headers = await token(service, "hotline", "write")
    numbers = []
    for _ in range(6):
        clock.advance(timedelta(hours=1))
        numbers.append(await _create(client, headers, QUALITY))
    await deliver(service, clock)
    assert receiver.bad_signatures == 0
    bodies = list(receiver.accepted.values())
    assert bodies and {b["event"] for b in bodies} == {"threshold"}
    alerts = [b for b in bodies if b["data"].get("rule") == "产品质量投诉集中预警"]
    assert len(alerts) == 1, alerts
    [alert] = alerts
    assert alert["data"]["count"] == 5
    assert alert["complaint"]["number"] == numbers[4]
    assert alert["complaint"]["values"]["order_no"] == QUALITY["订单号"]
