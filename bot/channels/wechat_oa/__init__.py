"""WeChat Official Account channel: customers write to the bot here (see adapter.py)."""

from __future__ import annotations

from bot.channels.base import AdapterContext
from bot.channels.wechat_oa.adapter import WechatOAAdapter
from bot.config.channels import WechatOAChannel
from bot.errors import ConfigError


def build_adapter(config: WechatOAChannel, context: AdapterContext) -> WechatOAAdapter:
    """The adapter for one configured Official Account; refuses one without its credentials."""
    missing = config.missing_credentials()
    if missing:
        raise ConfigError(
            f"channel {config.name}",
            [
                (None, ("channels", config.name, name), "is required for wechat_oa")
                for name in missing
            ],
        )
    return WechatOAAdapter(config, context)


__all__ = ["WechatOAAdapter", "build_adapter"]
