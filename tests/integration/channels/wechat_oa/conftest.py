"""The WeChat OA adapter served on 127.0.0.1, talking to the fake WeChat server, fed a recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.channels.base import AdapterContext, OutboundMessage, Reply
from bot.channels.wechat_oa import WechatOAAdapter, build_adapter
from bot.config.channels import WechatOAChannel
from bot.delivery.tokens import AccessTokenCache
from storage.db import Database
from tests.fakes.feed import RecordingFeed
from tests.fakes.wechat_oa_server import FakeClock, FakeWechatServer
from tests.fakes.wechat_phone import Mode, WechatPhone
from tests.integration.channels.wechat_oa.shop_harness import (
    TEMPLATE_ID,
    AppClient,
    Shop,
    open_shop,
)


@dataclass
class Harness:
    """One running channel: the adapter, its callback URL, a customer's phone, the fake."""

    adapter: WechatOAAdapter
    feed: RecordingFeed
    url: str
    phone: WechatPhone
    server: FakeWechatServer
    clock: FakeClock
    tokens: AccessTokenCache

    async def send(self, kind: str, payload: dict[str, Any], target: str | None = None) -> Any:
        self._next = getattr(self, "_next", 0) + 1
        message = OutboundMessage(
            id=self._next,
            kind=kind,  # type: ignore[arg-type]
            target=target or f"user:{self.phone.openid}",
            payload=payload,
            idempotency_key=f"outbox:{self._next}",
        )
        return await self.adapter.send(message)


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(clock: FakeClock) -> AsyncIterator[FakeWechatServer]:
    async with FakeWechatServer(clock=clock.now) as fake:
        fake.add_template(TEMPLATE_ID, ("first", "keyword1", "keyword2", "remark"))
        yield fake


@pytest.fixture
async def shop(
    aiohttp_client: AppClient,
    db: Database,
    tmp_path: Path,
    server: FakeWechatServer,
    clock: FakeClock,
) -> AsyncIterator[Shop]:
    async with open_shop(aiohttp_client, db, tmp_path / "data", server, clock) as running:
        yield running


def echo_reply(event: Any) -> Reply:
    return Reply(text=f"收到：{getattr(event, 'text', '')}")


@pytest.fixture
async def make_harness(
    server: FakeWechatServer, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[MakeHarness]:
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def make(
        mode: Mode = "safe",
        *,
        feed: RecordingFeed | None = None,
        tokens: AccessTokenCache | None = None,
        start: bool = True,
        **config: Any,
    ) -> Harness:
        fields: dict[str, Any] = {
            "name": "service",
            "type": "wechat_oa",
            "app_id": server.app_id,
            "app_secret": server.app_secret,
            "token": server.token,
            "encoding_aes_key": server.encoding_aes_key,
            "encrypt_mode": mode,
            "api_base": server.url,
        }
        channel = WechatOAChannel.model_validate({**fields, **config})
        tokens = tokens or AccessTokenCache(clock=clock.time)
        context = AdapterContext(
            tokens=tokens,
            clock=clock.now,
            data_dir=tmp_path,
            public_base_url="https://bot.example.com",
        )
        adapter = build_adapter(channel, context)
        feed = feed or RecordingFeed(answer=echo_reply)
        app = web.Application()
        app.router.add_routes(adapter.routes())
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/callbacks/wechat/service"
        if start:
            await adapter.start(feed)
        phone = WechatPhone.for_server(server, url, mode=mode)
        cleanups.extend((adapter.stop, runner.cleanup, phone.close))
        return Harness(adapter, feed, url, phone, server, clock, tokens)

    yield make
    for cleanup in reversed(cleanups):
        await cleanup()
