"""Fixtures for the scale tests: the fake WeChat, bot processes that never outlive a test, a
PostgreSQL-only database, and a Redis server of the test's own that it may stop and start."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from storage.db import Database
from storage.models import Base
from tests.integration.scale.harness import HoldingWechat
from tests.integration.scale.process import BotProcess, free_port

MakeBot = Callable[..., BotProcess]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: starts several service processes; `-m 'not slow'` skips it"
    )


@pytest.fixture
async def wechat() -> AsyncIterator[HoldingWechat]:
    fake = HoldingWechat()
    await fake.start()
    try:
        yield fake
    finally:
        fake.release()
        await fake.close()


@pytest.fixture
async def make_bot(wechat: HoldingWechat, tmp_path: Path) -> AsyncIterator[MakeBot]:
    """`make_bot(database_url, **options)`: a BotProcess, killed (group and all) at teardown."""
    bots: list[BotProcess] = []

    def make(database_url: str, **options: Any) -> BotProcess:
        workdir = tmp_path / f"bot{len(bots)}"
        workdir.mkdir()
        bot = BotProcess(workdir, database_url=database_url, fake=wechat, **options)
        bots.append(bot)
        return bot

    try:
        yield make
    finally:
        for bot in bots:
            await bot.close()


@pytest.fixture
async def pg(postgres_migrated: str) -> AsyncIterator[Database]:
    """The session's PostgreSQL database, emptied (for tests that only make sense there)."""
    database = Database(postgres_migrated)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with database.write_engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite file of the test's own (for tests that only make sense there)."""
    path = tmp_path / "bot.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        yield database
    finally:
        await database.dispose()


class RedisServer:
    """A throwaway redis-server on a free port (no persistence): stop and start it at will."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            for _ in range(400):
                try:
                    if await client.ping():
                        return
                except Exception:
                    await asyncio.sleep(0.025)
            raise RuntimeError("redis-server did not start")
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()
        self.process = None

    def client(self) -> Redis:
        return Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=1)


@pytest.fixture
def redis_available() -> Iterator[None]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    yield


@pytest.fixture
async def redis_server(redis_available: None, tmp_path: Path) -> AsyncIterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
