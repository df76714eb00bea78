"""The chart renderer the reports API shares: started on first use, closed with the app."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.reports import ChartRenderer

CHARTS: web.AppKey[ChartRenderer] = web.AppKey("api_chart_renderer", ChartRenderer)


def install(app: web.Application) -> None:
    """One renderer per app (children spawn on the first chart); stopped at cleanup."""
    app[CHARTS] = ChartRenderer(workers=1, max_tasks_per_child=50)

    async def close(app: web.Application) -> None:
        await asyncio.to_thread(app[CHARTS].close)

    app.on_cleanup.append(close)


def charts_of(app: web.Application) -> ChartRenderer:
    return app[CHARTS]
