"""One folder of a page's own files (CSS, JavaScript, images), served by name: no CDN, no build."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# A plain file name only: no folders, no dots but the suffix's, so nothing outside is reachable.
FILE_NAME = re.compile(r"^[a-z0-9_-]+(\.[a-z]+)$")


@dataclass(frozen=True)
class StaticFolder:
    """The files of one folder with the given suffixes; `cache_control` as the pages need."""

    folder: Path
    suffixes: frozenset[str]
    cache_control: str = "no-cache"

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """GET …/static/{name}: the file, or 404 for any other name."""
        name = request.match_info["name"]
        match = FILE_NAME.match(name)
        path = self.folder / name
        if match is None or match.group(1) not in self.suffixes or not path.is_file():
            raise web.HTTPNotFound(text="no such file")
        return web.FileResponse(
            path,
            headers={
                "Content-Type": CONTENT_TYPES[path.suffix],
                "Cache-Control": self.cache_control,
                "X-Content-Type-Options": "nosniff",
            },
        )
