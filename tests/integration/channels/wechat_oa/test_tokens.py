"""Access tokens against the fake: cached, refetched on expiry, one refresh and retry on 40001."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.delivery.tokens import AccessTokenCache
from bot.errors import ChannelError
from tests.conftest import TEST_REDIS_URL

from .conftest import MakeHarness

CUSTOM = "/cgi-bin/message/custom/send"


async def test_token_is_fetched_once_and_reused(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    harness.server.customer_wrote(harness.phone.openid)
    for n in range(3):
        assert (await harness.send("text", {"text": f"第{n}条"})).ok
    assert harness.server.token_fetches == {"stable_token": 1}


async def test_expiry_forces_a_refetch(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    server, openid = harness.server, harness.phone.openid
    server.customer_wrote(openid)
    await harness.send("text", {"text": "一"})
    harness.clock.advance(7201)
    server.customer_wrote(openid)
    assert (await harness.send("text", {"text": "二"})).ok
    assert server.token_fetches["stable_token"] == 2
    assert [c.errcode for c in server.calls_to(CUSTOM)] == [0, 0]  # refreshed before it died


async def test_stable_token_near_its_end_is_not_refetched_per_send(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness()
    server, openid = harness.server, harness.phone.openid
    server.customer_wrote(openid)
    await harness.send("text", {"text": "一"})
    harness.clock.advance(7200 - 120)  # the platform keeps returning it for 2 more minutes
    server.customer_wrote(openid)
    for n in range(3):
        assert (await harness.send("text", {"text": f"第{n}条"})).ok
    assert server.token_fetches["stable_token"] == 2


async def test_invalid_token_on_send_refreshes_once_and_retries_once(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness()
    server = harness.server
    server.customer_wrote(harness.phone.openid)
    await harness.send("text", {"text": "一"})
    server.revoke_tokens()
    result = await harness.send("text", {"text": "二"})
    assert result.ok
    assert server.token_fetches["stable_token"] == 2
    assert [c.errcode for c in server.calls_to(CUSTOM)] == [0, 40001, 0]
    assert server.texts_for(harness.phone.openid) == ["一", "二"]


@pytest.mark.parametrize("errcode", [40001, 42001, 40014])
async def test_token_errors_never_loop(make_harness: MakeHarness, errcode: int) -> None:
    harness = await make_harness()
    server = harness.server
    server.customer_wrote(harness.phone.openid)
    server.fail_next(CUSTOM, errcode, times=5)
    with pytest.raises(ChannelError) as raised:
        await harness.send("text", {"text": "x"})
    assert raised.value.errcode == errcode
    assert len(server.calls_to(CUSTOM)) == 2
    assert server.token_fetches["stable_token"] == 2


async def test_concurrent_sends_fetch_the_token_once(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    harness.server.message_allowance = None
    harness.server.customer_wrote(harness.phone.openid)
    results = await asyncio.gather(*(harness.send("text", {"text": str(n)}) for n in range(20)))
    assert all(r.ok for r in results)
    assert harness.server.token_fetch_count == 1


async def test_concurrent_sends_after_revocation_refresh_once(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    server = harness.server
    server.message_allowance = None
    server.customer_wrote(harness.phone.openid)
    await harness.send("text", {"text": "warm"})
    server.revoke_tokens()
    results = await asyncio.gather(*(harness.send("text", {"text": str(n)}) for n in range(10)))
    assert all(r.ok for r in results)
    assert server.token_fetch_count == 2


async def test_classic_token_endpoint_when_configured(make_harness: MakeHarness) -> None:
    harness = await make_harness(token_endpoint="token")
    harness.server.customer_wrote(harness.phone.openid)
    assert (await harness.send("text", {"text": "x"})).ok
    assert harness.server.token_fetches == {"token": 1}
    assert harness.server.calls_to("/cgi-bin/token")[0].query["appid"] == harness.server.app_id


async def test_wrong_secret_is_a_channel_error(make_harness: MakeHarness) -> None:
    harness = await make_harness(app_secret="wrong")
    with pytest.raises(ChannelError) as raised:
        await harness.send("text", {"text": "x"})
    assert raised.value.errcode == 40125


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(TEST_REDIS_URL)
    try:
        await client.ping()
    except Exception:
        pytest.skip("no Redis at TEST_REDIS_URL")
    yield client
    await client.aclose()


@pytest.mark.redis
async def test_two_workers_share_one_token_through_redis(
    make_harness: MakeHarness, redis: Redis
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    first = await make_harness(tokens=AccessTokenCache(redis, prefix=prefix))
    second = await make_harness(tokens=AccessTokenCache(redis, prefix=prefix))
    server = first.server
    server.message_allowance = None
    server.customer_wrote(first.phone.openid)
    try:
        results = await asyncio.gather(
            *(h.send("text", {"text": str(n)}) for n in range(5) for h in (first, second))
        )
        assert all(r.ok for r in results)
        assert server.token_fetch_count == 1
    finally:
        keys = [key async for key in redis.scan_iter(f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
