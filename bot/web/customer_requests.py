"""What the customer's pages share: signed-link checks, CSRF, capped POSTs, uploads, refusals.

Every POST carries a per-page CSRF token: HMAC(secret, cookie nonce | link token | form id),
where the nonce lives in an HttpOnly SameSite cookie set by the GET, so another site cannot post
on the customer's behalf. The form id also makes a double-tapped button count once: it is
recorded in inbound_events (the same dedupe the platform callbacks use), in the transaction of
the change. Uploaded files are recognised by their first bytes, capped while they stream in,
and written under the data directory.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.appkeys import SERVICE, SETTINGS
from bot.service.customer_links import PAGE_PREFIX, LinkClaims, LinkRefused, Purpose, read_token
from bot.service.wiring import Service
from bot.web.jinja import PAGE_HEADERS, render
from bot.web.static_folder import StaticFolder
from storage.models import Attachment, Customer
from storage.models import InboundEvent as InboundRecord

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HERE = Path(__file__).parent
# The pages' own stylesheet, script and cover picture; they change only with a release.
STATIC = StaticFolder(
    HERE / "static" / "customer", frozenset({".css", ".js", ".png"}), "public, max-age=3600"
)
COOKIE = "cb_csrf"
NONCE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
FORM_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# POSTs from these pages are recorded under this channel, once per form id.
PAGE_CHANNEL = "customer-page"
UPLOAD_DIR = "customer-uploads"
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 9
MAX_FIELD_BYTES = 64 * 1024
MAX_TEXT = 1000
# The page's links carry the token: never send it on to another site in a Referer.
HEADERS = {**PAGE_HEADERS, "Referrer-Policy": "no-referrer"}
_MAGIC = (
    (b"\xff\xd8\xff", "image", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image", "image/png", "png"),
    (b"GIF87a", "image", "image/gif", "gif"),
    (b"GIF89a", "image", "image/gif", "gif"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"hevc")


def service_of(request: web.Request) -> Service:
    return request.app[SERVICE]


def refused_page(status: int = 403, message: str = "", title: str = "") -> web.Response:
    """The Chinese page for a link that is not (or no longer) good, or a post we refuse."""
    titles = {403: "链接无效或已过期", 413: "文件太大"}
    return render(
        "customer_error.html",
        {
            "title": title or titles.get(status, "出错了"),
            "message": message or "请回到公众号，回复“进度”获取新的链接。",
        },
        status=status,
        headers=HEADERS,
    )


class Refused(Exception):
    """A request we turn away; `response` is the Chinese page that says why."""

    def __init__(self, response: web.Response):
        self.response = response


def guarded(handler: Handler) -> Handler:
    """`handler`, answering a Refused with its page."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refused as exc:
            return exc.response

    return run


def claims_of(request: web.Request, token: str, purpose: Purpose) -> LinkClaims:
    """The token's claims; Refused with the Chinese 403 page when forged, altered or expired."""
    rt = service_of(request).rt
    try:
        return read_token(rt.link_secret, token, purpose=purpose, now=rt.now())
    except LinkRefused as exc:
        log.info("customer link refused: %s", exc.reason)
        raise Refused(refused_page(403)) from None


@dataclass(frozen=True)
class PageGuard:
    """The per-page CSRF token and form id, and the cookie nonce they are bound to."""

    nonce: str
    form_id: str
    csrf: str
    new_cookie: bool


def _csrf(secret: bytes, nonce: str, token: str, form_id: str) -> str:
    mac = hmac.new(secret, f"csrf|{nonce}|{token}|{form_id}".encode(), hashlib.sha256)
    return mac.hexdigest()


def guard_for(request: web.Request, token: str) -> PageGuard:
    """A fresh form id and its CSRF token for a page about to be rendered."""
    nonce = request.cookies.get(COOKIE, "")
    new = not NONCE.match(nonce)
    if new:
        nonce = secrets.token_urlsafe(24)
    form_id = secrets.token_urlsafe(16)
    secret = service_of(request).rt.link_secret
    return PageGuard(nonce, form_id, _csrf(secret, nonce, token, form_id), new)


def page_response(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    guard: PageGuard,
    *,
    status: int = 200,
) -> web.Response:
    """Render `template` with the guard's fields; set the nonce cookie when it is new."""
    response = render(template, {**context, "guard": guard}, status=status, headers=HEADERS)
    if guard.new_cookie:
        response.set_cookie(
            COOKIE,
            guard.nonce,
            path=PAGE_PREFIX + "/",
            httponly=True,
            samesite="Lax",
            secure=request.scheme == "https" or None,
            max_age=30 * 86400,
        )
    return response


@dataclass
class Upload:
    """A file the customer sent, sniffed by its first bytes (the browser's type is not trusted)."""

    filename: str
    kind: str  # image | video
    content_type: str
    extension: str
    data: bytes


