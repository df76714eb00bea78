"""Typed keys for what the aiohttp application carries (no string keys, no module globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.config.loader import LoadedConfig
    from bot.service.complaints import ComplaintService
    from bot.settings import Settings
    from storage.db import Database

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
CONFIG: web.AppKey[LoadedConfig] = web.AppKey("config")
DATABASE: web.AppKey[Database] = web.AppKey("database")
SERVICE: web.AppKey[ComplaintService] = web.AppKey("service")
