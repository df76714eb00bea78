"""QMS: a threshold rule that fires opens a quality item; every complaint of the group links it.

The item is opened once per firing (the rule fires when the count reaches N, not again after);
complaints of the same group that arrive within the rule's window join the open item.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from sqlalchemy import select

from bot.channels.base import SendResult
from bot.errors import ExpressionError
from bot.expr import duration_in_chinese
from bot.integrations.config import QmsConnector
from bot.integrations.crm import send_or_raise
from bot.integrations.desk import Desk, actor_of, write_fields
from bot.integrations.http import prepare
from bot.integrations.templating import machine_text, mapped
from bot.rules import CompiledRule
from bot.service.runtime import Runtime
from bot.service.views import condition_env, typed_values
from storage.models import Complaint, ComplaintLink

if TYPE_CHECKING:
    from bot.service.change import ComplaintChange

SYSTEM = "qms"


def threshold_rule(rt: Runtime, name: str) -> CompiledRule | None:
    return next((r for r in rt.config.rules if r.name == name and r.threshold), None)


def group_value(rule: CompiledRule, env: dict[str, Any]) -> str | None:
    """The value the rule groups by for this complaint ("" and None: no group)."""
    assert rule.threshold is not None
    if rule.threshold.group_by is None:
        return "*"
    value = machine_text(env.get(rule.threshold.group_by))
    return value or None


def matches(rule: CompiledRule, env: dict[str, Any]) -> bool:
    assert rule.threshold is not None
    if rule.threshold.match is None:
        return True
    try:
        return rule.threshold.match.is_true(env)
    except ExpressionError:
        return False


def group_key(rule: CompiledRule, value: str) -> str:
    return f"{rule.name}:{value}"[:256]


async def members(rt: Runtime, change: ComplaintChange, rule: CompiledRule) -> list[str]:
    """Numbers of the complaints the rule counted for this one (same group, in the window)."""
    assert rule.threshold is not None
    c = change.complaint
    env = condition_env(rt, c, change.lc.values, now=change.now)
    group = group_value(rule, env)
    rows = (
        await change.session.scalars(
            select(Complaint)
            .where(Complaint.created_at >= c.created_at - rule.threshold.within)
            .where(Complaint.created_at <= c.created_at, Complaint.id != c.id)
            .order_by(Complaint.created_at, Complaint.id)
        )
    ).all()
    out = []
    for row in rows:
        form = rt.config.forms.get(row.form)
        if form is None:
            continue
        other = condition_env(rt, row, typed_values(form, row), now=change.now)
        if group_value(rule, other) == group and matches(rule, other):
            out.append(row.number)
    return [*out, c.number]


class Qms:
    def __init__(self, config: QmsConnector, desk: Desk, http: aiohttp.ClientSession):
        self.config = config
        self.desk = desk
        self.http = http

    async def open(self, number: str, key: str, data: dict[str, Any]) -> SendResult:
        """Open the item (retried with backoff until the QMS answers), then link it everywhere."""
        numbers: list[str] = list(data.get("complaints") or [number])
        snapshot = await self.desk.snapshot(
            number,
            count=data.get("count"),
            rule=self.config.rule,
            group=data.get("group"),
            complaints=numbers,
        )
        if snapshot is None:
            return SendResult.delivered(skipped=True)
        request = prepare(self.config.open, snapshot.env, headers={"Idempotency-Key": key})
        answer = await send_or_raise(self.http, request)
        if isinstance(answer, SendResult):
            return answer
        found = mapped(answer.data, self.config.open.response)
        item = machine_text(found.get("item_id"))[:128]
        if not item:
            return SendResult.failed("QMS 的答复里没有质量改进项编号", permanent=True)
        url = machine_text(found.get("item_url"))[:1024] or None
        within = _within(self.desk.rt, self.config.rule)
        summary = (
            f"已在 QMS 创建质量改进项 {item}（规则「{self.config.rule}」："
            f"{within}内 {data.get('count')} 起）"
        )
        for member in numbers:
            await self.link(member, item, url, str(data.get("group_key") or ""), summary)
        return SendResult.delivered(item_id=item)

    async def link(self, number: str, item: str, url: str | None, key: str, summary: str) -> None:
        """Link the item to one complaint (once), with a timeline line and the optional field."""
        async with self.desk.change(number, SYSTEM) as change:
            await link_on(change, item, url, key, summary, field=self.config.field)


async def link_on(
    change: ComplaintChange,
    item: str,
    url: str | None,
    key: str,
    summary: str,
    *,
    field: str | None,
) -> bool:
    """Inside a change: add the link row, the timeline line and the field; False if linked."""
    exists = await change.session.scalar(
        select(ComplaintLink.id).where(
            ComplaintLink.complaint_id == change.complaint.id,
            ComplaintLink.system == SYSTEM,
            ComplaintLink.external_id == item,
        )
    )
    if exists is not None:
        return False
    change.session.add(
        ComplaintLink(
            complaint_id=change.complaint.id,
            system=SYSTEM,
            external_id=item,
            url=url,
            group_key=key or None,
            data={},
            created_at=change.now,
        )
    )
    change.note("qms", summary, actor=actor_of(SYSTEM), item=item)
    if field:
        await write_fields(change, {field: item}, actor=actor_of(SYSTEM))
    return True


async def open_item_for(
    change: ComplaintChange, key: str, since: datetime
) -> Sequence[ComplaintLink]:
    """Links of the group's item opened since `since` (newest first)."""
    return (
        await change.session.scalars(
            select(ComplaintLink)
            .where(ComplaintLink.system == SYSTEM, ComplaintLink.group_key == key)
            .where(ComplaintLink.created_at >= since)
            .order_by(ComplaintLink.created_at.desc(), ComplaintLink.id.desc())
            .limit(1)
        )
    ).all()


def _within(rt: Runtime, rule_name: str) -> str:
    rule = threshold_rule(rt, rule_name)
    return duration_in_chinese(rule.threshold.within) if rule and rule.threshold else ""
