"""The staff web console: the frame every page shares, its static files, its route tables.

Pages: complaint list and complaint page (console_list.py), dashboard (console_dashboard.py),
config view and `POST /api/v1/config/validate` (console_config.py), sign-in (console_login.py).
Who may see them is decided by the guard in auth.py before any handler here runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from bot.appkeys import CONFIG
from bot.web.auth import CONSOLE_AUTH, current_user
from bot.web.jinja import render
from bot.web.static_folder import StaticFolder

STATIC = StaticFolder(
    Path(__file__).parent / "static" / "console", frozenset({".css", ".js", ".svg"})
)
NAV = (
    ("complaints", "投诉列表", "/console/complaints"),
    ("dashboard", "数据看板", "/console/dashboard"),
    ("config", "配置", "/console/config"),
)

routes = web.RouteTableDef()


def frame(request: web.Request, *, title: str, section: str) -> dict[str, Any]:
    """What base.html needs: who is signed in, their CSRF token, the navigation."""
    user = current_user(request)
    auth = request.app[CONSOLE_AUTH]
    return {
        "title": title,
        "section": section,
        "nav": NAV,
        "user": user,
        "csrf": auth.csrf_token(user),
        "organization": request.app[CONFIG].organization.name,
    }


def page(
    request: web.Request,
    template: str,
    *,
    title: str,
    section: str,
    status: int = 200,
    **context: Any,
) -> web.Response:
    """A console page: `template` (extending base.html) with the frame and `context`."""
    return render(
        template, {**frame(request, title=title, section=section), **context}, status=status
    )


def not_found(request: web.Request, message: str, *, section: str) -> web.Response:
    return page(
        request, "console_error.html", title="未找到", section=section, status=404, message=message
    )


@routes.get("/console")
@routes.get("/console/")
async def home(_request: web.Request) -> web.Response:
    """The console opens on the complaint list."""
    raise web.HTTPFound("/console/complaints")


routes.get("/console/static/{name}")(STATIC.serve)


def route_tables() -> list[web.RouteTableDef]:
    """Every console route table, for bot/web/__init__.py routes_for."""
    from bot.web import console_config, console_dashboard, console_list, console_login

    return [
        routes,
        console_login.routes,
        console_list.routes,
        console_dashboard.routes,
        console_config.routes,
    ]
