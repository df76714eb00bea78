"""Running a relay as a process: SIGTERM/SIGINT stop claiming, finish or release, then return."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

from bot.delivery.relay import OutboxRelay

log = logging.getLogger(__name__)


async def run_until_signalled(
    relay: OutboxRelay,
    *,
    grace: float = 10.0,
    signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> None:
    """Run `relay` until one of `signals`; rows in hand get `grace` seconds, the rest are released.

    For a standalone relay process. Inside the aiohttp app the same happens through the app's
    cleanup: `await relay.stop(grace)` and then await the task running `relay.run()`.
    """
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def on_signal(signum: signal.Signals) -> None:
        if not stopping:
            log.info("outbox relay: %s received; finishing the rows in hand", signum.name)
            stopping.append(loop.create_task(relay.stop(grace)))

    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await relay.run()
        if stopping:
            await stopping[0]
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
