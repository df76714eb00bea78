"""CRM: look the customer up when a complaint comes in; push the outcome back when it closes."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.channels.base import SendResult
from bot.integrations.cache import TtlCache
from bot.integrations.config import CrmConnector
from bot.integrations.desk import Desk, actor_of, write_fields
from bot.integrations.http import Answer, CallFailed, PreparedCall, perform, prepare
from bot.integrations.templating import machine_text, mapped
from storage.models import Customer

SYSTEM = "crm"
# Column sizes of storage.models.Customer: another system's long values are cut, not refused.
CUSTOMER_COLUMNS = {"name": 100, "phone": 32, "customer_no": 64}


class Crm:
    def __init__(self, config: CrmConnector, desk: Desk, http: aiohttp.ClientSession):
        self.config = config
        self.desk = desk
        self.http = http
        self.cache: TtlCache[Answer] = TtlCache(config.cache)

    async def lookup(self, number: str) -> SendResult:
        """Find the customer; a failure or timeout is noted on the timeline, never retried."""
        call = self.config.lookup
        snapshot = await self.desk.snapshot(number)
        if call is None or snapshot is None:
            return SendResult.delivered(skipped=True)
        request = prepare(call, snapshot.env)
        if request.empty:
            await self.desk.note(number, SYSTEM, "CRM 未查询：没有电话或客户编号")
            return SendResult.delivered(skipped=True)
        try:
            answer = await self.cache.fetch(
                request.cache_key(), self.desk.rt.now(), lambda: perform(self.http, request)
            )
        except CallFailed as exc:
            await self.desk.note(
                number, SYSTEM, f"CRM 查询失败：{exc.reason}", kind="integration_failed"
            )
            return SendResult.delivered(failed=exc.reason)
        found = mapped(answer.data, call.response) if answer.status != 404 else {}
        if not found:
            await self.desk.note(number, SYSTEM, "CRM 中没有找到该客户")
            return SendResult.delivered(found=False)
        await self._apply(number, found)
        return SendResult.delivered(found=True)

    async def _apply(self, number: str, found: dict[str, Any]) -> None:
        customer_values = {
            k[len("customer.") :]: v for k, v in found.items() if k.startswith("customer.")
        }
        field_values = {k: v for k, v in found.items() if not k.startswith("customer.")}
        async with self.desk.change(number, SYSTEM) as change:
            customer = await self._customer(change, customer_values)
            labels, problems = await write_fields(change, field_values, actor=actor_of(SYSTEM))
            who = (customer.name or customer.customer_no or customer.phone) if customer else None
            parts = [f"CRM 查到客户{('：' + who) if who else ''}"]
            if labels:
                parts.append(f"更新了 {'、'.join(labels)}")
            line = "，".join(parts)
            if problems:
                line += "；未写入 " + "、".join(f"{p.label}（{p.message}）" for p in problems)
            change.note("integration", line)

    async def _customer(self, change: Any, values: dict[str, Any]) -> Customer | None:
        if not values:
            return None
        complaint = change.complaint
        customer = None
        if complaint.customer_id is not None:
            customer = await change.session.get(Customer, complaint.customer_id)
        if customer is None:
            customer = Customer(
                channel=complaint.channel,
                external_id=None,
                profile={},
                created_at=change.now,
                updated_at=change.now,
            )
            change.session.add(customer)
            await change.session.flush()
            complaint.customer_id = customer.id
        profile = dict(customer.profile or {})
        for key, value in values.items():
            if key in CUSTOMER_COLUMNS:
                setattr(customer, key, machine_text(value)[: CUSTOMER_COLUMNS[key]] or None)
            else:
                profile[key] = value
        customer.profile = profile
        customer.updated_at = change.now
        return customer

    async def push(self, number: str, key: str) -> SendResult:
        """Send the outcome; transport errors raise (the relay retries), refusals fail the row.

        The outbox key goes along as Idempotency-Key, so a retried push can be recognised.
        """
        call = self.config.push
        snapshot = await self.desk.snapshot(number)
        if call is None or snapshot is None:
            return SendResult.delivered(skipped=True)
        request = prepare(call, snapshot.env, headers={"Idempotency-Key": key})
        answer = await send_or_raise(self.http, request)
        if isinstance(answer, SendResult):
            return answer
        await self.desk.note(number, SYSTEM, "处理结果已同步到 CRM")
        return SendResult.delivered()


async def send_or_raise(http: aiohttp.ClientSession, request: PreparedCall) -> Answer | SendResult:
    """For calls the relay should retry: the answer, or the SendResult that ends this attempt.

    Transport errors and 5xx raise (retried with backoff), 429 waits, other refusals and a
    404 fail the row for good.
    """
    try:
        answer = await perform(http, request)
    except CallFailed as exc:
        if exc.retry_after is not None:
            return SendResult.later(exc.retry_after, exc.reason)
        if exc.retryable:
            raise
        return SendResult.failed(exc.reason, permanent=True)
    if answer.status == 404:
        return SendResult.failed("对方找不到该地址（HTTP 404）", permanent=True)
    return answer
