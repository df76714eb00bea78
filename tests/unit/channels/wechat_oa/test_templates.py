"""The 45015 fallback: message text mapped into template data fields as configured."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.channels.wechat_oa.templates import fallback_values, fit_field, template_data
from bot.config.channels import WechatOAChannel

NOW = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)  # 14:05 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_values_split_title_and_body_and_use_local_time() -> None:
    values = fallback_values(
        "投诉 TS20261123-0001 已受理\n处理人：张三\n预计两天内回复", NOW, SHANGHAI
    )
    assert values == {
        "text": "投诉 TS20261123-0001 已受理\n处理人：张三\n预计两天内回复",
        "title": "投诉 TS20261123-0001 已受理",
        "body": "处理人：张三\n预计两天内回复",
        "time": "2026-11-23 14:05",
        "date": "2026-11-23",
    }


def test_one_line_text_is_both_title_and_body() -> None:
    values = fallback_values("已受理", NOW, SHANGHAI)
    assert values["title"] == values["body"] == "已受理"


def test_default_mapping_fills_the_classic_template() -> None:
    channel = WechatOAChannel(name="service", type="wechat_oa")
    data = template_data(channel.fallback_fields, "已受理\n请耐心等待", NOW, SHANGHAI)
    assert data == {
        "first": {"value": "已受理"},
        "keyword1": {"value": "请耐心等待"},
        "keyword2": {"value": "2026-11-23 14:05"},
    }


def test_configured_mapping_with_literal_text_and_empty_fields_left_out() -> None:
    fields = {"thing1": "{title}", "time2": "{time}", "remark": "", "thing3": "回复消息继续沟通"}
    data = template_data(fields, "进度更新", NOW, SHANGHAI)
    assert data == {
        "thing1": {"value": "进度更新"},
        "time2": {"value": "2026-11-23 14:05"},
        "thing3": {"value": "回复消息继续沟通"},
    }


@pytest.mark.parametrize(
    ("key", "limit"), [("thing1", 20), ("thing12", 20), ("phrase3", 5), ("character_string2", 32)]
)
def test_typed_fields_are_cut_to_their_limit(key: str, limit: int) -> None:
    value = fit_field(key, "很" * 50)
    assert len(value) == limit and value.endswith("…")


@pytest.mark.parametrize("key", ["first", "keyword1", "remark", "time2"])
def test_classic_and_untyped_fields_are_not_cut(key: str) -> None:
    assert fit_field(key, "很" * 50) == "很" * 50


def test_unknown_placeholder_is_a_config_error_naming_it() -> None:
    with pytest.raises(ValidationError, match=r"unknown placeholder '\{number\}'"):
        WechatOAChannel(name="s", type="wechat_oa", fallback_fields={"keyword1": "{number}"})
