"""Command line: serve, migrate, check-config."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.errors import ConfigError
from bot.settings import Settings

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="complaint-bot: customer complaints as tracked work in WeChat, WeCom and DingTalk.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP service, the outbox relay and the timers")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, env HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default 8080, env PORT)")
    serve.add_argument("--config", type=Path, help="config file (default config/example.yaml, env BOT_CONFIG)")
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")

    sub.add_parser("migrate", help="apply database migrations (DATABASE_URL)")

    check = sub.add_parser("check-config", help="validate a config file and list every problem")
    check.add_argument("file", type=Path, nargs="?", help="config file (default: BOT_CONFIG)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "check-config":
        return check_config(args.file or settings.config_path)
    if args.command == "migrate":
        from storage.migrate import upgrade

        upgrade(settings.database_url)
        print(f"migrated {_safe_url(settings.database_url)} to the latest schema")
        return 0
    if args.command == "serve":
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("config_path", args.config)) if v}
        if args.no_migrate:
            overrides["migrate_on_start"] = False
        return serve(settings.model_copy(update=overrides))
    return 2


def check_config(path: Path) -> int:
    """Print OK and a summary, or every problem with file:line: path: message; exit 0 or 1."""
    from bot.config.loader import load_config

    try:
        config = load_config(path)
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in {path}", file=sys.stderr)
        return 1
    print(
        f"{path}: OK ({len(config.directory.people)} people, {len(config.directory.departments)} "
        f"departments, {len(config.forms)} form(s), {len(config.flows)} flow(s), "
        f"{len(config.rules)} rule(s), {len(config.channels)} channel(s))"
    )
    return 0


def serve(settings: Settings) -> int:
    from aiohttp import web

    from bot.app import create_app
    from bot.config.loader import load_config

    try:
        config = load_config(settings.config_path)
    except ConfigError as exc:
        for line in exc.lines():
            log.error("%s", line)
        log.error("refusing to start: %d problem(s) in %s", len(exc.problems), settings.config_path)
        return 1
    if settings.migrate_on_start:
        from storage.migrate import upgrade

        upgrade(settings.database_url)
    app = create_app(settings, config)
    web.run_app(app, host=settings.host, port=settings.port, print=None)
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
