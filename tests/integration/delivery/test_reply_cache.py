"""The reply cache in a real Redis: committed replies come back; a Redis that is down or gone
answers 'ask the database' at once instead of failing or waiting."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.delivery.reply_cache import CachedReply, RedisReplyCache
from tests.conftest import TEST_REDIS_URL


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def cache(redis: Redis) -> RedisReplyCache:
    return RedisReplyCache(redis, prefix=f"test:{uuid.uuid4().hex}:", ttl=60)


async def test_a_committed_reply_comes_back(cache: RedisReplyCache) -> None:
    assert await cache.get("service", "msg:1") is None
    await cache.put("service", "msg:1", "您的投诉已提交，编号：TS20261123-0001")
    assert await cache.get("service", "msg:1") == CachedReply(
        "您的投诉已提交，编号：TS20261123-0001"
    )
    # The same key on another channel is another delivery.
    assert await cache.get("staff-wecom", "msg:1") is None


async def test_no_reply_and_an_empty_reply_are_kept_apart(cache: RedisReplyCache) -> None:
    await cache.put("service", "event:1", None)
    await cache.put("service", "event:2", "")
    assert await cache.get("service", "event:1") == CachedReply(None)
    assert await cache.get("service", "event:2") == CachedReply("")


async def test_entries_expire(cache: RedisReplyCache, redis: Redis) -> None:
    await cache.put("service", "msg:2", "好的")
    ttl = await redis.ttl(cache._key("service", "msg:2"))
    assert 0 < ttl <= 60


async def test_a_redis_that_is_not_there_means_ask_the_database(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.1)
    cache = RedisReplyCache(gone, prefix="test:gone:")
    try:
        await cache.put("service", "msg:3", "好的")  # does not raise
        assert await cache.get("service", "msg:3") is None
        assert await cache.get("service", "msg:4") is None
    finally:
        await gone.aclose()
    warnings = [r for r in caplog.records if "reply cache: Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per delivery