@dataclass
class Posted:
    """A checked POST: its fields (name -> values), files and form id."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[Upload]] = field(default_factory=dict)
    form_id: str = ""
    rejected: list[str] = field(default_factory=list)  # file names we could not take

    def text(self, name: str) -> str:
        values = self.fields.get(name) or [""]
        return values[0].strip()


def sniff(data: bytes) -> tuple[str, str, str] | None:
    """(kind, content type, extension) of an image or video, from its first bytes."""
    for magic, kind, content_type, ext in _MAGIC:
        if data.startswith(magic):
            return kind, content_type, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image", "image/webp", "webp"
    if data[4:8] == b"ftyp":
        if data[8:12] in _HEIF_BRANDS:
            return "image", "image/heic", "heic"
        return "video", "video/mp4", "mp4"
    return None


async def read_post(request: web.Request, token: str) -> Posted:
    """Read a page's POST (urlencoded or multipart, capped) and check its CSRF token."""
    posted = Posted()
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or not part.name:
                continue
            if part.filename is not None:
                await _read_file(part, posted)
            else:
                raw = await _read_capped(part, MAX_FIELD_BYTES)
                posted.fields.setdefault(part.name, []).append(raw.decode("utf-8", "replace"))
    else:
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, str):
                posted.fields.setdefault(name, []).append(value)
    nonce = request.cookies.get(COOKIE, "")
    form_id = posted.text("form_id")
    sent = posted.text("csrf")
    secret = service_of(request).rt.link_secret
    if not (
        NONCE.match(nonce)
        and FORM_ID.match(form_id)
        and hmac.compare_digest(sent.encode(), _csrf(secret, nonce, token, form_id).encode())
    ):
        log.info("customer page POST refused: CSRF token missing or wrong")
        raise Refused(refused_page(403, "页面已过期，请返回上一页刷新后重试。"))
    posted.form_id = form_id
    return posted


async def _read_capped(part: BodyPartReader, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise Refused(
                refused_page(413, f"单个文件请不要超过 {limit // 1024 // 1024 or 1} MB。")
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_file(part: BodyPartReader, posted: Posted) -> None:
    data = await _read_capped(part, MAX_FILE_BYTES)
    if not data:  # a file input left empty
        return
    name = (part.filename or "文件")[:100]
    found = sniff(data)
    count = sum(len(v) for v in posted.files.values())
    if found is None or count >= MAX_FILES:
        posted.rejected.append(name)
        return
    kind, content_type, ext = found
    posted.files.setdefault(part.name or "", []).append(Upload(name, kind, content_type, ext, data))


async def claim_post(session: AsyncSession, key: str, now: datetime) -> bool:
    """Record this form submission once; False when the same form was already submitted."""
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(InboundRecord)
        .values(channel=PAGE_CHANNEL, dedupe_key=key[:256], received_at=now)
        .on_conflict_do_nothing(index_elements=["channel", "dedupe_key"])
        .returning(InboundRecord.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def take_turn(session: AsyncSession, service: Service, claims: LinkClaims) -> None:
    """Wait for the customer's chat messages in flight (one lock order with the chat path)."""
    customer = await session.get(Customer, claims.customer_id)
    if customer is not None:
        await service.intake.take_turn(session, customer.channel, customer.external_id or "")


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def store_uploads(
    request: web.Request, uploads: list[Upload]
) -> list[tuple[Upload, str, str]]:
    """Write the files under the data directory: (upload, relative path, sha256) each."""
    root = request.app[SETTINGS].data_dir
    stored = []
    for upload in uploads:
        relative = f"{UPLOAD_DIR}/{uuid.uuid4().hex}.{upload.extension}"
        await asyncio.to_thread(_write_file, root / relative, upload.data)
        stored.append((upload, relative, hashlib.sha256(upload.data).hexdigest()))
    return stored


async def discard_uploads(request: web.Request, stored: list[tuple[Upload, str, str]]) -> None:
    """Remove files written for a change that was not committed."""
    root = request.app[SETTINGS].data_dir
    for _upload, relative, _digest in stored:
        await asyncio.to_thread((root / relative).unlink, True)


def attachment_rows(
    stored: list[tuple[Upload, str, str]],
    *,
    channel: str,
    complaint_id: int | None,
    now: datetime,
) -> list[Attachment]:
    return [
        Attachment(
            complaint_id=complaint_id,
            channel=channel,
            kind=upload.kind,
            file_path=relative,
            content_type=upload.content_type,
            size=len(upload.data),
            sha256=digest,
            meta={"source": "page", "name": upload.filename},
            created_at=now,
        )
        for upload, relative, digest in stored
    ]
