"""DingTalk (钉钉): employees work complaints through interactive cards and the app robot."""

from __future__ import annotations

from bot.channels.base import AdapterContext, ChannelAdapter
from bot.channels.dingtalk.adapter import DingtalkAdapter
from bot.channels.dingtalk.cards import render_dingtalk_card
from bot.config.channels import DingtalkChannel


def build_adapter(config: DingtalkChannel, context: AdapterContext) -> ChannelAdapter:
    """The adapter for one DingTalk channel of the config."""
    return DingtalkAdapter(config, context)


__all__ = ["DingtalkAdapter", "build_adapter", "render_dingtalk_card"]
