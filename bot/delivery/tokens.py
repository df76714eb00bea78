"""Platform access tokens, fetched by one caller at a time and shared through Redis when configured.

WeChat's /cgi-bin/token invalidates the previous token on every fetch and allows 2000 fetches a
day, so a thundering herd of workers each fetching its own token would knock the others' tokens
out. One fetch at a time: an asyncio lock in the process, and a short Redis lock across processes.
Redis is only for speed: when it is down, each process keeps its own token and nothing fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

TokenFetch = Callable[[], Awaitable[tuple[str, float]]]  # -> (token, expires_in seconds)

# Refresh this long before the platform's expiry, so a token never dies in flight.
REFRESH_MARGIN_SECONDS = 300.0
_REDIS_LOCK_MS = 10_000


@dataclass
class _Cached:
    token: str
    expires_at: float


class AccessTokenCache:
    """get(key, fetch) returns a valid token, calling `fetch` only when none is cached."""

    def __init__(
        self,
        redis: Redis | None = None,
        *,
        prefix: str = "complaint-bot:token:",
        clock: Callable[[], float] = time.time,
    ):
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._local: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0  # how many times a platform was asked, for tests and metrics

    def _fresh(self, cached: _Cached | None) -> bool:
        return cached is not None and cached.expires_at - REFRESH_MARGIN_SECONDS > self._clock()

    async def get(self, key: str, fetch: TokenFetch) -> str:
        cached = self._local.get(key)
        if self._fresh(cached):
            assert cached is not None
            return cached.token
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._local.get(key)
            if self._fresh(cached):
                assert cached is not None
                return cached.token
            shared = await self._read_shared(key)
            if self._fresh(shared):
                assert shared is not None
                self._local[key] = shared
                return shared.token
            fresh = await self._fetch_once_across_workers(key, fetch)
            self._local[key] = fresh
            return fresh.token

    async def invalidate(self, key: str, token: str) -> None:
        """Forget `token` after the platform called it invalid (40001/42001); a newer one stays."""
        cached = self._local.get(key)
        if cached and cached.token == token:
            del self._local[key]
        if self._redis is None:
            return
        try:
            shared = await self._read_shared(key)
            if shared and shared.token == token:
                await self._redis.delete(self._prefix + key)
        except Exception as exc:  # Redis trouble never blocks a send
            log.warning(
                "token cache: Redis unavailable while invalidating (%s)", type(exc).__name__
            )

    async def _fetch_once_across_workers(self, key: str, fetch: TokenFetch) -> _Cached:
        if self._redis is None:
            return await self._call(fetch)
        lock_key = f"{self._prefix}{key}:lock"
        try:
            got_lock = await self._redis.set(lock_key, "1", nx=True, px=_REDIS_LOCK_MS)
        except Exception as exc:
            log.warning("token cache: Redis unavailable (%s); fetching locally", type(exc).__name__)
            return await self._call(fetch)
        if not got_lock:
            # Another worker is fetching: wait for its token rather than invalidating it.
            deadline = self._clock() + _REDIS_LOCK_MS / 1000
            while self._clock() < deadline:
                await asyncio.sleep(0.05)
                shared = await self._read_shared(key)
                if self._fresh(shared):
                    assert shared is not None
                    return shared
        try:
            fresh = await self._call(fetch)
            await self._write_shared(key, fresh)
            return fresh
        finally:
            if got_lock:
                try:
                    await self._redis.delete(lock_key)
                except Exception:
                    pass  # the lock expires by itself

    async def _call(self, fetch: TokenFetch) -> _Cached:
        token, expires_in = await fetch()
        self.fetches += 1
        return _Cached(token=token, expires_at=self._clock() + float(expires_in))

    async def _read_shared(self, key: str) -> _Cached | None:
        if self._redis is None:
            return None
        try:
            raw = await self._redis.get(self._prefix + key)
        except Exception as exc:
            log.warning("token cache: Redis unavailable (%s)", type(exc).__name__)
            return None
        if not raw:
            return None
        data = json.loads(raw)
        return _Cached(token=data["token"], expires_at=float(data["expires_at"]))

    async def _write_shared(self, key: str, cached: _Cached) -> None:
        if self._redis is None:
            return
        ttl = max(1, int(cached.expires_at - self._clock()))
        try:
            await self._redis.set(
                self._prefix + key,
                json.dumps({"token": cached.token, "expires_at": cached.expires_at}),
                ex=ttl,
            )
        except Exception as exc:
            log.warning("token cache: Redis unavailable (%s)", type(exc).__name__)
