"""Attachments over the API: upload a file to a complaint, list them, download one.

Files are stored under DATA_DIR/attachments/<sha256[:2]>/<sha256> (content-addressed, so an
upload retried after a timeout stores the bytes once); the row keeps name, type and size.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from bot.appkeys import SETTINGS
from bot.service.timeline import add_entry
from bot.web.api_core import Answer, ApiCall, ApiError, ApiTable, json_response
from bot.web.api_models import AttachmentList, AttachmentOut, dump
from bot.web.api_params import AttachmentQuery, ComplaintPath, IdPath
from bot.web.api_views import attachment_out, attachments_of, find_complaint
from bot.web.api_writes import Result, write
from storage.models import Attachment

table = ApiTable("attachments")
MAX_UPLOAD = 20 * 1024 * 1024
KINDS = {"image": "image", "video": "video", "audio": "voice"}


def _kind(content_type: str) -> str:
    return KINDS.get(content_type.partition("/")[0], "file")


def _safe_name(name: str) -> str:
    """The file's own name without folders or control characters (for Content-Disposition)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"')
    return cleaned.strip()[:200] or "file"


def _store(target: Path, raw: bytes) -> None:
    """Write once (the name is the content's hash), atomically."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(raw)
    partial.replace(target)


def _stored(data_dir: Path, relative: str) -> Path | None:
    """The file under the data directory, or None (missing, or pointing outside it)."""
    path = (data_dir / relative).resolve()
    if data_dir.resolve() not in path.parents or not path.is_file():
        return None
    return path


@table.add(
    "GET",
    "/api/v1/complaints/{number}/attachments",
    summary="A complaint's files",
    scope="read",
    path_model=ComplaintPath,
    answers=(Answer(200, "Attachments", AttachmentList),),
)
async def list_attachments(call: ApiCall) -> web.Response:
    async with call.db.read() as session:
        complaint = await find_complaint(session, call.path.number)
        if complaint is None:
            raise ApiError(404, f"no complaint {call.path.number}")
        items = await attachments_of(session, complaint.id)
    return json_response(dump(AttachmentList(items=items)))


@table.add(
    "POST",
    "/api/v1/complaints/{number}/attachments",
    summary="Upload a file (the raw bytes; name in ?filename=)",
    scope="write",
    path_model=ComplaintPath,
    query_model=AttachmentQuery,
    body_media="application/octet-stream",
    idempotent=True,
    answers=(Answer(201, "Stored", AttachmentOut),),
)
async def upload_attachment(call: ApiCall) -> web.Response:
    filename = _safe_name(call.query.filename)
    raw = await call.request.read()
    if not raw:
        raise ApiError(422, "the file is empty", field="body")
    if len(raw) > MAX_UPLOAD:
        raise ApiError(413, f"files are limited to {MAX_UPLOAD // (1024 * 1024)} MiB")
    call.raw_body = raw
    declared = call.request.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if not declared or declared == "application/octet-stream":
        declared = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    content_type = (
        declared[:128]
        if declared.isascii() and declared.isprintable()
        else "application/octet-stream"
    )
    digest = hashlib.sha256(raw).hexdigest()
    relative = Path("attachments") / digest[:2] / digest
    data_dir: Path = call.request.app[SETTINGS].data_dir
    service = call.service

    async def compute(session) -> Result:  # type: ignore[no-untyped-def]
        complaint = await find_complaint(session, call.path.number)
        if complaint is None:
            raise ApiError(404, f"no complaint {call.path.number}")
        await asyncio.to_thread(_store, data_dir / relative, raw)
        now = service.rt.now()
        row = Attachment(
            complaint_id=complaint.id,
            channel=call.caller.name,
            media_id=None,
            kind=_kind(content_type),
            file_path=str(relative),
            content_type=content_type,
            size=len(raw),
            sha256=digest,
            meta={"filename": filename},
            created_at=now,
        )
        session.add(row)
        await session.flush()
        add_entry(
            session,
            complaint.id,
            at=now,
            actor=call.caller.actor,
            kind="attachment",
            summary=f"上传了附件 {filename}",
        )
        return 201, dump(attachment_out(row)), f"/api/v1/attachments/{row.id}"

    return await write(call, compute)


@table.add(
    "GET",
    "/api/v1/attachments/{id}",
    summary="Download a file",
    scope="read",
    path_model=IdPath,
    answers=(Answer(200, "The file", media_type="*/*"),),
)
async def download_attachment(call: ApiCall) -> web.StreamResponse:
    async with call.db.read() as session:
        row = await session.get(Attachment, call.path.id)
    if row is None:
        raise ApiError(404, f"no attachment {call.path.id}")
    if not row.file_path:
        raise ApiError(404, "the file has not been fetched from the platform yet")
    data_dir: Path = call.request.app[SETTINGS].data_dir
    path = await asyncio.to_thread(_stored, data_dir, row.file_path)
    if path is None:
        raise ApiError(404, "the file is missing on this server")
    name = _safe_name((row.meta or {}).get("filename") or f"attachment-{row.id}")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": row.content_type or "application/octet-stream",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "X-Content-Type-Options": "nosniff",
        },
    )
