"""Building the WeCom adapter from its config section."""

from __future__ import annotations

import base64

import pytest

from bot.channels.base import AdapterContext, ChannelAdapter
from bot.channels.wecom import WecomSetupError, build_adapter
from bot.config.channels import WecomChannel

AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")


def config(**changes: object) -> WecomChannel:
    values: dict[str, object] = {
        "name": "staff-wecom",
        "type": "wecom",
        "corp_id": "ww-corp",
        "agent_id": "1000002",
        "secret": "s",
        "token": "t",
        "encoding_aes_key": AES_KEY,
    }
    values.update(changes)
    return WecomChannel(**values)  # type: ignore[arg-type]


def test_a_complete_config_builds_a_channel_adapter_with_its_callback_routes() -> None:
    adapter = build_adapter(config(agent_id=1000002), AdapterContext())
    assert isinstance(adapter, ChannelAdapter)
    assert (adapter.name, adapter.platform, adapter.agent_id) == ("staff-wecom", "wecom", 1000002)
    assert {(r.method, r.path) for r in adapter.routes()} == {  # type: ignore[attr-defined]
        ("GET", "/callbacks/wecom/staff-wecom"),
        ("POST", "/callbacks/wecom/staff-wecom"),
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"secret": None}, "lacks secret"),
        ({"agent_id": "abc"}, "agent_id 'abc' is not a number"),
        ({"encoding_aes_key": "short"}, "43-character key"),
    ],
)
def test_a_config_that_cannot_work_is_refused_with_the_reason(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(WecomSetupError, match=message):
        build_adapter(config(**changes), AdapterContext())
