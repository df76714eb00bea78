"""The lookup cache: time to live, size bound, one fetch for concurrent callers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.integrations.cache import TtlCache

T0 = datetime(2026, 11, 23, tzinfo=UTC)


def test_entries_expire_after_their_time_to_live():
    cache: TtlCache[str] = TtlCache(timedelta(minutes=10))
    cache.put("k", "v", T0)
    assert cache.get("k", T0 + timedelta(minutes=9)) == "v"
    assert cache.get("k", T0 + timedelta(minutes=10)) is None
    assert len(cache) == 0


def test_the_least_recently_used_entry_goes_first():
    cache: TtlCache[int] = TtlCache(timedelta(hours=1), size=2)
    cache.put("a", 1, T0)
    cache.put("b", 2, T0)
    cache.get("a", T0)
    cache.put("c", 3, T0)
    assert (cache.get("a", T0), cache.get("b", T0), cache.get("c", T0)) == (1, None, 3)


def test_a_zero_time_to_live_caches_nothing():
    cache: TtlCache[int] = TtlCache(timedelta(0))
    cache.put("a", 1, T0)
    assert cache.get("a", T0) is None


async def test_concurrent_callers_share_one_fetch():
    cache: TtlCache[str] = TtlCache(timedelta(minutes=1))
    calls = 0
    gate = asyncio.Event()

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return "answer"

    waiting = [asyncio.create_task(cache.fetch("k", T0, fetch)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == ["answer"] * 5
    assert calls == 1
    assert await cache.fetch("k", T0, fetch) == "answer" and calls == 1


async def test_a_failed_fetch_is_shared_but_not_cached():
    cache: TtlCache[str] = TtlCache(timedelta(minutes=1))
    gate = asyncio.Event()

    async def failing() -> str:
        await gate.wait()
        raise TimeoutError("slow")

    waiting = [asyncio.create_task(cache.fetch("k", T0, failing)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, TimeoutError) for r in results)

    async def working() -> str:
        return "later"

    assert await cache.fetch("k", T0, working) == "later"
