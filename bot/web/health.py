"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.appkeys import DATABASE

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    """The process is up and serving HTTP."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready to take traffic: the database answers."""
    try:
        await request.app[DATABASE].ping()
    except Exception as exc:  # any driver error means "not ready"; say which
        log.warning("readiness check failed: %s", exc.__class__.__name__)
        return web.json_response(
            {"status": "unavailable", "database": exc.__class__.__name__}, status=503
        )
    return web.json_response({"status": "ok", "database": "ok"})
