"""digest: build one digest on demand, send it (once per period) or write it to a folder."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    digest = sub.add_parser("digest", help="build a digest now: send it, or --dry-run to a folder")
    digest.add_argument("name", help="the digest's name in the config (e.g. 客服周报)")
    digest.add_argument("--period", help="2026-W47, 2026-11, 2026-11-23 or 2026-11-01..2026-11-30")
    digest.add_argument(
        "--dry-run", action="store_true", help="write markdown and PNGs, send nothing"
    )
    digest.add_argument("--out", type=Path, default=Path("digest-out"), help="folder for --dry-run")
    digest.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import build_channels
    from bot.channels.base import AdapterContext
    from bot.config.loader import load_config
    from bot.errors import BotError
    from bot.service.clock import SystemClock
    from bot.service.wiring import build_service
    from storage.db import Database

    config = load_config(settings.config_path)

    async def go() -> int:
        db = Database(settings.database_url)
        channels = build_channels(config.channels, AdapterContext(groups=config.groups))
        service = build_service(settings, config, db, channels.adapters, clock=SystemClock())
        try:
            digest = service.digests.config(args.name)
            outcome = await service.digests.run(
                digest,
                args.period,
                dry_run_to=args.out if args.dry_run else None,
                progress=lambda line: print(line, flush=True),
            )
        except (KeyError, BotError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            service.digests.close()
            await db.dispose()
        if outcome.status == "queued":
            print("queued: the running service delivers it to the group chat")
        elif outcome.status == "no-group":
            print(f"not sent: the group of {args.name} has no channel that is on", file=sys.stderr)
            return 1
        return 0

    return asyncio.run(go())
