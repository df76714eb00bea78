"""Writing messages to the outbox, in the caller's transaction (never sent from here)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage


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
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(OutboxMessage)
        .values(
            idempotency_key=key[:256],
            kind=kind,
            channel=channel,
            target=target,
            payload=dict(payload),
            complaint_id=complaint_id,
            status="pending",
            attempts=0,
            due_at=due_at or now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[OutboxMessage.idempotency_key])
        .returning(OutboxMessage.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None
