"""The Official Account's custom menu: the default one, the configured one, and pushing it.

`python -m bot wechat-menu <name>` calls `push_configured_menu`. A click button makes WeChat send
Event=CLICK with its key (an InboundMessage of kind "click" whose text is the key); a view button
opens its URL in WeChat's browser.

在线填表 is a click, not a view: a menu is the same for every follower, so a view URL cannot carry
a per-customer token, and WeChat tells a page who is reading only through OAuth (snsapi_base
redirects), which this service does not use. The intake answers the FORM click with the
customer's own signed, expiring form link instead (bot/service/intake.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bot.channels.base import AdapterContext
from bot.channels.wechat_oa.adapter import WechatOAAdapter
from bot.channels.wechat_oa.outbound import WechatOAClient
from bot.config.channels import ChannelBase, WechatMenuButton, WechatOAChannel
from bot.errors import ChannelError

log = logging.getLogger(__name__)

COMPLAIN_KEY = "COMPLAIN"
PROGRESS_KEY = "PROGRESS"
FORM_KEY = "FORM"
FORM_PATH = "/c/form"


def default_menu() -> list[WechatMenuButton]:
    """我要投诉 (click COMPLAIN) / 查询进度 (click PROGRESS) / 在线填表 (click FORM)."""
    return [
        WechatMenuButton(name="我要投诉", type="click", key=COMPLAIN_KEY),
        WechatMenuButton(name="查询进度", type="click", key=PROGRESS_KEY),
        WechatMenuButton(name="在线填表", type="click", key=FORM_KEY),
    ]


def build_menu(buttons: Sequence[WechatMenuButton] | None, public_base_url: str) -> dict[str, Any]:
    """The menu/create payload for `buttons` (the default menu when None)."""
    base = public_base_url.rstrip("/")
    return {"button": [_button(b, base) for b in (buttons or default_menu())]}


def _button(button: WechatMenuButton, base: str) -> dict[str, Any]:
    if button.sub_button:
        return {"name": button.name, "sub_button": [_button(b, base) for b in button.sub_button]}
    out: dict[str, Any] = {"type": button.type, "name": button.name}
    if button.type == "click":
        out["key"] = button.key
    else:
        # Only this placeholder: a URL may contain other braces of its own.
        out["url"] = (button.url or "").replace("{public_base_url}", base)
    return out


async def push_menu(target: WechatOAAdapter | WechatOAClient, menu: Mapping[str, Any]) -> None:
    """Replace the account's menu with `menu`; opens the HTTP session for the call if needed."""
    client = target.client if isinstance(target, WechatOAAdapter) else target
    opened_here = not client.is_open
    if opened_here:
        await client.open()
    try:
        await client.create_menu(menu)
    finally:
        if opened_here:
            await client.close()


async def push_configured_menu(config: WechatOAChannel, context: AdapterContext) -> dict[str, Any]:
    """Push the channel's configured menu (or the default) and return what was pushed."""
    menu = build_menu(config.menu, context.public_base_url)
    await push_menu(WechatOAClient.from_config(config, context.tokens), menu)
    return menu


async def menu_command(
    channels: Mapping[str, ChannelBase], name: str, context: AdapterContext
) -> int:
    """`python -m bot wechat-menu <name>`: push the menu, print it; exit code 0, or 1 with why."""
    channel = channels.get(name)
    if not isinstance(channel, WechatOAChannel):
        known = ", ".join(n for n, c in channels.items() if isinstance(c, WechatOAChannel))
        log.error("no wechat_oa channel named '%s' (configured: %s)", name, known or "none")
        return 1
    missing = channel.missing_credentials()
    if missing:
        log.error("channel %s is missing %s", name, ", ".join(missing))
        return 1
    try:
        menu = await push_configured_menu(channel, context)
    except ChannelError as exc:
        log.error("WeChat refused the menu for %s: %s %s", name, exc.errcode, exc.errmsg)
        return 1
    print(json.dumps(menu, ensure_ascii=False, indent=2))
    return 0
