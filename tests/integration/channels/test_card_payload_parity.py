"""The playground's "显示平台原始数据" JSON is what the real adapters send to WeCom and DingTalk.

The playground (example config, WeCom and DingTalk configured but off: no secrets) streams a
card delivery with the payloads it says each platform would get. The same card is then handed to
the real WeCom adapter and the real DingTalk adapter, pointed at their fakes, and the request
bodies the fakes captured are compared with the toggle's JSON: for the first card and for the
update after a click. Both databases.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.appkeys import SERVICE
from bot.channels.base import AdapterContext, OutboundMessage
from bot.channels.dingtalk import DingtalkAdapter
from bot.channels.playground.cards import RESPONSE_CODE_PLACEHOLDER
from bot.channels.wecom import WecomAdapter, build_adapter
from bot.config.channels import DingtalkChannel, WecomChannel
from bot.config.loader import load_config_text
from bot.delivery.tokens import AccessTokenCache
from bot.service.wiring import Service
from bot.settings import Settings
from storage.db import Database
from tests.fakes.clock import FakeClock
from tests.fakes.configs import ACCOUNTS, example_data
from tests.fakes.dingtalk_gateway import FakeDingtalk
from tests.fakes.wecom_server import FakeWecom
from tests.integration.web.test_playground_live import Events, new_complaint, say, stream

AGENT_ID = 1000005  # not the playground's example value: the configured one must be used
TEMPLATE_ID = "complaint-task.schema"
PUBLIC_URL = "https://bot.example.com"
WECOM_SEND = "/cgi-bin/message/send"
WECOM_UPDATE = "/cgi-bin/message/update_template_card"
DING_SEND = "/v1.0/card/instances/createAndDeliver"
DING_UPDATE = "/v1.0/card/instances"
ZHANGSAN_WECOM, ZHANGSAN_DING = ACCOUNTS["zhangsan"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def wecom_fake(clock: FakeClock) -> AsyncIterator[FakeWecom]:
    fake = FakeWecom(clock=clock, agent_id=AGENT_ID)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def ding_fake(clock: FakeClock) -> AsyncIterator[FakeDingtalk]:
    async with FakeDingtalk(clock=clock, known_users={ZHANGSAN_DING}) as fake:
        yield fake


@pytest.fixture
async def playground(
    aiohttp_client: Any, db: Database, tmp_path: Path, ding_fake: FakeDingtalk
) -> TestClient:
    """The app with WeCom's agent id and DingTalk's template and robot code configured, but both
    channels off (no secrets): every card goes to the playground, with both platforms' JSON."""
    data = example_data()
    for channel in data["channels"]:
        if channel["type"] == "dingtalk":
            channel["card_template_id"] = TEMPLATE_ID
    config = load_config_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
        environ={
            "WECOM_AGENT_ID": str(AGENT_ID),
            "DINGTALK_CLIENT_ID": ding_fake.client_id,
            "DINGTALK_ROBOT_CODE": ding_fake.robot_code,
        },
    )
    settings = Settings(
        DATABASE_URL=db.url,
        DATA_DIR=tmp_path / "data",
        SECRET_KEY="test-secret",
        PUBLIC_BASE_URL=PUBLIC_URL,
        RELAY_INTERVAL=0.05,
        TICK_INTERVAL=3600,
        DIGEST_CATCH_UP=False,
    )
    client = await aiohttp_client(create_app(settings, config))
    assert set(client.app[SERVICE].adapters) == {"playground"}
    return client


