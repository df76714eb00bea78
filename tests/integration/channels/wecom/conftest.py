"""The WeCom adapter served on 127.0.0.1, talking to the fake WeCom server, fed by a recorder."""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.channels.base import AdapterContext, OutboundMessage, SendResult
from bot.channels.wecom import WecomAdapter, build_adapter
from bot.config.channels import GroupConfig, WecomChannel
from bot.delivery.tokens import AccessTokenCache
from tests.fakes.clock import FakeClock
from tests.fakes.feed import RecordingFeed
from tests.fakes.wecom_client import WecomCallbacks
from tests.fakes.wecom_server import FakeWecom

CHANNEL = "staff-wecom"
CALLBACK_TOKEN = "wecom-callback-token"
AES_KEY = base64.b64encode(bytes(range(100, 132))).decode().rstrip("=")
ROBOT_KEY = "robot-key-cs"
PUBLIC_URL = "https://bot.example.com"
USER = "ZhangSan"


@dataclass
class Harness:
    """One running channel: adapter + its callback URL, the fake WeCom, a callback builder."""

    adapter: WecomAdapter
    fake: FakeWecom
    feed: RecordingFeed
    wecom: WecomCallbacks
    clock: FakeClock
    tokens: AccessTokenCache
    session: aiohttp.ClientSession
    url: str
    data_dir: Path
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    async def send(
        self, kind: str, payload: dict[str, Any], target: str = f"user:{USER}", key: str = ""
    ) -> SendResult:
        """Hand the adapter one outbox row, as the relay does."""
        number = next(self._ids)
        message = OutboundMessage(
            id=number,
            kind=kind,  # type: ignore[arg-type]
            target=target,
            payload=payload,
            idempotency_key=key or f"outbox:{number}",
        )
        return await self.adapter.send(message)

    async def post(self, plain_xml: str, **envelope: Any) -> tuple[int, str]:
        """WeCom posting an encrypted callback to the adapter."""
        return await self.wecom.post(self.session, self.url, plain_xml, **envelope)

    async def post_raw(self, query: dict[str, str], body: bytes) -> tuple[int, str]:
        async with self.session.post(self.url, params=query, data=body) as response:
            return response.status, await response.text()

    async def get(self, query: dict[str, str]) -> tuple[int, str]:
        async with self.session.get(self.url, params=query) as response:
            return response.status, await response.text()


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeWecom]:
    server = FakeWecom(clock=clock, robot_keys=(ROBOT_KEY,))
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def make_harness(
    fake: FakeWecom, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[MakeHarness]:
    runners: list[web.AppRunner] = []
    adapters: list[WecomAdapter] = []
    sessions: list[aiohttp.ClientSession] = []

    async def make(feed: RecordingFeed | None = None) -> Harness:
        feed = feed or RecordingFeed()
        tokens = AccessTokenCache(clock=clock.time)
        context = AdapterContext(
            groups={
                "cs-group": GroupConfig(
                    id="cs-group", name="客服部群", channel=CHANNEL, webhook_key=ROBOT_KEY
                ),
                "no-robot": GroupConfig(id="no-robot", name="无机器人群", channel=CHANNEL),
                "management-group": GroupConfig(
                    id="management-group", name="管理层群", channel="staff-dingtalk"
                ),
            },
            tokens=tokens,
            data_dir=tmp_path,
            public_base_url=PUBLIC_URL,
            clock=clock,
        )
        config = WecomChannel(
            name=CHANNEL,
            type="wecom",
            corp_id=fake.corp_id,
            agent_id=str(fake.agent_id),
            secret=fake.secret,
            token=CALLBACK_TOKEN,
            encoding_aes_key=AES_KEY,
            api_base=fake.base_url,
        )
        adapter = build_adapter(config, context)
        adapters.append(adapter)
        await adapter.start(feed)
        app = web.Application()
        app.add_routes(adapter.routes())
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Harness(
            adapter=adapter,
            fake=fake,
            feed=feed,
            wecom=WecomCallbacks(
                corp_id=fake.corp_id,
                token=CALLBACK_TOKEN,
                encoding_aes_key=AES_KEY,
                agent_id=fake.agent_id,
                clock=clock,
            ),
            clock=clock,
            tokens=tokens,
            session=session,
            url=f"http://127.0.0.1:{port}/callbacks/wecom/{CHANNEL}",
            data_dir=tmp_path,
        )

    yield make
    for session in sessions:
        await session.close()
    for adapter in adapters:
        await adapter.stop()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def harness(make_harness: MakeHarness) -> Harness:
    return await make_harness()
