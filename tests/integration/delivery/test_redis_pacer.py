"""The shared pacer in a real Redis: one 60 s window across workers, and the local fallback."""

from __future__ import annotations

import bisect
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.channels.base import Pace
from bot.delivery.pacing import RedisPacer
from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.redis

LIMIT = 20


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


def max_in_any_window(times: list[float], window: float = 60.0) -> int:
    ordered = sorted(times)
    return max(
        (bisect.bisect_right(ordered, t + window) - i for i, t in enumerate(ordered)), default=0
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(offsets=st.lists(st.floats(min_value=0.0, max_value=600.0), min_size=1, max_size=120))
async def test_two_workers_sharing_redis_never_exceed_the_limit(
    redis: Redis, offsets: list[float]
) -> None:
    """Two pacers (two workers) on one key: together never more than 20 in any 60 s window."""
    prefix = f"test:{uuid.uuid4().hex}:"
    clock = Clock()
    workers = [RedisPacer(redis, prefix=prefix, clock=clock) for _ in range(2)]
    start = clock.t
    granted = []
    for i, offset in enumerate(sorted(offsets)):
        clock.t = start + offset
        if await workers[i % 2].acquire(Pace("dingtalk-robot:r1", LIMIT)) == 0.0:
            granted.append(clock.t)
    await redis.delete(prefix + "dingtalk-robot:r1")
    assert max_in_any_window(granted) <= LIMIT
    assert not any(w.degraded for w in workers)


async def test_the_wait_returned_is_when_a_slot_frees(redis: Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    clock = Clock()
    pacer = RedisPacer(redis, prefix=prefix, clock=clock, margin=1.0)
    for _ in range(2):
        assert await pacer.acquire(Pace("k", 2)) == 0.0
        clock.t += 5
    assert await pacer.acquire(Pace("k", 2)) == pytest.approx(61.0 - 10.0)
    clock.t += 51
    assert await pacer.acquire(Pace("k", 2)) == 0.0
    assert 0 < await redis.pttl(prefix + "k") <= 61_000
    await redis.delete(prefix + "k")


async def test_unreachable_redis_falls_back_to_in_process_limits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    clock = Clock()
    pacer = RedisPacer(dead, clock=clock, retry_after=5.0)
    try:
        assert await pacer.acquire(Pace("k", 1)) == 0.0
        assert pacer.degraded
        assert await pacer.acquire(Pace("k", 1)) > 0.0  # still paced, by the local log
    finally:
        await dead.aclose()
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per send
