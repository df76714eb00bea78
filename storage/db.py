"""Engine and session setup for SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, TextClause, bindparam, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Seconds a PostgreSQL session waits for a pooled connection before giving up. WeChat abandons a
# callback after 5 s, so a burst beyond capacity should fail fast and let the platform retry.
DEFAULT_POOL_TIMEOUT = 3.5


def table_text(sql: str, table: Table) -> TextClause:
    """`sql` with each :name bound with the type of `table`'s column of that name.

    For the statements SQLAlchemy would compile on every call (the dialects' INSERT … ON
    CONFLICT constructs have no cache key): a text() is compiled once and cached, and the typed
    bind parameters keep the columns' conversions (aware UTC datetimes, JSON documents).
    """
    clause = text(sql)
    names = [name for name in clause._bindparams if name in table.c]
    return clause.bindparams(*(bindparam(name, type_=table.c[name].type) for name in names))


def _json_text(value: Any) -> str:
    """JSON with Chinese kept as is, so a text search over stored values finds 快递 on SQLite."""
    return json.dumps(value, ensure_ascii=False)


def _prepare_sqlite(engine: AsyncEngine, *, begin: str) -> None:
    """WAL, busy timeout, foreign keys, and our own BEGIN (pysqlite's deferred BEGIN is unsafe)."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the driver from emitting its own BEGIN so ours is the only one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        # A deferred transaction that later upgrades to a write fails with SQLITE_BUSY at once,
        # whatever busy_timeout says; writers take the lock up front instead.
        conn.exec_driver_sql(begin)


class Database:
    """Two session factories: `write()` for changes, `read()` for queries that change nothing."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    ):
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.is_sqlite:
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = create_async_engine(url, echo=echo, json_serializer=_json_text)
            _prepare_sqlite(self.write_engine, begin="BEGIN IMMEDIATE")
            self.read_engine = create_async_engine(url, echo=echo, json_serializer=_json_text)
            _prepare_sqlite(self.read_engine, begin="BEGIN")
        else:
            self.write_engine = create_async_engine(
                url,
                echo=echo,
                pool_size=pool_size,
                pool_timeout=pool_timeout,
                pool_pre_ping=True,
                json_serializer=_json_text,
            )
            self.read_engine = self.write_engine
        self._writer_lock = asyncio.Lock()
        self._writer_loop: asyncio.AbstractEventLoop | None = None
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in one write transaction: committed on success, rolled back on error."""
        if not self.is_sqlite:
            async with self._write() as session, session.begin():
                yield session
            return
        # SQLite has one writer. Without this queue, this process's own writers wait on each
        # other inside SQLite's busy handler, which polls with sleeps of up to 100 ms, so the
        # tail latency of a busy minute is made of sleeps. Other processes still meet
        # busy_timeout.
        async with self._sqlite_writer(), self._write() as session, session.begin():
            yield session

    def _sqlite_writer(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._writer_loop is not loop:  # a lock belongs to one event loop
            self._writer_lock, self._writer_loop = asyncio.Lock(), loop
        return self._writer_lock

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
