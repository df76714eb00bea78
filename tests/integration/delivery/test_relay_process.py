"""Relays as real processes: SIGKILL mid-send loses nothing; SIGTERM hands rows back at once.

A child process runs a relay whose adapter posts to a receiver in this test; the receiver holds
one request open (the send in flight) and counts every arrival by idempotency key.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.delivery.relay import OutboxRelay
from storage.db import Database
from tests.fakes.http_post_adapter import HttpPostAdapter
from tests.integration.delivery.helpers import add_outbox, outbox_row, outbox_rows

ROOT = Path(__file__).resolve().parents[3]
PATIENCE = 60.0  # seconds to wait for a child before the test gives up (never asserted on)


class Receiver:
    """Counts arrivals per key; the first request for `hang_key` is held until `release`."""

    def __init__(self, hang_key: str):
        self.hang_key = hang_key
        self.arrivals: Counter[str] = Counter()
        self.delivered: set[str] = set()  # deduped by key: what the platform "shows"
        self.hung = asyncio.Event()
        self.release = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = body["key"]
        self.arrivals[key] += 1
        if key == self.hang_key and not self.hung.is_set():
            self.hung.set()
            await self.release.wait()  # the sender dies or gives up before this
            return web.json_response({"late": True})
        self.delivered.add(key)
        return web.json_response({"via": "receiver"})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver(hang_key="k3")
    app = web.Application()
    app.router.add_post("/send", rec.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rec.url = f"http://127.0.0.1:{port}/send"
    try:
        yield rec
    finally:
        rec.release.set()
        await runner.cleanup()


async def start_child(
    db: Database, url: str, log: Path, *, lease: float, send_timeout: float, grace: float
) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.integration.delivery.relay_child",
            db.url,
            url,
            str(lease),
            str(send_timeout),
            str(grace),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )


async def wait_until(condition, what: str, log: Path) -> None:  # noqa: ANN001
    async def poll() -> None:
        while not await condition():  # noqa: ASYNC110 - polls the database, not an event
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), PATIENCE)
    except TimeoutError:
        said = await asyncio.to_thread(log.read_text)
        pytest.fail(f"timed out waiting for {what}; child said:\n{said}")


async def sent_count(db: Database) -> int:
    return sum(1 for row in await outbox_rows(db) if row.status == "sent")


async def test_a_killed_relays_rows_are_delivered_by_another_after_the_lease(
    db: Database, receiver: Receiver, tmp_path: Path
) -> None:
    from bot.delivery.outbox import utc_now

    ids = await add_outbox(db, utc_now(), [f"user:u{i}" for i in range(8)])
    log = tmp_path / "child.log"
    child = await start_child(db, receiver.url, log, lease=2.0, send_timeout=600.0, grace=5.0)
    try:

        async def hung_and_rest_recorded() -> bool:
            return receiver.hung.is_set() and await sent_count(db) == 7

        await wait_until(hung_and_rest_recorded, "the child to send every row", log)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    hung_id = ids[3]
    hung = await outbox_row(db, hung_id)
    assert hung.status == "pending" and hung.lease_owner is not None  # still leased by the dead

    adapter = HttpPostAdapter("staff", receiver.url)
    survivor = OutboxRelay(db, {"staff": adapter}, lease=30.0)
    try:

        async def delivered() -> bool:
            await survivor.run_once()
            return (await outbox_row(db, hung_id)).status == "sent"

        await wait_until(delivered, "the survivor to deliver the leased row", log)
    finally:
        await adapter.stop()

    assert receiver.delivered == {f"k{i}" for i in range(8)}
    assert receiver.arrivals["k3"] == 2  # the same idempotency key, sent again after the lease
    assert all(receiver.arrivals[f"k{i}"] == 1 for i in range(8) if i != 3)
    assert [row.status for row in await outbox_rows(db)] == ["sent"] * 8
    assert (await outbox_row(db, hung_id)).attempts == 2


async def test_sigterm_finishes_and_releases_rows_in_hand(
    db: Database, receiver: Receiver, tmp_path: Path
) -> None:
    from bot.delivery.outbox import utc_now

    ids = await add_outbox(db, utc_now(), [f"user:u{i}" for i in range(5)])
    log = tmp_path / "child.log"
    # A long lease: if the child did not release the row, nobody could take it for 10 minutes.
    child = await start_child(db, receiver.url, log, lease=600.0, send_timeout=300.0, grace=0.5)
    try:

        async def hung_and_rest_recorded() -> bool:
            return receiver.hung.is_set() and await sent_count(db) == 4

        await wait_until(hung_and_rest_recorded, "the child to send every row", log)
        child.send_signal(signal.SIGTERM)
        await asyncio.wait_for(child.wait(), PATIENCE)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert child.returncode == 0, log.read_text()
    released = await outbox_row(db, ids[3])
    assert (released.status, released.lease_until, released.lease_owner) == ("pending", None, None)

    adapter = HttpPostAdapter("staff", receiver.url)
    try:
        assert await OutboxRelay(db, {"staff": adapter}).run_once() == 1  # no lease to wait out
    finally:
        await adapter.stop()
    assert receiver.delivered == {f"k{i}" for i in range(5)}
    assert "finishing the rows in hand" in log.read_text()
