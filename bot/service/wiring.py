"""The running service: the domain service, the inbound dispatcher and the background loops.

Built once by bot/app.py (or by a test) from settings, config, database and adapters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import ChannelAdapter
from bot.config.loader import LoadedConfig
from bot.delivery.metrics import Metrics
from bot.delivery.pacing import LocalPacer, RedisPacer
from bot.delivery.relay import OutboxRelay
from bot.delivery.reply_cache import RedisReplyCache, reply_prefix
from bot.delivery.timers import DueTimer, TimerTicker
from bot.service.clock import Clock
from bot.service.complaints import ComplaintService
from bot.service.delivery_hooks import record_delivery_outcomes
from bot.service.digests import DigestDesk
from bot.service.inbound import InboundDispatcher
from bot.service.intake import CustomerIntake
from bot.service.runtime import Runtime, build_runtime
from bot.service.sla import SlaService
from bot.service.staff_desk import StaffDesk
from bot.service.targets import TargetClock
from bot.settings import Settings
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class Service:
    rt: Runtime
    complaints: ComplaintService
    sla: SlaService
    intake: CustomerIntake
    staff: StaffDesk
    dispatcher: InboundDispatcher
    relay: OutboxRelay
    ticker: TimerTicker
    digests: DigestDesk
    adapters: Mapping[str, ChannelAdapter]
    settings: Settings
    metrics: Metrics
    playground_only: bool = False
    scheduler: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    async def fire_timer(self, session: AsyncSession, timer: DueTimer) -> None:
        await self.sla.fire(session, timer)

    async def start_background(self) -> list[asyncio.Task[Any]]:
        """Start the outbox relay loop and the ticker (APScheduler only says "tick")."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        await self.ticker.catch_up()
        self.scheduler = AsyncIOScheduler(timezone=str(self.rt.tz))
        self.ticker.schedule(self.scheduler, self.settings.tick_interval)
        self.digests.schedule(self.scheduler)
        self.scheduler.start()
        tasks = [asyncio.create_task(self.relay.run(), name="outbox-relay")]
        if self.settings.digest_catch_up:
            tasks.append(asyncio.create_task(self.digests.catch_up(), name="digest-catch-up"))
        return tasks

    async def stop_background(self, tasks: list[asyncio.Task[Any]]) -> None:
        """Graceful: stop ticking and claiming; work in hand finishes or goes back to the queue.

        Nothing is cancelled while it holds a database transaction: a connection cut off
        mid-query is closed in the background, and aiosqlite's close of such a connection can
        wait forever.
        """
        grace = self.settings.shutdown_grace
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        await self.ticker.drain(grace)
        await self.relay.stop(grace=grace)
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        await self.dispatcher.drain(grace)
        self.digests.close()


def build_service(
    settings: Settings,
    config: LoadedConfig,
    db: Database,
    adapters: Mapping[str, ChannelAdapter],
    *,
    clock: Clock,
    redis: Any = None,
    metrics: Metrics | None = None,
) -> Service:
    metrics = metrics or Metrics()
    rt = build_runtime(
        config,
        db,
        enabled_channels=list(adapters),
        clock=clock,
        public_base_url=settings.public_base_url,
        link_secret=settings.link_secret.encode(),
    )
    complaints = ComplaintService(rt)
    complaints.listeners.append(TargetClock(rt))
    sla = SlaService(complaints)
    intake = CustomerIntake(complaints, sla, idle_timeout=settings.intake_idle_timeout)
    digests = DigestDesk(rt, settings.data_dir, _chart_renderer)
    staff = StaffDesk(complaints, sla, digests)
    dispatcher = InboundDispatcher(
        rt,
        customer=intake.handle,
        staff_message=staff.message,
        staff_click=staff.click,
        passive={name: a.passive_replies for name, a in adapters.items()},
        on_outcome=metrics.record_callback,
        replies=RedisReplyCache(redis, prefix=reply_prefix(db)) if redis is not None else None,
    )
    pacer = (
        RedisPacer(redis, clock=_seconds(clock), fallback_divisor=settings.workers)
        if redis is not None
        else LocalPacer(clock=_seconds(clock))
    )
    relay = OutboxRelay(
        db, adapters, pacer, idle=settings.relay_interval, clock=clock.now, metrics=metrics
    )
    record_delivery_outcomes(relay, rt)
    ticker = TimerTicker(db, clock=clock.now, metrics=metrics)
    service = Service(
        rt=rt,
        complaints=complaints,
        sla=sla,
        intake=intake,
        staff=staff,
        dispatcher=dispatcher,
        relay=relay,
        ticker=ticker,
        digests=digests,
        adapters=adapters,
        settings=settings,
        metrics=metrics,
    )
    ticker.fire = service.fire_timer
    return service


def _chart_renderer() -> Any:
    # Imported late: the server process never loads matplotlib; the renderer's children do.
    from bot.reports import ChartRenderer

    return ChartRenderer(workers=1)


def _seconds(clock: Clock) -> Any:
    return lambda: clock.now().timestamp()
