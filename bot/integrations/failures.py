"""A connector job that finally failed (after the relay's retries) is noted on its complaint."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.relay import OutboxRelay
from bot.integrations.desk import INTEGRATIONS_CHANNEL, JOB_TEXT, actor_of
from bot.service.runtime import Runtime
from bot.service.timeline import add_entry
from storage.models import Complaint


def note_failed_jobs(relay: OutboxRelay, rt: Runtime) -> None:
    """Register the relay hook (runs in the transaction that marks the row failed)."""

    @relay.on_failed
    async def on_failed(session: AsyncSession, row: Any, reason: str) -> None:
        if row.channel != INTEGRATIONS_CHANNEL:
            return
        payload = dict(row.payload or {})
        job = str(payload.get("job", ""))
        complaint_id = await session.scalar(
            select(Complaint.id).where(Complaint.number == str(payload.get("complaint", "")))
        )
        if complaint_id is None:
            return
        add_entry(
            session,
            complaint_id,
            at=rt.now(),
            actor=actor_of(job.partition(".")[0] or "system"),
            kind="integration_failed",
            summary=f"{JOB_TEXT.get(job, job)}失败：{reason[:200]}",
        )
