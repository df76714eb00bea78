"""SQLite writers take the write lock at BEGIN (BEGIN IMMEDIATE), so a second writer waits.

With SQLite's default deferred BEGIN, a transaction that reads and then writes while another
connection commits fails at once with "database is locked", whatever the busy timeout says. With
BEGIN IMMEDIATE the second writer waits in the busy handler at BEGIN and then runs on fresh data.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from storage.db import Database
from storage.models import InboundEvent

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
async def two_databases(
    sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[tuple[Database, Database]]:
    """Two Database objects (two processes, as far as SQLite can tell) on one file."""
    path = tmp_path / "bot.db"
    shutil.copy(sqlite_template, path)
    first, second = Database(f"sqlite+aiosqlite:///{path}"), Database(f"sqlite+aiosqlite:///{path}")
    try:
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


def _event(key: str) -> InboundEvent:
    return InboundEvent(channel="test", dedupe_key=key, received_at=NOW)


async def test_a_second_writer_waits_at_begin_and_then_sees_the_first_ones_commit(
    two_databases: tuple[Database, Database],
):
    a, b = two_databases
    loop = asyncio.get_running_loop()
    b_beginning, b_has_read = asyncio.Event(), asyncio.Event()

    @event.listens_for(b.write_engine.sync_engine, "before_cursor_execute")
    def _about_to_begin(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.upper().startswith("BEGIN"):  # B's transaction is about to start
            loop.call_soon_threadsafe(b_beginning.set)

    async def b_reads_then_writes() -> int:
        async with b.write() as session:
            seen = await session.scalar(select(func.count()).select_from(InboundEvent))
            b_has_read.set()
            session.add(_event("b"))
        assert seen is not None
        return seen

    async with a.write() as session:
        session.add(_event("a"))
        await session.flush()  # A is writing: it holds the write lock
        b_task = asyncio.create_task(b_reads_then_writes())
        await b_beginning.wait()
        # B asked to begin while A holds the lock: it must be waiting at BEGIN, not reading.
        # (A deferred BEGIN would let B read the old snapshot at once, then fail on its write.)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(b_has_read.wait(), timeout=0.3)
    # A committed: B's BEGIN IMMEDIATE gets the lock, its transaction starts after A's commit.
    assert await b_task == 1
    async with a.read() as session:
        keys = (await session.scalars(select(InboundEvent.dedupe_key))).all()
    assert sorted(keys) == ["a", "b"]


async def test_writes_begin_immediate_and_reads_begin_deferred(
    two_databases: tuple[Database, Database],
):
    db, _other = two_databases
    statements: list[str] = []
    for engine in {db.write_engine, db.read_engine}:

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(" ".join(statement.split()).upper())

    async with db.write() as session:
        session.add(_event("w"))
    written = list(statements)
    statements.clear()
    async with db.read() as session:
        await session.scalar(select(func.count()).select_from(InboundEvent))
    read = list(statements)

    begins = [i for i, s in enumerate(written) if s.startswith("BEGIN")]
    insert = next(i for i, s in enumerate(written) if s.startswith("INSERT"))
    assert [written[i] for i in begins] == ["BEGIN IMMEDIATE"]
    assert begins[0] < insert  # the lock is taken before the write, not on upgrade
    assert [s for s in read if s.startswith("BEGIN")] == ["BEGIN"]  # readers never block writers
