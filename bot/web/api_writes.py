"""One write transaction per request, with Idempotency-Key replay for POSTs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.integrations.idempotency import MAX_KEY_LENGTH, claim_key, request_hash, store_answer
from bot.web.api_core import ApiCall, ApiError, json_response

# (status, JSON body, Location or None), computed inside the transaction.
Result = tuple[int, dict[str, Any], str | None]
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _key(call: ApiCall) -> str | None:
    key = call.request.headers.get(IDEMPOTENCY_HEADER)
    if key is None or call.request.method != "POST" or call.caller.token is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ApiError(
            400,
            f"{IDEMPOTENCY_HEADER} must be 1-{MAX_KEY_LENGTH} printable ASCII characters",
            field=IDEMPOTENCY_HEADER,
        )
    return key


async def write(
    call: ApiCall, compute: Callable[[AsyncSession], Awaitable[Result]]
) -> web.Response:
    """Run `compute` in one write transaction; a retried POST with the same key gets the first
    answer (and the header Idempotent-Replayed: true), whatever happened since."""
    key = _key(call)
    token = call.caller.token
    replayed = False
    async with call.db.write() as session:
        if key is not None and token is not None:
            fingerprint = request_hash(call.request.method, call.request.path_qs, call.raw_body)
            stored = await claim_key(session, token.id, key, fingerprint, now=call.service.rt.now())
            if stored is not None:
                if not stored.same_request:
                    raise ApiError(
                        422,
                        f"this {IDEMPOTENCY_HEADER} was used for another request",
                        field=IDEMPOTENCY_HEADER,
                    )
                status, body, location = stored.status, stored.body, stored.location
                replayed = True
        if not replayed:
            status, body, location = await compute(session)
            if key is not None and token is not None:
                await store_answer(
                    session, token.id, key, status=status, body=body, location=location
                )
    headers = {"Location": location} if location else {}
    if key is not None:
        headers[REPLAYED_HEADER] = "true" if replayed else "false"
    return json_response(body, status=status, headers=headers)