@pytest.fixture
async def wecom(
    wecom_fake: FakeWecom, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[WecomAdapter]:
    config = WecomChannel(
        name="staff-wecom",
        type="wecom",
        corp_id=wecom_fake.corp_id,
        agent_id=str(AGENT_ID),
        secret=wecom_fake.secret,
        token="token",
        encoding_aes_key="a" * 43,
        api_base=wecom_fake.base_url,
    )
    context = AdapterContext(
        tokens=AccessTokenCache(clock=clock.time),
        data_dir=tmp_path,
        public_base_url=PUBLIC_URL,
        clock=clock,
    )
    adapter = build_adapter(config, context)
    yield adapter
    await adapter.stop()


@pytest.fixture
async def dingtalk(ding_fake: FakeDingtalk, clock: FakeClock) -> AsyncIterator[DingtalkAdapter]:
    config = DingtalkChannel(
        name="staff-dingtalk",
        type="dingtalk",
        client_id=ding_fake.client_id,
        client_secret=ding_fake.client_secret,
        robot_code=ding_fake.robot_code,
        api_base=ding_fake.base_url,
        oapi_base=ding_fake.base_url,
        card_template_id=TEMPLATE_ID,
    )
    adapter = DingtalkAdapter(
        config, AdapterContext(tokens=AccessTokenCache(), public_base_url=PUBLIC_URL, clock=clock)
    )
    yield adapter
    await adapter.stop()


def outbound(number: int, kind: str, target: str, payload: dict[str, Any]) -> OutboundMessage:
    return OutboundMessage(
        id=number,
        kind=kind,  # type: ignore[arg-type]
        target=target,
        payload=payload,
        idempotency_key=f"outbox:{number}",
    )


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False))


async def _zhangsans(events: Events, kind: str) -> dict[str, Any]:
    return await events.until(
        "delivery", lambda d: d["target"] == "user:zhangsan" and d["kind"] == kind
    )


async def test_the_toggle_json_is_what_the_adapters_send(
    playground: TestClient,
    wecom: WecomAdapter,
    dingtalk: DingtalkAdapter,
    wecom_fake: FakeWecom,
    ding_fake: FakeDingtalk,
):
    service: Service = playground.app[SERVICE]
    response, events = await stream(playground)
    await events.until("snapshot")
    await new_complaint(service)
    first = await _zhangsans(events, "card")
    toggle = first["platforms"]
    assert "error" not in toggle["wecom"] and "error" not in toggle["dingtalk"]

    # The first card, through each real adapter.
    sent = await wecom.send(outbound(1, "card", f"user:{ZHANGSAN_WECOM}", first["payload"]))
    assert sent.ok, sent
    [wecom_send] = wecom_fake.requests_to(WECOM_SEND)
    assert wecom_send.answer and wecom_send.answer["errcode"] == 0
    assert toggle["wecom"]["api"] == f"POST {WECOM_SEND}"
    assert as_json(wecom_send.body) == toggle["wecom"]["body"]

    sent = await dingtalk.send(outbound(2, "card", f"user:{ZHANGSAN_DING}", first["payload"]))
    assert sent.ok, sent
    [ding_send] = ding_fake.calls(DING_SEND)
    assert toggle["dingtalk"]["api"] == f"POST {DING_SEND}"
    assert as_json(ding_send.body) == toggle["dingtalk"]["body"]

    # 张三 accepts in the playground; the card update, through each real adapter.
    ref = first["payload"]["card"]["ref"]
    await say(
        playground, "/playground/api/people/zhangsan/clicks", {"card_ref": ref, "action": "accept"}
    )
    update = await _zhangsans(events, "card_update")
    toggle = update["platforms"]
    code = wecom_send.answer["response_code"]
    payload = {**update["payload"], "response_code": code}
    sent = await wecom.send(outbound(3, "card_update", f"user:{ZHANGSAN_WECOM}", payload))
    assert sent.ok, sent
    [wecom_update] = wecom_fake.requests_to(WECOM_UPDATE)
    assert wecom_update.answer == {"errcode": 0, "errmsg": "ok", "invaliduser": []}
    expected = {**toggle["wecom"]["body"], "response_code": code}
    assert toggle["wecom"]["body"]["response_code"] == RESPONSE_CODE_PLACEHOLDER
    assert toggle["wecom"]["api"] == f"POST {WECOM_UPDATE}"
    assert as_json(wecom_update.body) == expected

    sent = await dingtalk.send(
        outbound(4, "card_update", f"user:{ZHANGSAN_DING}", update["payload"])
    )
    assert sent.ok, sent
    [ding_update] = ding_fake.calls(DING_UPDATE, "PUT")
    assert toggle["dingtalk"]["api"] == f"PUT {DING_UPDATE}"
    assert as_json(ding_update.body) == toggle["dingtalk"]["body"]
    response.close()
