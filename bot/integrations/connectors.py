"""The "integrations" adapter: runs connector jobs from the outbox, after the change committed.

A slow or broken CRM/ERP therefore never delays intake or a chat reply. Lookups try once (a
failure is a timeline line: "CRM 查询失败：超时（3秒未响应）"); pushes and QMS items are retried
by the relay with backoff and noted when they finally fail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from bot.cards.model import Card
from bot.channels.base import FeedEvent, OutboundMessage, Pace, SendResult
from bot.integrations.config import Connectors
from bot.integrations.crm import Crm
from bot.integrations.desk import INTEGRATIONS_CHANNEL, Desk
from bot.integrations.erp import Erp
from bot.integrations.qms import Qms

if TYPE_CHECKING:
    from bot.service.wiring import Service

log = logging.getLogger(__name__)
USER_AGENT = "complaint-bot-connectors/1"


class ConnectorAdapter:
    """A ChannelAdapter whose `send` runs one connector job; bound to the service at start-up."""

    platform = "integrations"
    passive_replies = False

    def __init__(self, connectors: Connectors, *, name: str = INTEGRATIONS_CHANNEL):
        self.name = name
        self.connectors = connectors
        self.http: aiohttp.ClientSession | None = None
        self.crm: Crm | None = None
        self.erp: Erp | None = None
        self.qms: Qms | None = None
        self._desk: Desk | None = None

    def bind(self, service: Service) -> None:
        """Give the adapter the service it writes results through (called by attach())."""
        self._desk = Desk(service)

    def routes(self) -> Sequence[web.RouteDef]:
        return []

    async def start(self, feed: FeedEvent) -> None:
        if self.http is not None:
            return
        if self._desk is None:
            raise RuntimeError("the integrations adapter was not bound to the service")
        self.http = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        c = self.connectors
        self.crm = Crm(c.crm, self._desk, self.http) if c.crm else None
        self.erp = Erp(c.erp, self._desk, self.http) if c.erp else None
        self.qms = Qms(c.qms, self._desk, self.http) if c.qms else None

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None

    def pace(self, message: OutboundMessage) -> Pace | None:
        return None

    def render_card(self, card: Card) -> Mapping[str, Any]:
        return card.to_dict()

    async def send(self, message: OutboundMessage) -> SendResult:
        """Run the job the row names; see the module docstring for retries."""
        if self.http is None:
            await self.start(_no_feed)
        payload = dict(message.payload)
        job = str(payload.get("job", ""))
        number = str(payload.get("complaint", ""))
        if job == "crm.lookup" and self.crm is not None:
            return await self.crm.lookup(number)
        if job == "crm.push" and self.crm is not None:
            return await self.crm.push(number, message.idempotency_key)
        if job == "erp.lookup" and self.erp is not None:
            return await self.erp.lookup(number, str(payload.get("order", "")))
        if job == "qms.open" and self.qms is not None:
            return await self.qms.open(number, message.idempotency_key, payload)
        return SendResult.failed(f"connector job '{job}' is not configured", permanent=True)


async def _no_feed(_event: Any) -> Any:
    raise RuntimeError("connectors receive nothing")
