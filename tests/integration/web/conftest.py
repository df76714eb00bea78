"""The whole aiohttp application on each test database (playground channel only, movable clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.appkeys import SERVICE
from bot.config.loader import LoadedConfig, load_config
from bot.service.wiring import Service
from bot.settings import Settings
from storage.db import Database
from tests.conftest import EXAMPLE_CONFIG


@pytest.fixture
def app_config() -> LoadedConfig:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture
def app_settings(db: Database, tmp_path: Path) -> Settings:
    return Settings(
        DATABASE_URL=db.url,
        DATA_DIR=tmp_path / "data",
        SECRET_KEY="test-secret",
        RELAY_INTERVAL=0.05,
        TICK_INTERVAL=3600,
        # Start-up digests render charts in a child process; the digest tests ask for them.
        DIGEST_CATCH_UP=False,
    )


@pytest.fixture
async def client(
    aiohttp_client, app_settings: Settings, app_config: LoadedConfig
) -> AsyncIterator[TestClient]:
    """A test client on the full app, background loops running (relay, ticker)."""
    app = create_app(app_settings, app_config)
    yield await aiohttp_client(app)


@pytest.fixture
def service(client: TestClient) -> Service:
    return client.app[SERVICE]
