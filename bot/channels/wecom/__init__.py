"""The WeCom (企业微信) channel: app callbacks, template cards, app messages and group robots."""

from __future__ import annotations

from bot.channels.wecom.adapter import WecomAdapter, WecomSetupError, build_adapter
from bot.channels.wecom.cards import WecomCardError, render_wecom_card

__all__ = [
    "WecomAdapter",
    "WecomCardError",
    "WecomSetupError",
    "build_adapter",
    "render_wecom_card",
]
