"""A small in-process cache of lookup answers with a time to live (per worker process)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    expires_at: datetime


class TtlCache(Generic[T]):
    """Least recently used entries go first once `size` is reached; the caller gives the time."""

    def __init__(self, ttl: timedelta, *, size: int = 1000):
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[T]] = {}

    def get(self, key: str, now: datetime) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: str, value: T, now: datetime) -> None:
        if self.ttl <= timedelta(0):
            return
        self._entries[key] = _Entry(value, now + self.ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    async def fetch(self, key: str, now: datetime, fetch: Callable[[], Awaitable[T]]) -> T:
        """The cached value, or fetch it once: concurrent callers of one key share one fetch
        (and its failure, which is not cached)."""
        hit = self.get(key, now)
        if hit is not None:
            return hit
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await fetch()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            self._inflight.pop(key, None)
        self.put(key, value, now)
        future.set_result(value)
        return value

    def __len__(self) -> int:
        return len(self._entries)
