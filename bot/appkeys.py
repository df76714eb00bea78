"""Typed keys for what the aiohttp application carries (no string keys, no module globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.config.loader import LoadedConfig
    from bot.delivery.metrics import Metrics
    from bot.service.wiring import Service
    from bot.settings import Settings
    from storage.db import Database

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
CONFIG: web.AppKey[LoadedConfig] = web.AppKey("config")
DATABASE: web.AppKey[Database] = web.AppKey("database")
SERVICE: web.AppKey[Service] = web.AppKey("service")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
