"""The playground page: a customer's WeChat chat beside the employees' WeCom/DingTalk inboxes.

`setup(app)` returns the route table (registered in bot/web/__init__.py) and ends the live
streams when the app shuts down, so open pages never hold up a restart. The endpoints are in
playground_chat.py (what people do), playground_live.py (events, clock) and playground_view.py
(what the page is told).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.appkeys import SETTINGS
from bot.web import playground_chat, playground_live
from bot.web.jinja import render
from bot.web.playground_view import adapter_of, boot_data, require_adapter
from bot.web.static_folder import StaticFolder

STATIC = StaticFolder(
    Path(__file__).parent / "static" / "playground", frozenset({".css", ".js", ".svg"})
)
UPLOAD_TYPES = {"png": "image/png", "jpg": "image/jpeg"}
IMAGE_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
# The shared page headers (bot/web/jinja.py), plus blob: images: the preview of a photo being sent.
PAGE_CSP = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


async def page(request: web.Request) -> web.Response:
    """GET /playground: the whole product on one page."""
    on = adapter_of(request.app) is not None
    context = {"on": on, "boot": boot_data(request.app) if on else {}}
    return render("playground.html", context, status=200 if on else 404, headers=PAGE_CSP)


async def state(request: web.Request) -> web.Response:
    """GET /playground/api/state: the directory, groups, clock and presets the page starts from."""
    require_adapter(request)
    return web.json_response(boot_data(request.app), headers={"Cache-Control": "no-store"})


async def upload(request: web.Request) -> web.StreamResponse:
    """An image a playground customer sent (names are random, made by the upload handler)."""
    name, ext = request.match_info["name"], request.match_info["ext"]
    path = request.app[SETTINGS].data_dir / playground_chat.UPLOADS / f"{name}.{ext}"
    if not path.is_file():
        raise web.HTTPNotFound(text="no such image")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": UPLOAD_TYPES[ext],
            "Cache-Control": "private, max-age=86400",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def delivered_image(request: web.Request) -> web.StreamResponse:
    """The picture of an image delivery (a digest chart) still in a playground inbox."""
    adapter = require_adapter(request)
    seq = int(request.match_info["seq"])
    delivery = next((d for inbox in adapter.inboxes.values() for d in inbox if d.seq == seq), None)
    if delivery is None or delivery.kind != "image" or not delivery.payload.get("path"):
        raise web.HTTPNotFound(text="no such image")
    path = _inside(request.app[SETTINGS].data_dir, str(delivery.payload["path"]))
    if path is None or path.suffix not in IMAGE_SUFFIXES:
        raise web.HTTPNotFound(text="no such image")
    return web.FileResponse(
        path,
        headers={"Content-Type": IMAGE_SUFFIXES[path.suffix], "Cache-Control": "private"},
    )


def _inside(data_dir: Path, written: str) -> Path | None:
    """The file a delivery names, if it is inside the data folder.

    The service writes data_dir/...: an absolute path, or one relative to the working directory
    (like a relative DATA_DIR), or relative to the data folder itself.
    """
    root = data_dir.resolve()
    raw = Path(written)
    for candidate in (raw.resolve(), (root / raw).resolve()):
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
    return None


async def _end_streams(app: web.Application) -> None:
    adapter = adapter_of(app)
    if adapter is not None:
        adapter.end_streams()


def setup(app: web.Application) -> web.RouteTableDef:
    """The playground's routes; live streams end when `app` shuts down."""
    app.on_shutdown.append(_end_streams)
    routes = web.RouteTableDef()
    routes.get("/playground")(page)
    routes.get("/playground/static/{name}")(STATIC.serve)
    routes.get(r"/playground/uploads/{name:[0-9a-f]{32}}.{ext:png|jpg}")(upload)
    routes.get(r"/playground/api/deliveries/{seq:\d{1,12}}/image")(delivered_image)
    routes.get("/playground/api/state")(state)
    routes.get("/playground/api/events")(playground_live.events)
    routes.get("/playground/api/clock")(playground_live.clock_get)
    routes.post("/playground/api/clock")(playground_live.clock_advance)
    routes.post("/playground/api/customer/messages")(playground_chat.customer_message)
    routes.post("/playground/api/customer/images")(playground_chat.customer_image)
    routes.post("/playground/api/people/{person}/messages")(playground_chat.staff_message)
    routes.post("/playground/api/people/{person}/clicks")(playground_chat.staff_click)
    return routes
