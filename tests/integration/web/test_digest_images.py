"""GET /digests/{token}: a digest chart at its signed URL; expired, forged or escaping tokens are
refused (both databases)."""

from __future__ import annotations

import time
from pathlib import Path

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from yarl import URL

from bot.service.digests import sign_image_path
from bot.service.wiring import Service
from bot.settings import Settings
from storage.models import OutboxMessage

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def _digest_image_urls(service: Service) -> list[tuple[str, Path]]:
    """Run the example's weekly digest; (signed URL path, file) of each chart it queued."""
    try:
        outcome = await service.digests.run(service.digests.config("客服周报"), "2026-W47")
    finally:
        service.digests.close()
    assert outcome.status == "queued"
    async with service.rt.db.read() as session:
        rows = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "image"))
        ).all()
    base = service.rt.public_base_url
    return [(r.payload["url"].removeprefix(base), Path(r.payload["path"])) for r in rows]


def _token_of(url: str) -> str:
    return url.removeprefix("/digests/")


async def get_raw(client: TestClient, path: str) -> ClientResponse:
    """GET `path` exactly as written: the client would otherwise resolve ".." before sending."""
    base = str(client.make_url("/")).rstrip("/")
    return await client.session.get(URL(base + path, encoded=True))


async def test_a_signed_chart_url_serves_the_png(client: TestClient, service: Service):
    images = await _digest_image_urls(service)
    assert len(images) == 4  # the example digest's four charts
    for url, path in images:
        assert url.startswith("/digests/")
        response = await client.get(url)
        assert response.status == 200
        assert response.content_type == "image/png"
        body = await response.read()
        assert body.startswith(PNG_MAGIC) and body == path.read_bytes()


async def test_expired_and_forged_tokens_are_forbidden(client: TestClient, service: Service):
    [(url, path), *_] = await _digest_image_urls(service)
    expires, mac, relative = _token_of(url).split("/", 2)
    secret = service.rt.link_secret
    past = int(time.time()) - 60
    expired = sign_image_path(secret, relative, past)
    forged_mac = f"{expires}/{'0' * len(mac)}/{relative}"
    other_secret = sign_image_path(b"not-the-secret", relative, int(expires))
    # A later expiry under the old signature: the signature covers the expiry.
    stretched = f"{int(expires) + 3600}/{mac}/{relative}"
    for token in (expired, forged_mac, other_secret, stretched):
        response = await client.get(f"/digests/{token}")
        assert response.status == 403, token
        assert await response.read() != path.read_bytes()


async def test_tokens_that_escape_the_digest_folder_are_refused(
    client: TestClient, service: Service, app_settings: Settings, tmp_path: Path
):
    secret = service.rt.link_secret
    future = int(time.time()) + 3600
    outside = tmp_path / "outside.png"
    outside.write_bytes(PNG_MAGIC + b"not a digest chart")
    digests = app_settings.data_dir / "digests"
    digests.mkdir(parents=True, exist_ok=True)
    (digests / "notes.txt").write_text("private", encoding="utf-8")
    cases = {
        # Correctly signed, but ".." climbs out of data/digests.
        sign_image_path(secret, "../../outside.png", future): 403,
        sign_image_path(secret, "a/../../../outside.png", future): 403,
        # An absolute path joined to the folder is that absolute path: not under digests/.
        sign_image_path(secret, str(outside), future): 404,
        # Signed, inside the folder, but not a chart.
        sign_image_path(secret, "notes.txt", future): 403,
        # Signed, a chart name, but no such file.
        sign_image_path(secret, "nothing/here.png", future): 404,
    }
    for token, status in cases.items():
        response = await get_raw(client, f"/digests/{token}")
        assert response.status == status, (token, response.status)
        body = await response.read()
        assert b"not a digest chart" not in body and b"private" not in body
