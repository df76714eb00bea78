"""Every message the service sends, as the outbox holds it: what failed, and why, and a retry.

A message that failed its last retry (a WeCom card refused, a DingTalk robot silenced, a WeChat
user outside the 48 h window) is not lost: it waits here, marked failed with the platform's
reason, until an operator requeues it here or with `python -m bot outbox retry`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.delivery.outbox import requeue_failed
from bot.web.api_core import Answer, ApiCall, ApiError, ApiTable, json_response
from bot.web.api_models import OutboxPage, OutboxRowOut, dump
from bot.web.api_params import IdPath, OutboxQuery
from bot.web.api_query import decode_cursor, page_of
from storage.models import Complaint, OutboxMessage

table = ApiTable("outbox")


def _row(row: OutboxMessage, number: str | None) -> OutboxRowOut:
    return OutboxRowOut(
        id=row.id,
        channel=row.channel,
        kind=row.kind,
        target=row.target,
        complaint=number,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        due_at=row.due_at,
        sent_at=row.sent_at,
    )


@table.add(
    "GET",
    "/api/v1/outbox",
    summary="Outgoing messages, newest first (status=failed: what needs an operator)",
    scope="admin",
    query_model=OutboxQuery,
    answers=(Answer(200, "A page", OutboxPage),),
)
async def list_outbox(call: ApiCall) -> web.Response:
    q: OutboxQuery = call.query
    where = [OutboxMessage.channel == q.channel] if q.channel else []
    page, cursor = await outbox_page(call, where, status=q.status, cursor=q.cursor, limit=q.limit)
    return json_response(
        dump(OutboxPage(items=[_row(row, number) for row, number in page], next_cursor=cursor))
    )


async def outbox_page(
    call: ApiCall, where: list[Any], *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[tuple[OutboxMessage, str | None]], str | None]:
    """Outbox rows matching `where` (and `status`), newest first, each with its complaint's
    number, and the next page's cursor."""
    stmt = (
        select(OutboxMessage, Complaint.number)
        .outerjoin(Complaint, Complaint.id == OutboxMessage.complaint_id)
        .where(*where)
    )
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(OutboxMessage.id < after)
    async with call.db.read() as session:
        rows = (
            await session.execute(stmt.order_by(OutboxMessage.id.desc()).limit(limit + 1))
        ).all()
    page, next_cursor = page_of([row for row, _ in rows], limit)
    numbers = {row.id: number for row, number in rows}
    return [(row, numbers[row.id]) for row in page], next_cursor


@table.add(
    "POST",
    "/api/v1/outbox/{id}/retry",
    summary="Send a failed message again",
    scope="admin",
    path_model=IdPath,
    answers=(
        Answer(200, "The message, pending again", OutboxRowOut),
        Answer(409, "Only failed messages can be retried"),
    ),
)
async def retry_message(call: ApiCall) -> web.Response:
    row, number = await retry_failed(
        call, [], missing=f"no outbox message {call.path.id}", noun="message"
    )
    return json_response(dump(_row(row, number)))


async def retry_failed(
    call: ApiCall, where: list[Any], *, missing: str, noun: str
) -> tuple[OutboxMessage, str | None]:
    """Requeue the failed row `call.path.id` (matching `where`): 404 `missing`, 409 unless
    failed; the row as it is now, with its complaint's number."""
    async with call.db.read() as session:
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.id == call.path.id, *where)
        )
    if row is None:
        raise ApiError(404, missing)
    if row.status != "failed":
        raise ApiError(409, f"the {noun} is {row.status}; only failed ones are retried")
    await requeue_failed(call.db, [row.id], now=call.service.rt.now())
    async with call.db.read() as session:
        row = await session.get(OutboxMessage, call.path.id, populate_existing=True)
        assert row is not None
        number = (
            await session.scalar(select(Complaint.number).where(Complaint.id == row.complaint_id))
            if row.complaint_id
            else None
        )
    return row, number
