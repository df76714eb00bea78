"""Rows for delivery tests: outbox messages, complaints and their timers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from storage.db import Database
from storage.models import Complaint, OutboxMessage, Timer


async def add_outbox(
    db: Database,
    now: datetime,
    targets: Sequence[str],
    *,
    channel: str | None = "staff",
    kind: str = "text",
    key_prefix: str = "k",
) -> list[int]:
    """One pending row per target (in order), due now; returns their ids."""
    async with db.write() as session:
        rows = [
            OutboxMessage(
                idempotency_key=f"{key_prefix}{i}",
                kind=kind,
                channel=channel,
                target=target,
                payload={"text": f"message {i}"},
                status="pending",
                attempts=0,
                due_at=now,
                created_at=now,
            )
            for i, target in enumerate(targets)
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def outbox_rows(db: Database) -> list[OutboxMessage]:
    async with db.read() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def outbox_row(db: Database, row_id: int) -> OutboxMessage:
    async with db.read() as session:
        row = await session.get(OutboxMessage, row_id)
    assert row is not None
    return row


async def add_complaint(db: Database, now: datetime, number: str = "TS20261123-0001") -> int:
    async with db.write() as session:
        complaint = Complaint(
            number=number,
            form="complaint",
            flow="complaint",
            channel="service",
            created_at=now,
            updated_at=now,
        )
        session.add(complaint)
        await session.flush()
        return complaint.id


async def add_timers(
    db: Database,
    complaint_id: int,
    due: Sequence[datetime],
    *,
    level: str = "warning",
    subject_prefix: str = "TS20261123-0001:handle",
) -> list[int]:
    async with db.write() as session:
        timers = [
            Timer(
                complaint_id=complaint_id,
                subject=f"{subject_prefix}:{i}",
                step_id="handle",
                level=level,
                due_at=at,
                status="pending",
            )
            for i, at in enumerate(due)
        ]
        session.add_all(timers)
        await session.flush()
        return [t.id for t in timers]


async def timer_rows(db: Database) -> list[Timer]:
    async with db.read() as session:
        return list((await session.scalars(select(Timer).order_by(Timer.id))).all())


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
