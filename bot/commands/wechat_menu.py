"""wechat-menu: push a WeChat Official Account's custom menu (the configured one, or the default).

`--dry-run` prints the menu JSON that would be pushed and talks to nobody, so it works before
the channel's credentials are set. Links in the menu use PUBLIC_BASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot.errors import ConfigError
from bot.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    menu = sub.add_parser("wechat-menu", help="push a WeChat Official Account's custom menu")
    menu.add_argument("name", metavar="NAME", help="the wechat_oa channel's name in the config")
    menu.add_argument(
        "--dry-run", action="store_true", help="print the menu JSON instead of pushing it"
    )
    menu.add_argument("--config", type=Path, help="config file (default: BOT_CONFIG)")
    menu.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Exit code 0 when pushed (or printed), 1 with the reason on stderr / in the log."""
    from bot.channels.base import AdapterContext
    from bot.channels.wechat_oa.menu import build_menu, menu_command
    from bot.config.channels import WechatOAChannel
    from bot.config.loader import load_config
    from bot.delivery.tokens import AccessTokenCache

    path = args.config or settings.config_path
    try:
        config = load_config(path)
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return 1
    if args.dry_run:
        channel = config.channels.get(args.name)
        if not isinstance(channel, WechatOAChannel):
            known = [n for n, c in config.channels.items() if isinstance(c, WechatOAChannel)]
            print(
                f"no wechat_oa channel named '{args.name}' in {path} "
                f"(configured: {', '.join(known) or 'none'})",
                file=sys.stderr,
            )
            return 1
        menu = build_menu(channel.menu, settings.public_base_url)
        print(json.dumps(menu, ensure_ascii=False, indent=2))
        return 0
    context = AdapterContext(
        tokens=AccessTokenCache(),
        data_dir=settings.data_dir,
        public_base_url=settings.public_base_url,
    )
    return asyncio.run(menu_command(config.channels, args.name, context))
