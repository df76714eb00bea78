"""Playground delivery: every message lands in an in-process inbox that browsers watch live.

It is a channel like the others: the same conversation, workflow, rules, cards and outbox run
underneath, and `send` is called by the outbox relay. Only the last step differs: instead of a
platform API, the message is kept per target and pushed to subscribed pages (server-sent events).
What people type on the page is kept too (`echo`), so a page opened later shows both sides.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
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
# Events for every page, never stored (the clock moved, ...).
SYSTEM_TARGET = "system:"


@dataclass(frozen=True)
class Delivery:
    """One message shown in the playground: to whom, what kind, its content.

    `inbound` marks what the person at `target` sent themselves (their side of the chat).
    """

    seq: int
    target: str
    kind: str
    payload: Mapping[str, Any]
    at: datetime
    outbox_id: int | None = None
    inbound: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "target": self.target,
            "kind": self.kind,
            "payload": dict(self.payload),
            "at": self.at.isoformat(),
            "outbox_id": self.outbox_id,
            "inbound": self.inbound,
        }


# A subscriber's queue; None means "the stream is over" (shutdown).
Stream = asyncio.Queue[Delivery | None]


@dataclass
class PlaygroundAdapter:
    name: str
    context: AdapterContext
    platform: str = "playground"
    passive_replies: bool = True
    inboxes: dict[str, deque[Delivery]] = field(default_factory=lambda: defaultdict(deque))
    _subscribers: set[Stream] = field(default_factory=set)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    _closed: bool = False
    feed: FeedEvent | None = None

    def routes(self) -> Sequence[web.RouteDef]:
        return []  # the playground's pages live in bot/web/playground.py

    async def start(self, feed: FeedEvent) -> None:
        self.feed = feed
        self._closed = False

    async def stop(self) -> None:
        self.end_streams()

    def end_streams(self) -> None:
        """Wake and end every live stream (at shutdown); later subscribers end at once."""
        self._closed = True
        for queue in list(self._subscribers):
            queue.put_nowait(None)

    async def deliver_reply(self, target: str, text: str) -> Delivery:
        """A passive reply to a chat message, shown like any other delivery."""
        return self._publish(target, "text", {"text": text}, None)

    def echo(self, target: str, kind: str, payload: Mapping[str, Any]) -> Delivery:
        """What the person at `target` sent (their own bubble), kept and shown on every page."""
        return self._publish(target, kind, payload, None, inbound=True)

    def announce(self, kind: str, payload: Mapping[str, Any]) -> Delivery:
        """An event for every open page that is not a message (kept nowhere)."""
        delivery = Delivery(
            seq=next(self._seq),
            target=SYSTEM_TARGET,
            kind=kind,
            payload=dict(payload),
            at=self.context.clock(),
        )
        self._push(delivery)
        return delivery

    async def send(self, message: OutboundMessage) -> SendResult:
        delivery = self._publish(message.target, message.kind, message.payload, message.id)
        # No "via" key: the service reads `via` as WeChat's 48 h-window fallback.
        return SendResult.delivered(playground_seq=delivery.seq)

    def pace(self, message: OutboundMessage) -> Pace | None:
        return None  # nothing to protect: delivery is local

    def render_card(self, card: Card) -> Mapping[str, Any]:
        return {"card": card.to_dict(), "text": card_as_text(card)}

    def _publish(
        self,
        target: str,
        kind: str,
        payload: Mapping[str, Any],
        outbox_id: int | None,
        *,
        inbound: bool = False,
    ) -> Delivery:
        delivery = Delivery(
            seq=next(self._seq),
            target=target,
            kind=kind,
            payload=dict(payload),
            at=self.context.clock(),
            outbox_id=outbox_id,
            inbound=inbound,
        )
        inbox = self.inboxes[target]
        inbox.append(delivery)
        while len(inbox) > INBOX_LIMIT:
            inbox.popleft()
        self._push(delivery)
        return delivery

    def _push(self, delivery: Delivery) -> None:
        for queue in list(self._subscribers):
            queue.put_nowait(delivery)

    def subscribe(self) -> Stream:
        queue: Stream = asyncio.Queue()
        if self._closed:
            queue.put_nowait(None)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: Stream) -> None:
        self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def inbox(self, target: str) -> list[Delivery]:
        return list(self.inboxes.get(target, ()))

    def deliveries(self, wanted: Callable[[str], bool]) -> list[Delivery]:
        """Every kept delivery whose target `wanted` accepts, oldest first."""
        found = [d for target, inbox in self.inboxes.items() if wanted(target) for d in inbox]
        return sorted(found, key=lambda d: d.seq)

    def has_echo(self, target: str, client_id: str) -> bool:
        """Whether a message with this client-side id was already shown (a repeated POST)."""
        return any(
            d.inbound and d.payload.get("id") == client_id for d in self.inboxes.get(target, ())
        )


def build_adapter(config: PlaygroundChannel, context: AdapterContext) -> PlaygroundAdapter:
    return PlaygroundAdapter(name=config.name, context=context)


__all__ = ["Delivery", "PlaygroundAdapter", "Reply", "Stream", "build_adapter"]
