"""HTTP callback mode: DingTalk's signed POSTs reach feed; forged or stale ones never do."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.channels.base import CardClick, InboundEvent, InboundMessage, Reply
from tests.fakes.clock import FakeClock
from tests.fakes.dingtalk_gateway import FakeDingtalk, dingtalk_sign
from tests.fakes.feed import RecordingFeed
from tests.integration.channels.dingtalk.conftest import MakeAdapter

AiohttpServer = Callable[[web.Application], Awaitable[TestServer]]

ROBOT_MESSAGE = {
    "msgId": "msgHTTP1",
    "msgtype": "text",
    "text": {"content": "进度 TS20261123-0001"},
    "conversationType": "1",
    "senderStaffId": "0101",
    "senderNick": "张三",
}
CARD_CLICK = {
    "outTrackId": "task:17:zhangsan",
    "userId": "0103",
    "content": json.dumps(
        {"cardPrivateData": {"actionIds": ["x"], "params": {"action": "accept"}}}
    ),
}


@pytest.fixture
async def served(
    make_adapter: MakeAdapter, aiohttp_server: AiohttpServer
) -> Callable[..., Awaitable[tuple[str, Any]]]:
    async def serve(feed: Any = None, **config: Any) -> tuple[str, Any]:
        adapter = make_adapter(mode="http", **config)
        app = web.Application()
        app.add_routes(adapter.routes())
        server = await aiohttp_server(app)
        feed = feed or RecordingFeed()
        await adapter.start(feed)
        return str(server.make_url("/callbacks/dingtalk/staff-dingtalk")), feed

    return serve


async def test_signed_robot_message_reaches_feed(fake: FakeDingtalk, served: Any) -> None:
    url, feed = await served()
    status, _ = await fake.post_callback(url, ROBOT_MESSAGE)
    assert status == 200
    (event,) = feed.events
    assert isinstance(event, InboundMessage) and event.dedupe_key == "msg:msgHTTP1"


async def test_signed_card_click_reaches_feed(fake: FakeDingtalk, served: Any) -> None:
    url, feed = await served()
    status, body = await fake.post_callback(url, CARD_CLICK)
    assert (status, json.loads(body)) == (200, {})
    (event,) = feed.events
    assert isinstance(event, CardClick) and (event.action, event.sender) == ("accept", "0103")


async def test_a_retried_click_keeps_its_key(fake: FakeDingtalk, served: Any) -> None:
    url, feed = await served()
    stamp = int(fake.clock.time() * 1000)
    await fake.post_callback(url, CARD_CLICK, timestamp_ms=stamp)
    await fake.post_callback(url, CARD_CLICK, timestamp_ms=stamp)
    assert feed.events[0].dedupe_key == feed.events[1].dedupe_key


async def test_a_forged_signature_is_refused_before_feed(fake: FakeDingtalk, served: Any) -> None:
    url, feed = await served()
    status, _ = await fake.post_callback(url, ROBOT_MESSAGE, secret="not-the-app-secret")
    assert status == 403 and feed.events == []


async def test_a_stale_timestamp_is_refused(
    fake: FakeDingtalk, served: Any, clock: FakeClock
) -> None:
    url, feed = await served()
    two_hours_ago = int((clock.time() - 7200) * 1000)
    status, _ = await fake.post_callback(url, ROBOT_MESSAGE, timestamp_ms=two_hours_ago)
    assert status == 403 and feed.events == []


async def test_an_unstored_event_asks_dingtalk_to_retry(fake: FakeDingtalk, served: Any) -> None:
    url, _ = await served(RecordingFeed(Reply(accepted=False)))
    status, _ = await fake.post_callback(url, ROBOT_MESSAGE)
    assert status == 503


async def test_a_failing_feed_asks_dingtalk_to_retry(fake: FakeDingtalk, served: Any) -> None:
    async def broken(event: InboundEvent) -> Reply:
        raise RuntimeError("database went away")

    url, _ = await served(broken)
    status, _ = await fake.post_callback(url, CARD_CLICK)
    assert status == 503


async def test_a_body_that_is_not_json_is_refused(fake: FakeDingtalk, served: Any) -> None:
    url, feed = await served()
    stamp = int(fake.clock.time() * 1000)
    headers = {"timestamp": str(stamp), "sign": dingtalk_sign(fake.client_secret, stamp)}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=b"<xml/>", headers=headers) as resp:
            assert resp.status == 400
        async with session.post(url, data=b"x" * 70_000, headers=headers) as resp:
            assert resp.status == 413
    assert feed.events == []


async def test_a_click_without_a_user_is_refused(fake: FakeDingtalk, served: Any) -> None:
    url, feed = await served()
    status, _ = await fake.post_callback(url, {"outTrackId": "task:1", "content": "{}"})
    assert status == 400 and feed.events == []


async def test_http_mode_registers_the_card_callback_route(fake: FakeDingtalk, served: Any) -> None:
    await served(card_template_id="complaint-task.schema")
    (route,) = fake.card_callback_routes
    assert route["callbackRouteKey"] == "staff-dingtalk"
    assert route["callbackUrl"] == "http://bot.test/callbacks/dingtalk/staff-dingtalk"
    assert route["apiSecret"] == fake.client_secret


async def test_http_mode_opens_no_stream(fake: FakeDingtalk, served: Any) -> None:
    await served()
    assert fake.calls("/v1.0/gateway/connections/open") == []
