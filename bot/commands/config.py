"""migrate and check-config: the database schema and the config file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.errors import ConfigError
from bot.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    migrate = sub.add_parser("migrate", help="apply database migrations (DATABASE_URL)")
    migrate.set_defaults(handler=run_migrate)
    check = sub.add_parser("check-config", help="validate a config file and list every problem")
    check.add_argument("file", type=Path, nargs="?", help="config file (default: BOT_CONFIG)")
    check.set_defaults(handler=run_check)


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.engine import make_url

    from storage.migrate import upgrade

    upgrade(settings.database_url)
    safe = make_url(settings.database_url).render_as_string(hide_password=True)
    print(f"migrated {safe} to the latest schema")
    return 0


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    return check_config(args.file or settings.config_path)


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
