"""Command line: `python -m bot COMMAND`. Each command lives in bot/commands/ and is listed here."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from bot.commands import config, digest, outbox, serve, token, wechat_menu
from bot.settings import Settings

# Registered explicitly, in the order --help lists them.
COMMANDS = (serve, config, digest, outbox, token, wechat_menu)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m bot",
        description="complaint-bot: customer complaints as tracked work in WeChat, WeCom and "
        "DingTalk.",
    )
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The ticker runs every few seconds; its scheduler's per-run lines would drown the log.
    for noisy in ("apscheduler", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return int(args.handler(args, settings))
