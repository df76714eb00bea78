"""Live updates (server-sent events), the card payload toggle and the clock control."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from bot.app import adapter_builders, create_app
from bot.appkeys import SERVICE
from bot.cards.model import Card
from bot.channels.base import OutboundMessage
from bot.channels.dingtalk.cards import CardSpace, render_card_update, render_dingtalk_card
from bot.channels.playground import PlaygroundAdapter
from bot.channels.playground.cards import (
    EXAMPLE_AGENT_ID,
    RESPONSE_CODE_PLACEHOLDER,
    ROBOT_PLACEHOLDER,
    TEMPLATE_PLACEHOLDER,
    PlatformSettings,
    platform_payloads,
)
from bot.channels.wecom.cards import render_wecom_card
from bot.config.channels import DingtalkChannel, WecomChannel
from bot.config.loader import load_config
from bot.service.clock import OffsetClock
from bot.service.wiring import Service
from bot.settings import Settings
from bot.workflow import Action, ActionKind
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.scripted_adapter import ScriptedAdapter

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
    "订单号": "202611230001",
}


def new_id() -> str:
    return uuid.uuid4().hex


def playground(service: Service) -> PlaygroundAdapter:
    adapter = service.adapters["playground"]
    assert isinstance(adapter, PlaygroundAdapter)
    return adapter


class Events:
    """Reads a text/event-stream response one event at a time."""

    def __init__(self, response: ClientResponse):
        self.response = response

    async def next(self) -> tuple[str, Any]:
        name, data = None, []
        async with asyncio.timeout(10):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    raise EOFError("the stream ended")
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[len("event: ") :]
                elif line.startswith("data: "):
                    data.append(line[len("data: ") :])
                elif line == "" and name:
                    return name, json.loads("\n".join(data))

    async def until(self, name: str, wanted: Any = lambda data: True) -> Any:
        while True:
            event, data = await self.next()
            if event == name and wanted(data):
                return data


async def stream(client: TestClient, customer: str | None = None) -> tuple[ClientResponse, Events]:
    query = f"?customer={customer}" if customer else ""
    response = await client.get(f"/playground/api/events{query}")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return response, Events(response)


async def say(client: TestClient, path: str, body: dict) -> dict:
    response = await client.post(path, json={"id": new_id(), **body})
    assert response.status == 200, await response.text()
    return await response.json()


async def wait_until(check: Any) -> None:
    """Poll `check` (a plain condition on the adapter; there is no event to wait on)."""
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def new_complaint(service: Service) -> str:
    async with service.rt.db.write() as s:
        lc = await service.complaints.create(
            s, values=QUALITY, channel="playground", actor="customer"
        )
    service.relay.nudge()
    return lc.number


async def act(service: Service, number: str, kind: ActionKind, actor: str) -> Any:
    """One workflow action on the complaint's first open task, as the service's own API does."""
    from bot.service.loaded import load_complaint

    async with service.rt.db.write() as s:
        task = (await load_complaint(s, service.rt, number=number)).state.tasks[0].task_id
        return await service.complaints.act(s, number, Action(kind, actor, task_id=task))


# --- the stream --------------------------------------------------------------------------------


async def test_snapshot_holds_this_customer_people_and_groups_only(
    client: TestClient, service: Service
):
    mine, other = new_id(), new_id()
    await say(client, "/playground/api/customer/messages", {"session": mine, "text": "你好"})
    await say(client, "/playground/api/customer/messages", {"session": other, "text": "在吗"})
    await say(client, "/playground/api/people/lisi/messages", {"text": "帮助"})
    await playground(service).send(
        OutboundMessage(
            id=1,
            kind="markdown",
            target="group:cs-group",
            payload={"title": "预警", "text": "**注意**"},
            idempotency_key="k",
        )
    )
    response, events = await stream(client, mine)
    snapshot = await events.until("snapshot")
    targets = [d["target"] for d in snapshot["deliveries"]]
    assert targets.count(f"user:c-{mine}") == 2
    assert f"user:c-{other}" not in targets
    assert targets.count("user:lisi") == 2 and "group:cs-group" in targets
    assert snapshot["clock"]["available"] is True
    response.close()


async def test_each_new_delivery_is_pushed(client: TestClient):
    response, events = await stream(client, new_id())
    await events.until("snapshot")
    await say(client, "/playground/api/people/wangwu/messages", {"text": "我的待办"})
    echo = await events.until("delivery")
    reply = await events.until("delivery")
    assert (echo["target"], echo["inbound"], echo["payload"]["text"]) == (
        "user:wangwu",
        True,
        "我的待办",
    )
    assert (reply["inbound"], reply["payload"]["text"]) == (False, "您目前没有待办投诉。")
    response.close()


async def test_a_stream_whose_browser_left_is_dropped(client: TestClient, service: Service):
    pg = playground(service)
    response, events = await stream(client)
    await events.until("snapshot")
    assert pg.subscriber_count == 1
    response.close()
    await wait_until(lambda: pg.subscriber_count == 0)


async def test_streams_end_when_the_app_shuts_down(client: TestClient, service: Service):
    response, events = await stream(client)
    await events.until("snapshot")
    await client.app.shutdown()
    with pytest.raises(EOFError):
        await events.next()
    assert playground(service).subscriber_count == 0
    response.close()


async def test_a_bad_customer_session_is_refused(client: TestClient):
    response = await client.get("/playground/api/events?customer=../../x")
    assert response.status == 400


# --- the platform payload toggle ---------------------------------------------------------------


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False))


async def test_card_payloads_are_what_wecom_and_dingtalk_would_be_sent(
    client: TestClient, service: Service, app_settings: Settings
):
    number = await new_complaint(service)
    response, events = await stream(client)
    await events.until("snapshot")
    first = await events.until(
        "delivery", lambda d: d["target"] == "user:zhangsan" and d["kind"] == "card"
    )
    card = Card.from_dict(first["payload"]["card"])
    assert card.complaint_number == number
    wecom, dingtalk = first["platforms"]["wecom"], first["platforms"]["dingtalk"]
    assert wecom["api"] == "POST /cgi-bin/message/send"
    assert wecom["body"] == as_json(
        {
            "touser": "ZhangSan",
            **render_wecom_card(card, agent_id=EXAMPLE_AGENT_ID, link=app_settings.public_base_url),
        }
    )
    assert dingtalk["api"] == "POST /v1.0/card/instances/createAndDeliver"
    assert dingtalk["body"] == as_json(
        render_dingtalk_card(
            card,
            template_id=TEMPLATE_PLACEHOLDER,
            robot_code=ROBOT_PLACEHOLDER,
            space=CardSpace("user", "0101"),
            callback_type="STREAM",
        )
    )
    assert any("示例值" in note for note in first["platforms"]["notes"])

    await say(
        client,
        "/playground/api/people/zhangsan/clicks",
        {"card_ref": card.ref, "action": "accept"},
    )
    update = await events.until(
        "delivery", lambda d: d["target"] == "user:zhangsan" and d["kind"] == "card_update"
    )
    updated = Card.from_dict(update["payload"]["card"])
    assert update["platforms"]["wecom"]["body"] == as_json(
        {
            "userids": ["ZhangSan"],
            "agentid": EXAMPLE_AGENT_ID,
            "response_code": RESPONSE_CODE_PLACEHOLDER,
            "template_card": render_wecom_card(
                updated, agent_id=EXAMPLE_AGENT_ID, link=app_settings.public_base_url
            )["template_card"],
        }
    )
    assert update["platforms"]["dingtalk"]["body"] == as_json(
        render_card_update(updated, viewer="0101")
    )
    response.close()


async def test_configured_platform_values_replace_the_placeholders(
    client: TestClient, service: Service
):
    await new_complaint(service)
    pg = playground(service)
    await wait_until(lambda: pg.inbox("user:lisi") or pg.inbox("user:zhangsan"))
    card = Card.from_dict(pg.inbox("user:zhangsan")[0].payload["card"])
    settings = PlatformSettings.from_channels(
        {
            "w": WecomChannel(name="w", type="wecom", agent_id="1000005"),
            "d": DingtalkChannel(
                name="d",
                type="dingtalk",
                client_id="dingabc",
                card_template_id="tpl.schema",
                mode="http",
            ),
        },
        "https://bot.example.com",
    )
    person = service.rt.config.directory.person("zhangsan")
    out = platform_payloads(card, person, "zhangsan", settings, update=False)
    assert out["wecom"]["body"] == {
        "touser": "ZhangSan",
        **render_wecom_card(card, agent_id=1000005, link="https://bot.example.com"),
    }
    assert out["dingtalk"]["body"] == render_dingtalk_card(
        card,
        template_id="tpl.schema",
        robot_code="dingabc",
        space=CardSpace("user", "0101"),
        callback_type="HTTP",
        callback_route_key="d",
    )
    assert out["notes"] == []


# --- the clock ---------------------------------------------------------------------------------


async def test_advancing_24h_sends_the_department_heads_reminder(
    client: TestClient, service: Service
):
    number = await new_complaint(service)
    await act(service, number, ActionKind.ACCEPT, "xiaomei")
    lc = await act(service, number, ActionKind.SUBMIT, "xiaomei")
    assert lc.state.tasks[0].assignee == "lisi"
    response, events = await stream(client)
    await events.until("snapshot")
    answer = await say(client, "/playground/api/clock", {"hours": 24})
    assert answer["offset_hours"] == 24 and answer["fired"] >= 1
    assert service.rt.clock.offset == timedelta(hours=24)  # type: ignore[attr-defined]
    clock = await events.until("clock")
    assert clock["offset_hours"] == 24
    reminder = await events.until(
        "delivery", lambda d: d["target"] == "user:lisi" and d["kind"] == "text"
    )
    assert (
        reminder["payload"]["text"] == f"投诉 {number} 的「部门处理」已超过24小时未完成，请尽快处理"
    )
    state = await (await client.get("/playground/api/clock")).json()
    assert state["offset_hours"] == 24
    response.close()


async def test_only_1_24_or_48_hours(client: TestClient, service: Service):
    for hours in (2, "24", True, None, -24):
        response = await client.post("/playground/api/clock", json={"hours": hours})
        assert response.status == 400, hours
        assert "1、24 或 48" in (await response.json())["error"]
    assert service.rt.clock.offset == timedelta(0)  # type: ignore[attr-defined]


async def test_clock_is_refused_when_a_real_channel_is_on(
    aiohttp_client, app_settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    for name in ("CORP_ID", "AGENT_ID", "SECRET", "TOKEN", "AES_KEY"):
        monkeypatch.setenv(f"WECOM_{name}", "1000002" if name == "AGENT_ID" else "x" * 43)
    builders = {
        **adapter_builders(),
        "wecom": lambda c, ctx: ScriptedAdapter(c.name, platform="wecom"),
    }
    app = create_app(app_settings, load_config(EXAMPLE_CONFIG), builders=builders)
    client = await aiohttp_client(app)
    response = await client.post("/playground/api/clock", json={"hours": 24})
    assert response.status == 409
    assert "已接入真实渠道（企业微信）" in (await response.json())["error"]
    state = await (await client.get("/playground/api/clock")).json()
    assert state["available"] is False and "企业微信" in state["reason"]
    page = await (await client.get("/playground")).text()
    assert "disabled" in page.split('data-hours="24"')[1].split(">")[0]


async def test_clock_is_refused_when_the_service_runs_on_real_time(
    aiohttp_client, app_settings: Settings
):
    settings = app_settings.model_copy(update={"playground_clock": False})
    client = await aiohttp_client(create_app(settings, load_config(EXAMPLE_CONFIG)))
    assert not isinstance(client.app[SERVICE].rt.clock, OffsetClock)
    response = await client.post("/playground/api/clock", json={"hours": 1})
    assert response.status == 409
    assert "PLAYGROUND_CLOCK" in (await response.json())["error"]
