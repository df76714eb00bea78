"""serve's event loop: uvloop's when it is installed and UVLOOP is on, asyncio's otherwise."""

from __future__ import annotations

import asyncio

import pytest

from bot.commands.serve import new_event_loop
from bot.settings import Settings


def test_serve_runs_on_uvloop_by_default() -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = new_event_loop(Settings())
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_uvloop_off_serves_on_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UVLOOP", "false")
    loop = new_event_loop(Settings())
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()


def test_pool_timeout_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().db_pool_timeout < 5  # WeChat's deadline for an answer
    monkeypatch.setenv("DB_POOL_TIMEOUT", "1.5")
    assert Settings().db_pool_timeout == 1.5
