"""ERP: check an order number and write what the ERP knows (status, product) into the form."""

from __future__ import annotations

import aiohttp

from bot.channels.base import SendResult
from bot.forms import field_names
from bot.integrations.cache import TtlCache
from bot.integrations.config import ErpConnector
from bot.integrations.desk import Desk, actor_of, write_fields
from bot.integrations.http import Answer, CallFailed, perform, prepare
from bot.integrations.templating import machine_text, mapped

SYSTEM = "erp"


class Erp:
    def __init__(self, config: ErpConnector, desk: Desk, http: aiohttp.ClientSession):
        self.config = config
        self.desk = desk
        self.http = http
        self.cache: TtlCache[Answer] = TtlCache(config.cache)

    def order_of(self, env: dict[str, object]) -> str:
        return machine_text(env.get(self.config.field))

    async def lookup(self, number: str, order: str) -> SendResult:
        """Look the order up; failures go on the timeline and the complaint carries on."""
        snapshot = await self.desk.snapshot(number)
        if snapshot is None:
            return SendResult.delivered(skipped=True)
        current = self.order_of(snapshot.env)
        if not current or current != order:
            return SendResult.delivered(skipped=True)  # changed since: a newer job asks
        request = prepare(self.config.lookup, snapshot.env)
        try:
            answer = await self.cache.fetch(
                request.cache_key(), self.desk.rt.now(), lambda: perform(self.http, request)
            )
        except CallFailed as exc:
            await self.desk.note(
                number, SYSTEM, f"ERP 查询失败：{exc.reason}", kind="integration_failed"
            )
            return SendResult.delivered(failed=exc.reason)
        if answer.status == 404:
            await self.desk.note(
                number,
                SYSTEM,
                f"ERP 中没有找到订单 {order}，请核对订单号",
                kind="integration_failed",
            )
            return SendResult.delivered(found=False)
        found = mapped(answer.data, self.config.lookup.response)
        async with self.desk.change(number, SYSTEM) as change:
            labels, problems = await write_fields(change, found, actor=actor_of(SYSTEM))
            line = f"ERP 订单 {order} 已核对"
            if labels:
                keys = field_names(change.lc.form)
                values = change.lc.values
                shown = [f"{label} {machine_text(values.get(keys[label]))}" for label in labels]
                line += "：" + "、".join(shown)
            if problems:
                line += "；未写入 " + "、".join(f"{p.label}（{p.message}）" for p in problems)
            change.note("integration", line)
            if labels and self._moves_thresholds(change, labels):
                await self.desk.complaints.rules.check_thresholds(change)
        return SendResult.delivered(found=True)

    def _moves_thresholds(self, change: object, labels: list[str]) -> bool:
        """True when a written field groups or matches a threshold rule (it may fire now)."""
        form = change.lc.form  # type: ignore[attr-defined]
        names = field_names(form)
        written = {names[label] for label in labels}
        for rule in self.desk.rt.config.rules:
            threshold = rule.threshold
            if threshold is None or not rule.enabled:
                continue
            read = {names.get(n, n) for n in (threshold.match.names if threshold.match else ())}
            if threshold.group_by in written or read & written:
                return True
        return False
