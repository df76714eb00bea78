"""Redis stopped in the middle of sending, then started again: nothing lost, nothing doubled.

The test runs its own redis-server on a free port (no persistence), so stopping it touches no
one else's Redis.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.channels.base import OutboundMessage, SendResult
from bot.delivery.pacing import RedisPacer
from bot.delivery.relay import OutboxRelay
from storage.db import Database
from tests.fakes.clock import FakeClock
from tests.fakes.scripted_adapter import ScriptedAdapter
from tests.integration.delivery.helpers import add_outbox, outbox_rows

pytestmark = pytest.mark.redis


class RedisServer:
    """A throwaway redis-server: `--save '' --appendonly no` on 127.0.0.1:<port>."""

    def __init__(self, directory: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
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
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(500):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_sends_survive_a_redis_restart(db: Database, redis_server: RedisServer) -> None:
    clock = FakeClock()
    targets = [f"group:g{i}" for i in range(20)]
    await add_outbox(db, clock(), targets * 3)  # three rows per target, 60 in all
    adapter = ScriptedAdapter(per_minute=2)

    async def stop_redis_mid_batch(message: OutboundMessage) -> SendResult:
        await asyncio.to_thread(redis_server.stop)
        return SendResult.delivered()

    adapter.script(stop_redis_mid_batch, key="k0")
    client = Redis(
        host="127.0.0.1", port=redis_server.port, socket_connect_timeout=0.5, socket_timeout=0.5
    )
    prefix = "test:outage:"
    pacer = RedisPacer(client, prefix=prefix, clock=clock.time, retry_after=5.0)
    relay = OutboxRelay(db, {"staff": adapter}, pacer, clock=clock, batch=50)
    try:
        # First rows of every target: Redis goes away in the middle of this batch.
        assert await relay.run_once() == 20
        # Second rows: paced by the in-process log while Redis is down.
        assert await relay.run_once() == 20
        assert pacer.degraded
        # Third rows: over 2/min per target, so they wait for the window, not for Redis.
        assert await relay.run_once() == 20
        assert len(adapter.delivered) == 40

        await asyncio.to_thread(redis_server.start)
        clock.advance(61)
        while await relay.run_once():
            pass
        assert not pacer.degraded  # back on the shared limits
        assert await client.exists(prefix + "staff:group:g0") == 1
    finally:
        await client.aclose()

    counts = Counter(adapter.keys)
    assert sorted(counts) == sorted(f"k{i}" for i in range(60))
    assert set(counts.values()) == {1}  # nothing doubled
    assert [row.status for row in await outbox_rows(db)] == ["sent"] * 60  # nothing lost
