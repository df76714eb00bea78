"""Playground delivery: every message lands in an in-process inbox that browsers watch live.

It is a channel like the others: the same conversation, workflow, rules, cards and outbox run
underneath, and `send` is called by the outbox relay. Only the last step differs: instead of a
platform API, the message is kept per target and pushed to subscribed pages (server-sent events).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.cards.model import Card, card_as_text
from bot.channels.base import (
    AdapterContext,
    FeedEvent,
    OutboundMessage,
    Pace,
    Reply,
    SendResult,
)
from bot.config.channels import PlaygroundChannel

INBOX_LIMIT = 500


@dataclass(frozen=True)
class Delivery:
    """One message shown in the playground: to whom, what kind, its content."""

    seq: int
    target: str
    kind: str
    payload: Mapping[str, Any]
    at: datetime
    outbox_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "target": self.target,
            "kind": self.kind,
            "payload": dict(self.payload),
            "at": self.at.isoformat(),
            "outbox_id": self.outbox_id,
        }


@dataclass
class PlaygroundAdapter:
    name: str
    context: AdapterContext
    platform: str = "playground"
    passive_replies: bool = True
    inboxes: dict[str, deque[Delivery]] = field(default_factory=lambda: defaultdict(deque))
    _subscribers: set[asyncio.Queue[Delivery]] = field(default_factory=set)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    feed: FeedEvent | None = None

    def routes(self) -> Sequence[web.RouteDef]:
        return []  # the playground's pages live in bot/web/playground.py

    async def start(self, feed: FeedEvent) -> None:
        self.feed = feed

    async def stop(self) -> None:
        for queue in list(self._subscribers):
            queue.put_nowait(None)  # type: ignore[arg-type]  # wakes and ends each stream

    async def deliver_reply(self, target: str, text: str) -> Delivery:
        """A passive reply to a chat message, shown like any other delivery."""
        return self._publish(target, "text", {"text": text}, None)

    async def send(self, message: OutboundMessage) -> SendResult:
        self._publish(message.target, message.kind, message.payload, message.id)
        return SendResult.delivered(via="playground")

    def pace(self, message: OutboundMessage) -> Pace | None:
        return None  # nothing to protect: delivery is local

    def render_card(self, card: Card) -> Mapping[str, Any]:
        return {"card": card.to_dict(), "text": card_as_text(card)}

    def _publish(
        self, target: str, kind: str, payload: Mapping[str, Any], outbox_id: int | None
    ) -> Delivery:
        delivery = Delivery(
            seq=next(self._seq), target=target, kind=kind, payload=dict(payload),
            at=self.context.clock(), outbox_id=outbox_id,
        )
        inbox = self.inboxes[target]
        inbox.append(delivery)
        while len(inbox) > INBOX_LIMIT:
            inbox.popleft()
        for queue in list(self._subscribers):
            queue.put_nowait(delivery)
        return delivery

    def subscribe(self) -> asyncio.Queue[Delivery]:
        queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Delivery]) -> None:
        self._subscribers.discard(queue)

    def inbox(self, target: str) -> list[Delivery]:
        return list(self.inboxes.get(target, ()))


def build_adapter(config: PlaygroundChannel, context: AdapterContext) -> PlaygroundAdapter:
    return PlaygroundAdapter(name=config.name, context=context)


__all__ = ["Delivery", "PlaygroundAdapter", "Reply", "build_adapter"]
