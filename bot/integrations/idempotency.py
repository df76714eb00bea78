"""Idempotency-Key on POST: the first successful answer is stored and replayed to retries.

The key row is inserted in the same transaction as the change it protects: two requests with
one key serialise on the unique (token, key) index, and the second sees the first's answer.
Keys are kept for KEY_LIFETIME; a daily job deletes older ones.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ApiIdempotencyKey

if TYPE_CHECKING:
    from bot.service.wiring import Service

log = logging.getLogger(__name__)

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: dict[str, Any]
    location: str | None
    same_request: bool


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


async def claim_key(
    session: AsyncSession, token_id: int, key: str, fingerprint: str, *, now: datetime
) -> StoredAnswer | None:
    """Take the key for this request, or return the answer stored under it.

    None: the key is ours now (store_answer before commit). A StoredAnswer: replay it when
    `same_request`, refuse otherwise.
    """
    await session.execute(
        delete(ApiIdempotencyKey).where(
            ApiIdempotencyKey.token_id == token_id,
            ApiIdempotencyKey.key == key,
            ApiIdempotencyKey.created_at < now - KEY_LIFETIME,
        )
    )
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    taken = await session.execute(
        insert(ApiIdempotencyKey)
        .values(
            token_id=token_id, key=key, request_hash=fingerprint, status=0, body={}, created_at=now
        )
        .on_conflict_do_nothing(index_elements=["token_id", "key"])
        .returning(ApiIdempotencyKey.id)
    )
    if taken.scalar_one_or_none() is not None:
        return None
    row = await session.scalar(
        select(ApiIdempotencyKey)
        .where(ApiIdempotencyKey.token_id == token_id, ApiIdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return StoredAnswer(
        row.status, dict(row.body or {}), row.location, row.request_hash == fingerprint
    )


async def store_answer(
    session: AsyncSession,
    token_id: int,
    key: str,
    *,
    status: int,
    body: dict[str, Any],
    location: str | None,
) -> None:
    row = await session.scalar(
        select(ApiIdempotencyKey).where(
            ApiIdempotencyKey.token_id == token_id, ApiIdempotencyKey.key == key
        )
    )
    if row is not None:
        row.status, row.body, row.location = status, body, location


async def delete_expired(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(
        delete(ApiIdempotencyKey).where(ApiIdempotencyKey.created_at < now - KEY_LIFETIME)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def schedule_cleanup(service: Service) -> None:
    """A daily job on the service's scheduler that deletes expired keys."""

    async def cleanup() -> None:
        try:
            async with service.rt.db.write() as session:
                removed = await delete_expired(session, now=service.rt.now())
        except Exception:  # the next day tries again
            log.exception("deleting expired idempotency keys failed")
            return
        if removed:
            log.info("deleted %d expired idempotency key(s)", removed)

    def add(scheduler: Any) -> None:
        scheduler.add_job(
            cleanup, "interval", hours=24, id="api-idempotency-cleanup", replace_existing=True
        )

    service.extras.setdefault("scheduled", []).append(add)
