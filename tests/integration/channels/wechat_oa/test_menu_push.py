"""Pushing the custom menu to the fake: via the adapter, a client, or the configured channel."""

from __future__ import annotations

import pytest

from bot.channels.base import AdapterContext
from bot.channels.wechat_oa.menu import build_menu, menu_command, push_configured_menu, push_menu
from bot.channels.wechat_oa.outbound import WechatOAClient
from bot.delivery.tokens import AccessTokenCache
from bot.errors import ChannelError

from .conftest import MakeHarness


async def test_push_default_menu_through_the_adapter(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    menu = build_menu(None, "https://bot.example.com")
    await push_menu(harness.adapter, menu)
    assert harness.server.menu == menu
    assert await harness.adapter.client.get_menu() == {"menu": menu}


async def test_push_through_a_client_that_is_not_open(make_harness: MakeHarness) -> None:
    harness = await make_harness(start=False)
    client = harness.adapter.client
    await push_menu(client, build_menu(None, "https://bot.example.com"))
    assert harness.server.menu is not None
    assert not client.is_open  # opened for the call, closed after


async def test_push_configured_menu_uses_the_public_base_url(make_harness: MakeHarness) -> None:
    harness = await make_harness(
        menu=[
            {"name": "投诉", "type": "click", "key": "COMPLAIN"},
            {"name": "填表", "type": "view", "url": "{public_base_url}/c/form"},
        ]
    )
    context = AdapterContext(
        tokens=AccessTokenCache(clock=harness.clock.time), public_base_url="https://kf.example.cn"
    )
    pushed = await push_configured_menu(harness.adapter.config, context)
    assert harness.server.menu == pushed
    assert pushed["button"][1]["url"] == "https://kf.example.cn/c/form"


async def test_menu_the_platform_refuses_is_a_channel_error(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    async with WechatOAClient.from_config(
        harness.adapter.config, AccessTokenCache(clock=harness.clock.time)
    ) as client:
        with pytest.raises(ChannelError) as raised:
            await push_menu(client, {"button": []})
    assert raised.value.errcode == 40016


async def test_menu_command_pushes_and_prints(
    make_harness: MakeHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness = await make_harness()
    context = AdapterContext(tokens=AccessTokenCache(clock=harness.clock.time))
    channels = {"service": harness.adapter.config}
    assert await menu_command(channels, "service", context) == 0
    assert "我要投诉" in capsys.readouterr().out
    assert harness.server.menu is not None


async def test_menu_command_names_unknown_channels(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness = await make_harness()
    channels = {"service": harness.adapter.config}
    assert await menu_command(channels, "staff", AdapterContext()) == 1
    assert "no wechat_oa channel named 'staff' (configured: service)" in caplog.text
