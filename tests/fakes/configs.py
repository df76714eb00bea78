"""Variants of config/example.yaml for end-to-end tests: everyone works in one platform."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from tests.conftest import EXAMPLE_CONFIG

# WeCom UserIDs / DingTalk staffIds for every person of the example directory.
ACCOUNTS = {
    "zhangsan": ("ZhangSan", "0101"),
    "xiaomei": ("XiaoMei", "0102"),
    "lisi": ("LiSi", "0103"),
    "wangwu": ("WangWu", "0104"),
    "zhaoliu": ("ZhaoLiu", "0105"),
    "qianqi": ("QianQi", "0106"),
    "boss": ("ZhouZong", "0109"),
}


def example_data() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))


def staff_in(
    platform: str,
    *,
    api_bases: Mapping[str, str] | None = None,
    third_signer: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The example config where every employee works in `platform` ("wecom" or "dingtalk").

    `api_bases` points channels (by name) at fake servers; `third_signer` adds 管理层 to the
    large-compensation sign-off, so it has three approvers.
    """
    data = example_data()
    index = 0 if platform == "wecom" else 1
    for person in data["people"]:
        person.pop("wecom", None)
        person.pop("dingtalk", None)
        person[platform] = {"user_id": ACCOUNTS[person["id"]][index]}
    for channel in data["channels"]:
        if api_bases and channel["name"] in api_bases:
            channel["api_base"] = api_bases[channel["name"]]
    if third_signer:
        for step in data["flows"]["complaint"]["steps"]:
            if step["id"] == "signoff":
                step["assignees"].append({"role": "管理层"})
    for key, value in (extra or {}).items():
        data[key] = value
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
