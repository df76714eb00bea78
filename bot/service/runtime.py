"""What every service function needs: the config, the clock, routing and the working calendar."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.config.loader import LoadedConfig
from bot.service.clock import Clock, SystemClock
from bot.service.routing import Routing
from storage.db import Database


class Calendar(Protocol):
    """When the SLA clock runs (bot/workflow/calendar.py: WorkingCalendar or AlwaysOpen)."""

    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...


@dataclass
class Runtime:
    """Shared, long-lived parts of the service; built once at start-up (or per test)."""

    config: LoadedConfig
    db: Database
    routing: Routing
    calendar: Calendar
    clock: Clock = field(default_factory=SystemClock)
    public_base_url: str = "http://127.0.0.1:8080"
    # Secret for signed links (customer pages, digest images); set from settings.
    link_secret: bytes = b"complaint-bot-dev-secret"

    @property
    def tz(self):  # noqa: ANN201 - ZoneInfo
        return self.config.timezone

    def now(self) -> datetime:
        return self.clock.now()


def build_runtime(
    config: LoadedConfig,
    db: Database,
    *,
    enabled_channels: Collection[str],
    clock: Clock | None = None,
    public_base_url: str = "http://127.0.0.1:8080",
    link_secret: bytes = b"complaint-bot-dev-secret",
) -> Runtime:
    """Routing over the channels that are on, and the configured (or 24x7) calendar."""
    from bot.workflow.calendar import AlwaysOpen

    routing = Routing(config.directory, config.channels, config.groups, enabled_channels)
    calendar = config.calendar or AlwaysOpen()
    return Runtime(
        config=config,
        db=db,
        routing=routing,
        calendar=calendar,
        clock=clock or SystemClock(),
        public_base_url=public_base_url.rstrip("/"),
        link_secret=link_secret,
    )
