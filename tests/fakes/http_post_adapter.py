"""A ChannelAdapter that POSTs each message to a local receiver, for relay process tests.

The receiver (tests/integration/delivery) records every idempotency key it is sent; the adapter
is deliberately plain so a test can run it inside a child process that it kills.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from bot.cards.model import Card
from bot.channels.base import FeedEvent, OutboundMessage, Pace, SendResult


class HttpPostAdapter:
    platform = "playground"
    passive_replies = False

    def __init__(self, name: str, url: str):
        self.name = name
        self.url = url
        self._session: aiohttp.ClientSession | None = None

    def routes(self) -> Sequence[web.RouteDef]:
        return []

    async def start(self, feed: FeedEvent) -> None:
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, message: OutboundMessage) -> SendResult:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        body = {"key": message.idempotency_key, "id": message.id, "attempt": message.attempt}
        async with self._session.post(self.url, json=body) as response:
            if response.status >= 500:
                raise aiohttp.ClientResponseError(
                    response.request_info, (), status=response.status, message="server error"
                )
            data = await response.json()
        return SendResult.delivered(**data)

    def pace(self, message: OutboundMessage) -> Pace | None:
        return None

    def render_card(self, card: Card) -> Mapping[str, Any]:
        return card.to_dict()
