"""Writing messages to the outbox, in the caller's transaction (never sent from here)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import table_text
from storage.models import OutboxMessage

# One statement for every message, compiled once per dialect (see storage.db.table_text).
_QUEUE = table_text(
    "INSERT INTO outbox (idempotency_key, kind, channel, target, payload, complaint_id, "
    "status, attempts, due_at, created_at) "
    "VALUES (:idempotency_key, :kind, :channel, :target, :payload, :complaint_id, "
    ":status, :attempts, :due_at, :created_at) "
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    OutboxMessage.__table__,
)


async def queue_message(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    channel: str | None,
    target: str,
    payload: Mapping[str, Any],
    now: datetime,
    complaint_id: int | None = None,
    due_at: datetime | None = None,
) -> bool:
    """Queue one message under an idempotency key; False when that key was already queued.

    The unique key is what makes a replayed decision (a platform retry that slipped past the
    inbound dedupe, a timer fired twice by a race) send nothing the second time.
    """
    # The ORM insert this statement replaced flushed the session first; callers rely on it (a
    # card's record has its id once its message is queued), so it still does.
    await session.flush()
    params = {
        "idempotency_key": key[:256],
        "kind": kind,
        "channel": channel,
        "target": target,
        "payload": dict(payload),
        "complaint_id": complaint_id,
        "status": "pending",
        "attempts": 0,
        "due_at": due_at or now,
        "created_at": now,
    }
    return (await session.execute(_QUEUE, params)).scalar_one_or_none() is not None
