"""The "webhooks" adapter: POSTs outbox rows of kind "webhook" to other systems.

Two sources write such rows: webhook subscriptions (bot/integrations/events.py; signed with the
subscription's secret, see bot/integrations/signing.py) and rules with `call_webhook` (sent with
the rule's method, headers and payload, unsigned: a rule has no secret of its own).
Outcomes: 2xx delivered; 429 later (Retry-After); 5xx, timeouts and connection errors raise so
the relay retries with backoff; any other answer is a permanent failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from bot.cards.model import Card
from bot.channels.base import FeedEvent, OutboundMessage, Pace, SendResult
from bot.errors import BotError
from bot.integrations.config import WebhookSubscription
from bot.integrations.events import WEBHOOKS_CHANNEL
from bot.integrations.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)

RULE_WEBHOOK_TIMEOUT = 10.0
USER_AGENT = "complaint-bot-webhooks/1"


class WebhookError(BotError):
    """The receiver failed (5xx): the relay retries; `errcode` labels the failure metric."""

    def __init__(self, status: int, text: str):
        self.errcode = status
        super().__init__(f"HTTP {status}: {text[:200]}")


def encode_body(body: Any) -> bytes:
    """The exact bytes that are sent and signed: compact JSON, UTF-8, Chinese kept as is."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookAdapter:
    """A ChannelAdapter with no inbound side; `send` is one signed HTTP request."""

    platform = "webhooks"
    passive_replies = False

    def __init__(
        self,
        subscriptions: Sequence[WebhookSubscription],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        name: str = WEBHOOKS_CHANNEL,
    ):
        self.name = name
        self.subscriptions = {s.name: s for s in subscriptions}
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None

    def routes(self) -> Sequence[web.RouteDef]:
        return []

    async def start(self, feed: FeedEvent) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def pace(self, message: OutboundMessage) -> Pace | None:
        return None

    def render_card(self, card: Card) -> Mapping[str, Any]:
        return card.to_dict()

    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver one webhook row (see the module docstring for the outcomes)."""
        payload = message.payload
        timestamp = int(self.clock().timestamp())
        headers = {DELIVERY_HEADER: message.idempotency_key, TIMESTAMP_HEADER: str(timestamp)}
        name = payload.get("subscription")
        if name:
            sub = self.subscriptions.get(str(name))
            if sub is None or not sub.active:
                why = "is no longer configured" if sub is None else "has no secret"
                return SendResult.failed(f"webhook subscription '{name}' {why}", permanent=True)
            method, url, timeout = "POST", sub.url, sub.timeout.total_seconds()
            body: bytes | None = encode_body(payload.get("body", {}))
            headers[EVENT_HEADER] = str(payload.get("event", ""))
            headers[SIGNATURE_HEADER] = signature(sub.secret or "", timestamp, body)
        else:
            method = str(payload.get("method") or "POST").upper()
            url, timeout = message.target, RULE_WEBHOOK_TIMEOUT
            body = None if method in ("GET", "DELETE") else encode_body(payload.get("body", {}))
            headers[EVENT_HEADER] = "rule"
            headers.update({str(k): str(v) for k, v in (payload.get("headers") or {}).items()})
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        return await self._post(method, url, headers, body, seconds=timeout)

    async def _post(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        seconds: float,
    ) -> SendResult:
        if self._session is None:
            await self.start(_no_feed)
        assert self._session is not None
        async with self._session.request(
            method,
            url,
            data=body,
            headers=dict(headers),
            timeout=aiohttp.ClientTimeout(total=seconds),
            allow_redirects=False,
        ) as response:
            status = response.status
            text = await response.text(errors="replace")
        if 200 <= status < 300:
            return SendResult.delivered(status=status)
        if status == 429:
            return SendResult.later(_seconds(response.headers.get("Retry-After")), "HTTP 429")
        if status >= 500:
            raise WebhookError(status, text)
        return SendResult.failed(f"HTTP {status}: {text[:200]}", permanent=True)


async def _no_feed(_event: Any) -> Any:  # webhooks have no inbound side
    raise RuntimeError("the webhooks adapter receives nothing")


def _seconds(value: str | None) -> float:
    """Retry-After as seconds (a number; an HTTP date or nonsense means a minute)."""
    try:
        return max(1.0, min(float(value or 60), 3600.0))
    except ValueError:
        return 60.0
