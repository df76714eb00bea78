"""The composition root: build the aiohttp application, its channels and its background loops.

Adapters are built here without I/O (aiohttp freezes routes at start) and connect in the
application's cleanup context, with the database, Redis, the outbox relay and the ticker.
Every platform is registered explicitly below; nothing wires itself up by being imported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot import appkeys
from bot.channels.base import AdapterBuilder, AdapterContext, ChannelAdapter
from bot.config.channels import ChannelBase
from bot.config.loader import LoadedConfig
from bot.delivery.metrics import Metrics
from bot.delivery.tokens import AccessTokenCache
from bot.service.clock import Clock, OffsetClock, SystemClock
from bot.service.config_drift import warn_stranded
from bot.settings import Settings
from storage.db import Database

log = logging.getLogger("bot")


def adapter_builders() -> dict[str, AdapterBuilder]:
    """Channel type -> builder. Adding a platform adds one line here and one folder."""
    from bot.channels import dingtalk, playground, wechat_oa, wecom

    return {
        "wechat_oa": wechat_oa.build_adapter,
        "wecom": wecom.build_adapter,
        "dingtalk": dingtalk.build_adapter,
        "playground": playground.build_adapter,
    }


@dataclass
class Channels:
    """The adapters that are on, and why each other channel is off."""

    adapters: dict[str, ChannelAdapter] = field(default_factory=dict)
    off: dict[str, str] = field(default_factory=dict)


def build_channels(
    configs: Mapping[str, ChannelBase],
    context: AdapterContext,
    builders: Mapping[str, AdapterBuilder] | None = None,
) -> Channels:
    """Build an adapter for every channel whose credentials are set; say which are off and why."""
    builders = builders if builders is not None else adapter_builders()
    out = Channels()
    for name, config in configs.items():
        platform = getattr(config, "type", "")
        missing = config.missing_credentials()
        if missing:
            out.off[name] = f"missing {', '.join(missing)}"
            log.info(
                "channel %s (%s) is off: set %s to turn it on",
                name,
                platform,
                ", ".join(config.what_to_set()),
            )
            continue
        out.adapters[name] = builders[platform](config, context)
    return out


def create_app(
    settings: Settings,
    config: LoadedConfig,
    *,
    clock: Clock | None = None,
    builders: Mapping[str, AdapterBuilder] | None = None,
    background: bool = True,
) -> web.Application:
    """The whole service as one aiohttp application (tests pass their own clock and builders)."""
    from bot.integrations import build_integrations
    from bot.service.wiring import Service, build_service
    from bot.web.auth import install_console_auth

    app = web.Application(client_max_size=25 * 1024 * 1024)
    app[appkeys.SETTINGS] = settings
    app[appkeys.CONFIG] = config
    install_console_auth(app)  # the console/playground sign-in guard (bot/web/auth.py)
    db = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
    )
    app[appkeys.DATABASE] = db
    redis = _redis(settings)
    clock = clock or (OffsetClock() if settings.playground_clock else SystemClock())
    context = AdapterContext(
        groups=config.groups,
        tokens=AccessTokenCache(redis),
        data_dir=settings.data_dir,
        public_base_url=settings.public_base_url,
        redis=redis,
        clock=clock.now,
    )
    channels = build_channels(config.channels, context, builders)
    # The playground's clock may move only when no real platform is on: with real channels on,
    # moving the service's one clock would send real reminders to real people.
    playground_only = all(a.platform == "playground" for a in channels.adapters.values())
    # Webhooks out and CRM/ERP/QMS connectors: outbox channels of their own, when configured.
    integrations = build_integrations(config, clock=clock.now)
    channels.adapters.update(integrations.adapters)
    metrics = Metrics()
    service: Service = build_service(
        settings, config, db, channels.adapters, clock=clock, redis=redis, metrics=metrics
    )
    integrations.attach(service)
    app[appkeys.SERVICE] = service
    app[appkeys.METRICS] = metrics
    service.playground_only = playground_only

    for adapter in channels.adapters.values():
        app.router.add_routes(adapter.routes())
    _add_web_routes(app)
    app.cleanup_ctx.append(_lifecycle(db, redis, channels, service, background=background))
    return app


def _add_web_routes(app: web.Application) -> None:
    from bot.web import routes_for

    for table in routes_for(app):
        app.router.add_routes(table)


def _redis(settings: Settings) -> Any:
    if not settings.redis_url:
        return None
    from redis.asyncio import Redis

    return Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)


def _lifecycle(
    db: Database, redis: Any, channels: Channels, service: Any, *, background: bool
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        for adapter in channels.adapters.values():
            await adapter.start(service.dispatcher)
        tasks: list[asyncio.Task[Any]] = []
        if background:
            tasks = await service.start_background()
        log.info(
            "serving: %d channel(s) on (%s)%s",
            len(channels.adapters),
            ", ".join(channels.adapters) or "none",
            f"; off: {', '.join(channels.off)}" if channels.off else "",
        )
        await warn_stranded(db, service.rt.config)
        try:
            yield
        finally:
            await service.stop_background(tasks)
            for adapter in channels.adapters.values():
                try:
                    await adapter.stop()
                except Exception:  # one adapter failing to close must not keep the others open
                    log.exception("stopping channel %s failed", adapter.name)
            if redis is not None:
                await redis.aclose()
            await db.dispose()

    return lifecycle
