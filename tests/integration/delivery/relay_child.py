"""A relay in a process of its own, for the SIGKILL/SIGTERM tests.

python -m tests.integration.delivery.relay_child DATABASE_URL RECEIVER_URL LEASE SEND_TIMEOUT GRACE
"""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.delivery.relay import OutboxRelay
from bot.delivery.worker import run_until_signalled
from storage.db import Database
from tests.fakes.http_post_adapter import HttpPostAdapter


async def main(url: str, receiver: str, lease: float, send_timeout: float, grace: float) -> None:
    db = Database(url)
    adapter = HttpPostAdapter("staff", receiver)
    relay = OutboxRelay(db, {"staff": adapter}, lease=lease, send_timeout=send_timeout, idle=0.05)
    try:
        await run_until_signalled(relay, grace=grace)
    finally:
        await adapter.stop()
        await db.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="child %(levelname)s %(name)s: %(message)s")
    url, receiver, lease, send_timeout, grace = sys.argv[1:6]
    asyncio.run(main(url, receiver, float(lease), float(send_timeout), float(grace)))
