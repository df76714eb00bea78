"""Which events start which connector jobs (an event listener on ComplaintService).

complaint.created  -> CRM lookup; ERP lookup when the order field is filled; join a QMS item
field.changed      -> ERP lookup when the order field changed; join a QMS item when the
                      threshold's group field changed
complaint.closed   -> CRM push
threshold          -> QMS item, when the configured rule fired
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.integrations.config import Connectors
from bot.integrations.desk import queue_job
from bot.integrations.qms import (
    group_key,
    group_value,
    link_on,
    matches,
    members,
    open_item_for,
    threshold_rule,
)
from bot.integrations.templating import machine_text
from bot.service.runtime import Runtime
from bot.service.views import condition_env

if TYPE_CHECKING:
    from bot.service.change import ComplaintChange


class ConnectorTriggers:
    def __init__(self, rt: Runtime, connectors: Connectors):
        self.rt = rt
        self.connectors = connectors

    def _label(self, name: str, form: Any) -> str:
        found = form.field(name)
        return found.label if found is not None else name

    async def __call__(self, change: ComplaintChange, event: str, env: Mapping[str, Any]) -> None:
        crm, erp, qms = self.connectors.crm, self.connectors.erp, self.connectors.qms
        form = change.lc.form
        if event == "complaint.created":
            if crm is not None and crm.lookup is not None:
                await queue_job(change, "crm.lookup")
            if erp is not None:
                order = machine_text(env.get(erp.field))
                if order:
                    await queue_job(change, "erp.lookup", order=order)
            if qms is not None:
                await self._join(change)
        elif event == "field.changed":
            changed = env.get("changed_field")
            if erp is not None and changed == self._label(erp.field, form):
                order = machine_text(env.get("new_value"))
                if order:
                    await queue_job(change, "erp.lookup", order=order)
            if qms is not None:
                rule = threshold_rule(self.rt, qms.rule)
                group_by = rule.threshold.group_by if rule and rule.threshold else None
                if group_by and changed == self._label(group_by, form):
                    await self._join(change)
        elif event == "complaint.closed":
            if crm is not None and crm.push is not None:
                await queue_job(change, "crm.push")
        elif event == "threshold" and qms is not None and env.get("rule") == qms.rule:
            rule = threshold_rule(self.rt, qms.rule)
            if rule is None:
                return
            current = condition_env(self.rt, change.complaint, change.lc.values, now=change.now)
            group = group_value(rule, current)
            if group is None:
                return
            await queue_job(
                change,
                "qms.open",
                count=env.get("count"),
                group=group,
                group_key=group_key(rule, group),
                complaints=await members(self.rt, change, rule),
            )

    async def _join(self, change: ComplaintChange) -> None:
        """A complaint of a group whose QMS item is open (within the window) links it too."""
        qms = self.connectors.qms
        rule = threshold_rule(self.rt, qms.rule) if qms else None
        if qms is None or rule is None or rule.threshold is None:
            return
        env = condition_env(self.rt, change.complaint, change.lc.values, now=change.now)
        group = group_value(rule, env)
        if group is None or not matches(rule, env):
            return
        key = group_key(rule, group)
        found = await open_item_for(change, key, change.now - rule.threshold.within)
        if not found:
            return
        link = found[0]
        await link_on(
            change,
            link.external_id,
            link.url,
            key,
            f"关联 QMS 质量改进项 {link.external_id}（同组投诉已在跟进）",
            field=qms.field,
        )
