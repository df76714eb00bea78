"""The dedupe fast path: a platform's retry of a delivery already handled, answered from Redis.

WeChat, WeCom and DingTalk deliver again when an answer is late or lost. The database decides
(the inbound record's unique key, and the reply stored with it); this cache only remembers that
decision once it is committed, so a retry gets the same reply without opening a transaction.
Anything Redis cannot do (down, slow, evicted) sends the retry to the database path, which is
always right: the cache can make a retry cheaper, never different.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

# Longer than any platform retries (WeChat: three tries within ~15 s; DingTalk re-pushes for
# minutes), short enough that the cache stays small.
DEFAULT_TTL_SECONDS = 3600
_NO_REPLY = b"\x00"  # the first delivery answered nothing (stored NULL)
_REPLY = b"\x01"


def reply_prefix(db: Any) -> str:
    """Keys of one database's replies: a database rebuilt or swapped under the same Redis (a
    restore, a test database) must not be answered with another one's decisions."""
    url = str(db.write_engine.url)
    return f"complaint-bot:reply:{hashlib.blake2b(url.encode(), digest_size=6).hexdigest()}:"


@dataclass(frozen=True)
class CachedReply:
    """A committed decision: the reply the first delivery stored (None: it answered nothing)."""

    text: str | None


class ReplyCache(Protocol):
    async def get(self, channel: str, dedupe_key: str) -> CachedReply | None: ...

    async def put(self, channel: str, dedupe_key: str, text: str | None) -> None: ...


class NoReplyCache:
    """Without Redis: every retry goes to the database."""

    async def get(self, channel: str, dedupe_key: str) -> CachedReply | None:
        return None

    async def put(self, channel: str, dedupe_key: str, text: str | None) -> None:
        return None


class RedisReplyCache:
    """Committed replies in Redis under a hash of (channel, dedupe key), each for `ttl` seconds."""

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str = "complaint-bot:reply:",
        ttl: int = DEFAULT_TTL_SECONDS,
        timeout: float = 0.2,
        retry_after: float = 5.0,
    ):
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl
        self._timeout = timeout  # a slow Redis must not slow the callback it is meant to speed up
        self._retry_after = retry_after
        self._down_until = 0.0

    def _key(self, channel: str, dedupe_key: str) -> str:
        digest = hashlib.blake2b(f"{channel}\x00{dedupe_key}".encode(), digest_size=16)
        return self._prefix + digest.hexdigest()

    async def get(self, channel: str, dedupe_key: str) -> CachedReply | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            raw = await asyncio.wait_for(
                self._redis.get(self._key(channel, dedupe_key)), self._timeout
            )
        except Exception as exc:  # noqa: BLE001 - any Redis failure means "ask the database"
            self._went_down(exc)
            return None
        if raw is None:
            return None
        raw = raw if isinstance(raw, bytes) else str(raw).encode()
        if raw[:1] == _NO_REPLY:
            return CachedReply(None)
        return CachedReply(raw[1:].decode()) if raw[:1] == _REPLY else None

    async def put(self, channel: str, dedupe_key: str, text: str | None) -> None:
        if time.monotonic() < self._down_until:
            return
        value = _NO_REPLY if text is None else _REPLY + text.encode()
        try:
            await asyncio.wait_for(
                self._redis.set(self._key(channel, dedupe_key), value, ex=self._ttl),
                self._timeout,
            )
        except Exception as exc:  # noqa: BLE001 - a missed put only costs a database read later
            self._went_down(exc)

    def _went_down(self, exc: BaseException) -> None:
        if time.monotonic() >= self._down_until:
            log.warning(
                "reply cache: Redis unavailable (%s); retries go to the database for %.0f s",
                type(exc).__name__,
                self._retry_after,
            )
        self._down_until = time.monotonic() + self._retry_after
