"""Per-target send limits: at most `per_minute` sends in any window of a minute (plus a margin).

Why a sliding-window log and not a token bucket: DingTalk silences a robot for 10 minutes when it
receives more than 20 messages in a minute, so the guarantee we need is "never more than N sends
in ANY 60 s window". A token bucket of capacity C refilled at N/60 per second lets C + N through
in the 60 s after it filled up: safe only with C = 1, which spaces every send 3 s apart even for
two messages in a row (a card and its notice). The log keeps the time of each of the last N sends
per key and grants a send only when fewer than N lie inside the window; it allows a burst of N
and then exactly the window's rate, and the property is easy to state and test. It costs N
timestamps per active key (20-30), nothing at this scale.

The window is 60 s plus `margin` seconds (default 1) because our clock and the platform's counter
are not aligned and a send granted at t may reach the platform later than one granted at t+60.

LocalPacer keeps the log in process (the embedded default, one process). RedisPacer keeps it in a
Redis sorted set per key, updated by one Lua script (atomic across workers), and falls back to a
LocalPacer while Redis fails, going back to Redis when it answers again. Times come from the
pacer's clock (default time.time), so workers need synchronised clocks (NTP); the margin absorbs
small skew.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from bot.channels.base import Pace

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
DEFAULT_MARGIN_SECONDS = 1.0
_SWEEP_EVERY = 1000


class Pacer(Protocol):
    async def acquire(self, pace: Pace) -> float:
        """Take a send slot for `pace.key`: 0.0 if taken, else the seconds until one frees up."""
        ...


class LocalPacer:
    """In-process sliding-window log per key (one process; the clock is injectable for tests)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        margin: float = DEFAULT_MARGIN_SECONDS,
    ):
        self._clock = clock
        self.window = WINDOW_SECONDS + margin
        self._logs: dict[str, deque[float]] = {}
        self._takes = 0

    async def acquire(self, pace: Pace) -> float:
        """Take a slot if fewer than per_minute sends lie in the window; else the wait for one."""
        return self.take(pace.key, pace.per_minute, self._clock())

    def take(self, key: str, limit: int, now: float) -> float:
        """The synchronous core of acquire, at an explicit time."""
        self._takes += 1
        if self._takes % _SWEEP_EVERY == 0:
            self._sweep(now)
        entries = self._prune(key, now)
        if len(entries) < max(1, limit):
            entries.append(now)
            return 0.0
        # The slot frees when the oldest send in the window leaves it.
        return max(entries[-max(1, limit)] + self.window - now, 0.001)

    def record(self, key: str, at: float) -> None:
        """Note a send granted elsewhere (by Redis), so a fallback knows this process's sends."""
        entries = self._prune(key, at)
        entries.append(at)

    def recent(self, key: str, now: float) -> list[float]:
        """The send times of `key` still inside the window."""
        return list(self._prune(key, now))

    def keys(self) -> list[str]:
        return list(self._logs)

    def _sweep(self, now: float) -> None:
        """Forget keys with no send inside the window (targets that went quiet)."""
        horizon = now - self.window
        quiet = [k for k, entries in self._logs.items() if not entries or entries[-1] <= horizon]
        for key in quiet:
            del self._logs[key]

    def _prune(self, key: str, now: float) -> deque[float]:
        entries = self._logs.setdefault(key, deque())
        horizon = now - self.window
        while entries and entries[0] <= horizon:
            entries.popleft()
        return entries


# KEYS[1] the log; ARGV: now (ms), window (ms), limit, member. Returns 0 when the send was
# recorded, else the milliseconds until enough entries leave the window for one more send.
_SLIDING_WINDOW_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil(window))
  return 0
end
local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return math.ceil(wait)
"""


class RedisPacer:
    """The sliding-window log in Redis (shared by every worker), with an in-process fallback.

    While Redis fails, sends are paced by a LocalPacer that already knows this process's recent
    sends; `fallback_divisor` (e.g. the number of workers) shares the limit between workers that
    each fall back on their own. After `retry_after` seconds Redis is tried again; on success the
    sends granted locally meanwhile are written to Redis, so the window stays whole.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "complaint-bot:pace:",
        clock: Callable[[], float] = time.time,
        margin: float = DEFAULT_MARGIN_SECONDS,
        retry_after: float = 5.0,
        timeout: float = 1.0,
        fallback_divisor: int = 1,
    ):
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._local = LocalPacer(clock=clock, margin=margin)
        self.window = self._local.window
        self._retry_after = retry_after
        self._timeout = timeout
        self._divisor = max(1, fallback_divisor)
        self._script = redis.register_script(_SLIDING_WINDOW_LUA)
        self._member_prefix = uuid.uuid4().hex[:12]
        self._counter = 0
        self._down_until: float | None = None  # clock time before which Redis is not tried
        self._granted_while_down: dict[str, list[float]] = {}

    @property
    def degraded(self) -> bool:
        """True while pacing falls back to the in-process log."""
        return self._down_until is not None

    async def acquire(self, pace: Pace) -> float:
        """Take a slot in Redis; on Redis errors, in the in-process log (with a warning)."""
        now = self._clock()
        if self._down_until is not None and now < self._down_until:
            return self._take_locally(pace, now)
        try:
            if self._down_until is not None:
                await self._restore(now)
            wait_ms = await asyncio.wait_for(
                self._script(
                    keys=[self._prefix + pace.key],
                    args=[
                        int(now * 1000),
                        int(self.window * 1000),
                        max(1, pace.per_minute),
                        self._member(now),
                    ],
                ),
                self._timeout,
            )
        except Exception as exc:  # any Redis failure: pace locally, never lose the send
            if self._down_until is None:
                log.warning(
                    "pacing: Redis unavailable (%s); using in-process limits until it returns",
                    type(exc).__name__,
                )
            self._down_until = now + self._retry_after
            return self._take_locally(pace, now)
        if self._down_until is not None:
            log.info("pacing: Redis is back; shared limits resumed")
            self._down_until = None
        wait = int(wait_ms) / 1000.0
        if wait <= 0:
            self._local.record(pace.key, now)
            return 0.0
        return wait

    def _take_locally(self, pace: Pace, now: float) -> float:
        limit = max(1, pace.per_minute // self._divisor)
        wait = self._local.take(pace.key, limit, now)
        if wait == 0.0:
            self._granted_while_down.setdefault(pace.key, []).append(now)
        return wait

    async def _restore(self, now: float) -> None:
        """Write the sends granted during the outage into Redis (raises if Redis still fails)."""
        horizon = now - self.window
        window_ms = int(self.window * 1000)
        for key, stamps in list(self._granted_while_down.items()):
            recent = {self._member(t): int(t * 1000) for t in stamps if t > horizon}
            if recent:
                await asyncio.wait_for(self._redis.zadd(self._prefix + key, recent), self._timeout)
                await asyncio.wait_for(
                    self._redis.pexpire(self._prefix + key, window_ms), self._timeout
                )
            del self._granted_while_down[key]

    def _member(self, now: float) -> str:
        self._counter += 1
        return f"{now:.6f}:{self._member_prefix}:{self._counter}"
