"""The storage layer on both databases: numbers, uniqueness, SQLite write locking."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from bot.service.numbers import next_complaint_number
from storage.db import Database
from storage.models import InboundEvent


async def test_complaint_numbers_count_per_day(db: Database) -> None:
    async with db.write() as session:
        first = await next_complaint_number(session, "TS", date(2026, 11, 23))
        second = await next_complaint_number(session, "TS", date(2026, 11, 23))
        other_day = await next_complaint_number(session, "TS", date(2026, 11, 24))
    assert (first, second, other_day) == ("TS20261123-0001", "TS20261123-0002", "TS20261124-0001")


async def test_concurrent_numbers_are_unique(db: Database) -> None:
    async def take() -> str:
        async with db.write() as session:
            return await next_complaint_number(session, "TS", date(2026, 11, 23))

    numbers = await asyncio.gather(*(take() for _ in range(20)))
    assert sorted(numbers) == [f"TS20261123-{n:04d}" for n in range(1, 21)]


async def test_inbound_dedupe_key_is_unique(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.write() as session:
        session.add(InboundEvent(channel="service", dedupe_key="msg:1", received_at=now))
    with pytest.raises(IntegrityError):
        async with db.write() as session:
            session.add(InboundEvent(channel="service", dedupe_key="msg:1", received_at=now))
    async with db.read() as session:
        rows = (await session.scalars(select(InboundEvent))).all()
    assert len(rows) == 1


async def test_datetimes_come_back_aware_utc(db: Database) -> None:
    stamp = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)
    async with db.write() as session:
        session.add(InboundEvent(channel="c", dedupe_key="k", received_at=stamp))
    async with db.read() as session:
        row = await session.scalar(select(InboundEvent))
    assert row is not None and row.received_at == stamp and row.received_at.tzinfo is not None


async def test_sqlite_runs_in_wal_mode_with_busy_timeout(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite pragmas")
    async with db.read() as session:
        mode = (await session.execute(text("PRAGMA journal_mode"))).scalar_one()
        timeout = (await session.execute(text("PRAGMA busy_timeout"))).scalar_one()
    assert mode == "wal" and timeout >= 5000


async def test_statements_built_once_keep_their_column_types(db: Database) -> None:
    """queue_message's prepared INSERT … ON CONFLICT (storage.db.table_text) still converts:
    an aware datetime in any zone comes back as the same UTC instant, a dict as JSON."""
    from zoneinfo import ZoneInfo

    from bot.service.outbox import queue_message
    from storage.models import OutboxMessage

    stamp = datetime(2026, 11, 23, 22, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    message = dict(kind="text", channel="c", target="user:u", payload={"text": "快递"}, now=stamp)
    async with db.write() as session:
        assert await queue_message(session, key="k1", **message)  # type: ignore[arg-type]
        assert not await queue_message(session, key="k1", **message)  # type: ignore[arg-type]
    async with db.read() as session:
        rows = (await session.scalars(select(OutboxMessage))).all()
    assert len(rows) == 1
    assert rows[0].payload == {"text": "快递"} and rows[0].status == "pending"
    assert rows[0].due_at == stamp and rows[0].due_at.tzinfo is not None
