"""The custom menu: the default one, a configured one, and the checks on its shape."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.channels.wechat_oa.menu import build_menu
from bot.config.channels import WechatOAChannel


def test_default_menu_is_complain_progress_and_the_form() -> None:
    assert build_menu(None, "https://bot.example.com/") == {
        "button": [
            {"type": "click", "name": "我要投诉", "key": "COMPLAIN"},
            {"type": "click", "name": "查询进度", "key": "PROGRESS"},
            {"type": "click", "name": "在线填表", "key": "FORM"},
        ]
    }


def test_configured_menu_with_sub_buttons_and_base_url() -> None:
    channel = WechatOAChannel.model_validate(
        {
            "name": "service",
            "type": "wechat_oa",
            "menu": [
                {"name": "投诉", "type": "click", "key": "COMPLAIN"},
                {
                    "name": "更多",
                    "sub_button": [
                        {"name": "我的投诉", "type": "view", "url": "{public_base_url}/c/mine"},
                        {"name": "人工客服", "type": "click", "key": "HUMAN"},
                    ],
                },
            ],
        }
    )
    assert build_menu(channel.menu, "https://bot.example.com") == {
        "button": [
            {"type": "click", "name": "投诉", "key": "COMPLAIN"},
            {
                "name": "更多",
                "sub_button": [
                    {"type": "view", "name": "我的投诉", "url": "https://bot.example.com/c/mine"},
                    {"type": "click", "name": "人工客服", "key": "HUMAN"},
                ],
            },
        ]
    }


@pytest.mark.parametrize(
    ("menu", "message"),
    [
        ([{"name": "投诉", "type": "click"}], "click button '投诉' needs a key"),
        ([{"name": "表单", "type": "view"}], "view button '表单' needs a url"),
        ([{"name": "投诉"}], "menu button '投诉' needs a type"),
        ([{"name": "我要投诉一下吧", "type": "click", "key": "K"}], "WeChat allows 16"),
        ([{"name": str(i), "type": "click", "key": "K"} for i in range(4)], "at most 3"),
        (
            [
                {
                    "name": "更多",
                    "sub_button": [{"name": str(i), "type": "click", "key": "K"} for i in range(6)],
                }
            ],
            "at most 5",
        ),
    ],
)
def test_bad_menus_are_config_errors(menu: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        WechatOAChannel.model_validate({"name": "service", "type": "wechat_oa", "menu": menu})
