"""The dedupe fast path through the dispatcher: a platform's retry of a committed delivery is
answered from Redis without a database statement; with Redis gone, the database still answers
it the same and nothing is created twice (both databases)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from sqlalchemy import event, func, select

from bot.channels.base import InboundMessage
from bot.delivery.reply_cache import RedisReplyCache
from bot.service.clock import FixedClock
from bot.service.wiring import Service
from storage.models import Conversation, InboundEvent
from tests.conftest import TEST_REDIS_URL


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


def _message(clock: FixedClock, key: str, text: str) -> InboundMessage:
    # A playground customer (no staff id): the customer intake answers.
    return InboundMessage(
        channel="playground",
        dedupe_key=key,
        sender="customer-wang",
        kind="text",
        sent_at=clock.now(),
        text=text,
    )


class StatementCount:
    """Statements the database is sent while counting (both engines of the Database)."""

    def __init__(self, service: Service):
        self.engines = {
            service.rt.db.write_engine.sync_engine,
            service.rt.db.read_engine.sync_engine,
        }
        self.count = 0

    def _seen(self, *_args: object) -> None:
        self.count += 1

    def __enter__(self) -> StatementCount:
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._seen)


async def _records(service: Service) -> int:
    async with service.rt.db.read() as s:
        return await s.scalar(select(func.count()).select_from(InboundEvent))


async def test_a_retry_is_answered_from_redis_without_the_database(
    service: Service, clock: FixedClock, redis: Redis
):
    service.dispatcher.replies = RedisReplyCache(redis, prefix=f"test:{uuid.uuid4().hex}:")
    first = await service.dispatcher.feed(_message(clock, "msg:1", "我要投诉"))
    assert first.accepted and first.text
    with StatementCount(service) as statements:
        again = await service.dispatcher.feed(_message(clock, "msg:1", "我要投诉"))
    assert again.text == first.text
    assert statements.count == 0
    assert await _records(service) == 1


async def test_without_redis_the_database_answers_a_retry_the_same(
    service: Service, clock: FixedClock
):
    with socket.socket() as probe:  # a port nothing listens on: Redis is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.1)
    service.dispatcher.replies = RedisReplyCache(gone, prefix="test:gone:")
    try:
        first = await service.dispatcher.feed(_message(clock, "msg:2", "我要投诉"))
        retries = [
            await service.dispatcher.feed(_message(clock, "msg:2", "我要投诉")) for _ in range(3)
        ]
        second = await service.dispatcher.feed(_message(clock, "msg:3", "王小明"))
    finally:
        await gone.aclose()
    assert first.accepted and all(r.text == first.text for r in retries)
    assert second.accepted and second.text != first.text  # the dialog moved on exactly once
    assert await _records(service) == 2
    async with service.rt.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Conversation)) == 1
