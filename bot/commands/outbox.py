"""outbox: look at and requeue messages that could not be delivered."""

from __future__ import annotations

import argparse
import asyncio

from bot.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    outbox = sub.add_parser("outbox", help="requeue messages that failed to send")
    actions = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    retry = actions.add_parser("retry", help="put failed messages back in the queue")
    retry.add_argument("--id", type=int, action="append", help="only this row (repeatable)")
    retry.set_defaults(handler=run_retry)


def run_retry(args: argparse.Namespace, settings: Settings) -> int:
    from bot.delivery.outbox import requeue_failed
    from storage.db import Database

    async def go() -> int:
        db = Database(settings.database_url)
        try:
            return await requeue_failed(db, args.id)
        finally:
            await db.dispose()

    count = asyncio.run(go())
    print(f"requeued {count} failed message(s); the running service delivers them shortly")
    return 0
