"""Webhook subscriptions: each matching event becomes a signed delivery in the outbox.

The row is written in the transaction of the change that produced the event, so a delivery is
sent exactly when the change is committed, and at least once after that.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.domain.complaint import status_label
from bot.forms import dump_value, dump_values
from bot.integrations.config import WebhookSubscription
from bot.service.outbox import queue_message
from bot.service.runtime import Runtime
from bot.service.views import step_name

if TYPE_CHECKING:
    from bot.service.change import ComplaintChange
    from storage.models import Complaint

log = logging.getLogger(__name__)

WEBHOOKS_CHANNEL = "webhooks"  # the same name rule webhooks use (bot/service/rule_runner.py)
DELIVERY_PREFIX = "hook:"
# Event-specific names worth sending along (see bot/rules/catalog.py EVENT_NAMES).
EVENT_DATA = (
    "step",
    "step_id",
    "level",
    "overdue_by",
    "count",
    "rule",
    "score",
    "changed_field",
    "old_value",
    "new_value",
    "comment",
)


def delivery_prefix(subscription: str) -> str:
    """Every delivery key of one subscription starts with this (its delivery log filters on it)."""
    return f"{DELIVERY_PREFIX}{subscription}:"


def complaint_snapshot(
    rt: Runtime, complaint: Complaint, values: Mapping[str, Any]
) -> dict[str, Any]:
    """The complaint as JSON for another system: ids, Chinese labels and the form values."""
    directory = rt.config.directory
    flow = rt.config.flows.get(complaint.flow)
    form = rt.config.forms.get(complaint.form)
    return {
        "number": complaint.number,
        "status": complaint.status,
        "status_text": status_label(complaint.status),
        "type": complaint.type,
        "priority": complaint.priority,
        "channel": complaint.channel,
        "department": complaint.department,
        "department_name": directory.department_name(complaint.department) or None,
        "assignee": complaint.assignee,
        "assignee_name": directory.name_of(complaint.assignee) if complaint.assignee else None,
        "current_step": complaint.current_step,
        "step_name": step_name(flow, complaint.current_step) if flow else None,
        "created_at": complaint.created_at.isoformat(),
        "updated_at": complaint.updated_at.isoformat() if complaint.updated_at else None,
        "values": dump_values(form, values) if form else dict(complaint.values or {}),
    }


class WebhookEvents:
    """An event listener (ComplaintService.listeners): queue one delivery per subscription."""

    def __init__(self, rt: Runtime, subscriptions: Sequence[WebhookSubscription]):
        self.rt = rt
        self.by_event: dict[str, list[WebhookSubscription]] = {}
        for sub in subscriptions:
            if not sub.active:
                log.info("webhook %s is off: its secret is not set", sub.name)
                continue
            for event in sub.events:
                self.by_event.setdefault(event, []).append(sub)

    async def __call__(self, change: ComplaintChange, event: str, env: Mapping[str, Any]) -> None:
        subscriptions = self.by_event.get(event)
        if not subscriptions:
            return
        c = change.complaint
        snapshot = complaint_snapshot(self.rt, c, change.lc.values)
        data = {k: dump_value(env[k]) for k in EVENT_DATA if env.get(k) is not None}
        data["actor"] = env.get("actor") or change.actor
        for sub in subscriptions:
            key = f"{delivery_prefix(sub.name)}{uuid.uuid4().hex}"
            body = {
                "id": key,
                "event": event,
                "occurred_at": change.now.isoformat(),
                "complaint": snapshot,
                "data": data,
            }
            await queue_message(
                change.session,
                key=key,
                kind="webhook",
                channel=WEBHOOKS_CHANNEL,
                target=sub.url,
                payload={"subscription": sub.name, "event": event, "body": body},
                now=change.now,
                complaint_id=c.id,
            )
