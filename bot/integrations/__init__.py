"""Integrations: webhooks out, CRM/ERP/QMS connectors and API tokens.

Wired at the composition root (bot/app.py) in two explicit steps:
    integrations = build_integrations(config, clock=...)   # adapters, before the service
    channels.adapters.update(integrations.adapters)
    ...
    integrations.attach(service)                          # listeners and hooks, after it
Nothing here wires itself up on import (importing this package imports nothing heavy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.channels.base import ChannelAdapter
    from bot.config.loader import LoadedConfig
    from bot.service.wiring import Service


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Integrations:
    """The adapters a config needs ("webhooks", "integrations") and what to attach later."""

    config: LoadedConfig
    adapters: dict[str, ChannelAdapter] = field(default_factory=dict)

    def attach(self, service: Service) -> None:
        """Listen to the service's events and record failed connector jobs on the timeline."""
        from bot.integrations.connectors import ConnectorAdapter
        from bot.integrations.events import WebhookEvents
        from bot.integrations.failures import note_failed_jobs
        from bot.integrations.idempotency import schedule_cleanup
        from bot.integrations.triggers import ConnectorTriggers

        if self.config.webhooks:
            service.complaints.listeners.append(WebhookEvents(service.rt, self.config.webhooks))
        connectors = self.adapters.get("integrations")
        if isinstance(connectors, ConnectorAdapter):
            connectors.bind(service)
            service.complaints.listeners.append(
                ConnectorTriggers(service.rt, self.config.connectors)
            )
            note_failed_jobs(service.relay, service.rt)
        schedule_cleanup(service)


def needs_webhooks(config: LoadedConfig) -> bool:
    """Subscriptions, or a rule that calls a webhook."""
    from bot.rules import CallWebhookAction

    return bool(config.webhooks) or any(
        isinstance(action, CallWebhookAction) for rule in config.rules for action in rule.actions
    )


def build_integrations(
    config: LoadedConfig, *, clock: Callable[[], datetime] = _utc_now
) -> Integrations:
    """The adapters this config needs, built without I/O (they connect in `start`)."""
    from bot.integrations.connectors import ConnectorAdapter
    from bot.integrations.webhooks import WebhookAdapter

    out = Integrations(config)
    if needs_webhooks(config):
        out.adapters["webhooks"] = WebhookAdapter(config.webhooks, clock=clock)
    if config.connectors.any:
        out.adapters["integrations"] = ConnectorAdapter(config.connectors)
    return out


__all__ = ["Integrations", "build_integrations", "needs_webhooks"]
