"""HTTP surfaces besides platform callbacks: health, metrics, REST API, playground, console."""

from __future__ import annotations

from aiohttp import web


def routes_for(app: web.Application) -> list[web.RouteTableDef]:
    """Every route table, registered explicitly at the composition root."""
    from bot.web import api, console, customer_page, digest_images, health, metrics, playground

    return [
        health.routes,
        metrics.routes,
        api.setup(app),
        playground.setup(app),
        customer_page.routes(),
        digest_images.routes,
        *console.route_tables(),
    ]
