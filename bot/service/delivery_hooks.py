"""What the service keeps from a delivery, in the transaction that records it.

WeCom answers a template-card send with a ResponseCode that can edit that card once (before
anyone clicks it); WeChat may deliver a customer message as a template message when the 48 h
customer-service window has closed, and the timeline says so. A failed message is on the
complaint's timeline too, so staff see that the customer never got it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import SendResult
from bot.delivery.relay import OutboxRelay
from bot.service.card_desk import RESPONSE_CODE_LIFETIME
from bot.service.runtime import Runtime
from bot.service.timeline import add_entry
from storage.models import CardMessage, OutboxMessage

VIA_WORDS = {"template": "模板消息", "subscribe": "订阅通知", "custom": "客服消息"}


def record_delivery_outcomes(relay: OutboxRelay, rt: Runtime) -> None:
    @relay.on_sent
    async def on_sent(session: AsyncSession, row: Any, result: SendResult) -> None:
        receipt = dict(result.receipt or {})
        if row.kind == "card" and receipt.get("response_code") and row.channel:
            ref = (row.payload.get("card") or {}).get("ref")
            record = await session.scalar(
                select(CardMessage).where(
                    CardMessage.channel == row.channel, CardMessage.card_ref == ref
                )
            )
            if record is not None and record.response_code is None:
                record.response_code = str(receipt["response_code"])
                record.response_code_expires_at = rt.now() + RESPONSE_CODE_LIFETIME
        via = receipt.get("via")
        if via and via != "custom":
            complaint_id = await session.scalar(
                select(OutboxMessage.complaint_id).where(OutboxMessage.id == row.id)
            )
            if complaint_id is not None:
                add_entry(
                    session,
                    complaint_id,
                    at=rt.now(),
                    actor="system",
                    kind="delivery",
                    summary=f"客户已超出48小时客服消息窗口，改用{VIA_WORDS.get(via, via)}发送",
                )

    @relay.on_failed
    async def on_failed(session: AsyncSession, row: Any, reason: str) -> None:
        complaint_id = await session.scalar(
            select(OutboxMessage.complaint_id).where(OutboxMessage.id == row.id)
        )
        if complaint_id is not None:
            add_entry(
                session,
                complaint_id,
                at=rt.now(),
                actor="system",
                kind="delivery",
                summary=f"消息未能送达（{row.target}）：{reason[:200]}",
            )
