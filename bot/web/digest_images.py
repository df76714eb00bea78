"""Digest chart images at signed, expiring URLs (DingTalk markdown shows images by URL only)."""

from __future__ import annotations

import time

from aiohttp import web

from bot.appkeys import SERVICE, SETTINGS
from bot.service.digests import verify_image_path

routes = web.RouteTableDef()


@routes.get("/digests/{token:.+}")
async def digest_image(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    relative = verify_image_path(service.rt.link_secret, request.match_info["token"], time.time())
    if relative is None or not relative.endswith(".png"):
        raise web.HTTPForbidden(text="链接无效或已过期")
    root = (request.app[SETTINGS].data_dir / "digests").resolve()
    path = (root / relative).resolve()
    if root not in path.parents or not path.is_file():
        raise web.HTTPNotFound(text="图片不存在")
    response = web.FileResponse(path, headers={"Cache-Control": "private, max-age=86400"})
    response.content_type = "image/png"
    return response
