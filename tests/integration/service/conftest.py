"""A real service (example config, playground channel) on each test database, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.channels.base import AdapterContext
from bot.channels.playground import PlaygroundAdapter, build_adapter
from bot.config.loader import LoadedConfig, load_config
from bot.service.clock import FixedClock
from bot.service.wiring import Service, build_service
from bot.settings import Settings
from storage.db import Database
from tests.conftest import EXAMPLE_CONFIG


@pytest.fixture
def config() -> LoadedConfig:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture
def clock() -> FixedClock:
    # Monday 2026-11-23 10:00 in Shanghai.
    return FixedClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))


@pytest.fixture
def playground(config: LoadedConfig, clock: FixedClock) -> PlaygroundAdapter:
    return build_adapter(config.channels["playground"], AdapterContext(clock=clock.now))


@pytest.fixture
def service(
    db: Database, config: LoadedConfig, clock: FixedClock, playground: PlaygroundAdapter
) -> Service:
    return build_service(Settings(), config, db, {"playground": playground}, clock=clock)
