"""A ChannelAdapter for relay tests: records every send and answers from a script.

A script step is a SendResult (returned), an exception (raised, like a transport error), or an
async callable `step(message) -> SendResult` (e.g. one that hangs until the test lets it go).
Steps are taken per idempotency key first, then from the shared queue; with no step left the
answer is `default` (delivered).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from bot.cards.model import Card
from bot.channels.base import FeedEvent, OutboundMessage, Pace, SendResult

Step = SendResult | BaseException | Callable[[OutboundMessage], Awaitable[SendResult]]


class ScriptedAdapter:
    passive_replies = False

    def __init__(
        self,
        name: str = "staff",
        *,
        platform: str = "playground",
        per_minute: int | None = None,
        pace_key: Callable[[OutboundMessage], str] | None = None,
        default: SendResult | None = None,
    ):
        self.name = name
        self.platform = platform
        self.per_minute = per_minute
        self._pace_key = pace_key or (lambda m: f"{self.name}:{m.target}")
        self.default = default or SendResult.delivered()
        self.calls: list[OutboundMessage] = []  # every send, in call order
        self.delivered: list[OutboundMessage] = []  # sends answered ok
        self.started = asyncio.Event()  # set at the first send
        self._called = asyncio.Condition()
        self._by_key: dict[str, deque[Step]] = defaultdict(deque)
        self._queue: deque[Step] = deque()

    def script(self, *steps: Step, key: str | None = None) -> None:
        """Queue answers for the next sends (of `key` only, when given)."""
        (self._by_key[key] if key is not None else self._queue).extend(steps)

    async def wait_for_calls(self, count: int) -> None:
        """Return once `count` sends have started."""
        async with self._called:
            await self._called.wait_for(lambda: len(self.calls) >= count)

    @property
    def keys(self) -> list[str]:
        return [m.idempotency_key for m in self.calls]

    def routes(self) -> Sequence[web.RouteDef]:
        return []

    async def start(self, feed: FeedEvent) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, message: OutboundMessage) -> SendResult:
        self.calls.append(message)
        self.started.set()
        async with self._called:
            self._called.notify_all()
        queue = self._by_key.get(message.idempotency_key)
        step: Step = self.default
        if queue:
            step = queue.popleft()
        elif self._queue:
            step = self._queue.popleft()
        if isinstance(step, BaseException):
            raise step
        result = step if isinstance(step, SendResult) else await step(message)
        if result.ok:
            self.delivered.append(message)
        return result

    def pace(self, message: OutboundMessage) -> Pace | None:
        if self.per_minute is None:
            return None
        return Pace(key=self._pace_key(message), per_minute=self.per_minute)

    def render_card(self, card: Card) -> Mapping[str, Any]:
        return card.to_dict()


def hang_until(event: asyncio.Event) -> Callable[[OutboundMessage], Awaitable[SendResult]]:
    """A step that blocks until `event` is set (or the send is cancelled), then delivers."""

    async def step(_message: OutboundMessage) -> SendResult:
        await event.wait()
        return SendResult.delivered()

    return step
