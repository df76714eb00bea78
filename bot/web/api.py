"""The REST API at /api/v1: every endpoint table, registered explicitly, and its OpenAPI document.

`setup(app)` (called from bot/web/__init__.py) returns the routes and gives the app the chart
renderer the reports need (closed at cleanup).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import __version__
from bot.appkeys import CONFIG
from bot.web import (
    api_charts,
    api_complaints,
    api_customers,
    api_files,
    api_outbox,
    api_reports,
    api_webhooks,
)
from bot.web.api_core import Endpoint, json_response, wrap
from bot.web.api_openapi import build_document

TABLES = (
    api_complaints.table,
    api_files.table,
    api_customers.table,
    api_reports.table,
    api_webhooks.table,
    api_outbox.table,
)
# Built on first request (then kept): holder set at setup, the app's state is frozen after start.
DOCUMENT: web.AppKey[dict[str, Any]] = web.AppKey("api_openapi_document", dict)


def endpoints() -> list[Endpoint]:
    return [e for table in TABLES for e in table.endpoints]


def document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI document for this app's config (built once)."""
    holder = app[DOCUMENT]
    if "openapi" not in holder:
        holder.update(build_document(endpoints(), app[CONFIG], version=__version__))
    return holder


async def openapi(request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json (public: it holds no data)."""
    return json_response(document(request.app))


def setup(app: web.Application) -> web.RouteTableDef:
    """The API's routes for `app`."""
    api_charts.install(app)
    app[DOCUMENT] = {}
    routes = web.RouteTableDef()
    routes.get("/api/v1/openapi.json")(openapi)
    for endpoint in endpoints():
        routes.route(endpoint.method, endpoint.path)(wrap(endpoint))
    return routes
