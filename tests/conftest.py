"""Fixtures shared by every test: real databases (a SQLite file, PostgreSQL), the example config."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base

T = TypeVar("T")


def _in_thread(fn: Callable[..., T], *args: object) -> T:
    """Run `fn` in a thread: session fixtures may be built inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config" / "example.yaml"
TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    _in_thread(upgrade, f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> Iterator[str]:
    """A private PostgreSQL database for this test session, migrated once and dropped at the end.

    Private, so two test runs on one machine (a developer and CI, or helpers in parallel) never
    reset each other's tables.
    """
    import asyncio
    import uuid

    base = make_url(TEST_DATABASE_URL)
    name = f"{base.database or 'test'}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin_url = base.set(database=base.database or "postgres")

    async def admin(statement: str) -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(statement))
        await engine.dispose()

    _in_thread(asyncio.run, admin(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        _in_thread(upgrade, url)
        yield url
    finally:
        _in_thread(asyncio.run, admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(db: Database) -> None:
    """Empty every table. The database is this session's own, so any other connection to it is
    a leftover of an earlier test (a background task that outlived it): end those first, so a
    leaked transaction fails that task instead of hanging the whole suite on a lock."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with db.write_engine.begin() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        await conn.execute(text("SET LOCAL lock_timeout = '20s'"))
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A real, migrated, empty database: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "bot.db"
        shutil.copy(template, path)
        database = Database(f"sqlite+aiosqlite:///{path}")
    else:
        url: str = request.getfixturevalue("postgres_migrated")
        database = Database(url)
        await _truncate(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def example_config_path() -> Path:
    return EXAMPLE_CONFIG


@pytest.fixture(autouse=True)
def _no_platform_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never pick up a developer's real credentials from the environment."""
    for name in list(os.environ):
        if name.startswith(("WECHAT_", "WECOM_", "DINGTALK_")):
            monkeypatch.delenv(name, raising=False)
    yield
