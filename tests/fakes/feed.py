"""A stand-in for the service's feed_event, for adapter tests that stop at the channel boundary.

End-to-end tests use the real service; these only check what an adapter hands over and how it
answers the platform with the Reply it gets back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.channels.base import InboundEvent, Reply


class RecordingFeed:
    """Records every event; answers with `reply` (or what `answer(event)` returns)."""

    def __init__(
        self, reply: Reply | None = None, answer: Callable[[InboundEvent], Reply] | None = None
    ):
        self.events: list[InboundEvent] = []
        self._reply = reply or Reply()
        self._answer = answer
        self._arrived = asyncio.Event()

    async def __call__(self, event: InboundEvent) -> Reply:
        self.events.append(event)
        self._arrived.set()
        return self._answer(event) if self._answer else self._reply

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[InboundEvent]:  # noqa: ASYNC109
        """Wait until at least `count` events arrived (a loop timeout, not a wall-clock check)."""

        async def until() -> None:
            while len(self.events) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(until(), timeout)
        return self.events
