"""Text notices to people, group chats and customers, queued in the outbox when a change ends."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.outbox import queue_message
from bot.service.runtime import Runtime
from bot.service.timeline import add_entry
from storage.models import Customer

log = logging.getLogger(__name__)


@dataclass
class _Notice:
    kind: str  # person, group, customer
    target: str
    text: str
    title: str = ""
    complaint_id: int | None = None


@dataclass
class Notices:
    """Collects notices during a change; `flush` queues them (each under its own key)."""

    rt: Runtime
    items: list[_Notice] = field(default_factory=list)

    def person(self, person_id: str, text: str, *, complaint_id: int | None = None) -> None:
        self.items.append(_Notice("person", person_id, text, complaint_id=complaint_id))

    def group(
        self, group_id: str, title: str, text: str, *, complaint_id: int | None = None
    ) -> None:
        self.items.append(_Notice("group", group_id, text, title, complaint_id))

    def customer_later(self, lc: object, text: str, *, via_note: bool = False) -> None:
        """A message to the complaint's customer (through their channel, if they have one)."""
        complaint = lc.complaint  # type: ignore[attr-defined]
        if complaint.customer_id is None:
            return
        self.items.append(
            _Notice("customer", str(complaint.customer_id), text, complaint_id=complaint.id)
        )

    async def flush(self, session: AsyncSession, lc: object | None, *, now: datetime) -> int:
        """Queue every collected notice; returns how many were queued."""
        queued = 0
        items, self.items = self.items, []
        for item in items:
            route = None
            if item.kind == "person":
                route = self.rt.routing.person(item.target)
            elif item.kind == "group":
                route = self.rt.routing.group(item.target)
            else:
                customer = await session.get(Customer, int(item.target))
                if customer is not None and customer.external_id:
                    route = self.rt.routing.customer(customer.channel, customer.external_id)
            if route is None:
                log.info(
                    "notice to %s %s not queued: no channel reaches them", item.kind, item.target
                )
                if item.complaint_id is not None:
                    add_entry(
                        session,
                        item.complaint_id,
                        at=now,
                        actor="system",
                        kind="note",
                        summary=f"通知未发出：{item.kind} {item.target} 没有可用的渠道",
                    )
                continue
            if item.kind == "group" and route.platform != "wechat_oa":
                kind, payload = "markdown", {"title": item.title or "投诉通知", "text": item.text}
            else:
                kind, payload = "text", {"text": item.text}
            await queue_message(
                session,
                key=f"notice:{uuid.uuid4().hex}",
                kind=kind,
                channel=route.channel,
                target=route.target,
                payload=payload,
                now=now,
                complaint_id=item.complaint_id,
            )
            queued += 1
        return queued
