"""The wechat_oa channel config: encryption mode, credentials, and build_adapter's refusal."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.channels.base import AdapterContext, ChannelAdapter
from bot.channels.wechat_oa import build_adapter
from bot.config.channels import WechatOAChannel
from bot.errors import ConfigError

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def channel(**fields: object) -> WechatOAChannel:
    return WechatOAChannel.model_validate({"name": "service", "type": "wechat_oa", **fields})


def test_mode_defaults_to_safe_with_an_aes_key_else_plaintext() -> None:
    assert channel(encoding_aes_key=AES_KEY).mode == "safe"
    assert channel().mode == "plaintext"
    assert channel(encoding_aes_key=AES_KEY, encrypt_mode="compatible").mode == "compatible"


def test_defaults_are_stable_token_and_a_300_second_window() -> None:
    config = channel()
    assert (config.token_endpoint, config.timestamp_window, config.http_timeout) == (
        "stable_token",
        300.0,
        10.0,
    )


def test_encrypted_modes_need_the_aes_key() -> None:
    missing = channel(app_id="wx1", app_secret="s", token="t", encrypt_mode="safe")
    assert missing.missing_credentials() == ["encoding_aes_key"]
    assert channel(app_id="wx1", app_secret="s", token="t").missing_credentials() == []


def test_aes_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValidationError, match="43 characters, not 5"):
        channel(encoding_aes_key="short")


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown timezone 'Mars/Base'"):
        channel(timezone="Mars/Base")


def test_build_adapter_refuses_missing_credentials() -> None:
    with pytest.raises(ConfigError, match="app_secret"):
        build_adapter(channel(app_id="wx1", token="t"), AdapterContext())


def test_build_adapter_gives_a_channel_adapter() -> None:
    adapter = build_adapter(
        channel(app_id="wx1", app_secret="s", token="t", encoding_aes_key=AES_KEY),
        AdapterContext(),
    )
    assert isinstance(adapter, ChannelAdapter)
    assert (adapter.name, adapter.platform, adapter.passive_replies) == (
        "service",
        "wechat_oa",
        True,
    )
    assert [(r.method, r.path) for r in adapter.routes()] == [  # type: ignore[attr-defined]
        ("GET", "/callbacks/wechat/service"),
        ("POST", "/callbacks/wechat/service"),
    ]
