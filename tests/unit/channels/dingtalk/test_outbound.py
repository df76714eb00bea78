"""Outbound decisions that need no network: robot URLs, error kinds, pacing, robot silence."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from bot.cards.model import Card
from bot.channels.base import AdapterContext, ChannelAdapter, OutboundMessage, Pace
from bot.channels.dingtalk import build_adapter
from bot.channels.dingtalk.adapter import DingtalkAdapter, robot_key
from bot.channels.dingtalk.outbound import (
    DingtalkApiError,
    RobotSilence,
    is_duplicate_card,
    is_token_error,
    signed_webhook_url,
)
from bot.config.channels import DingtalkChannel, GroupConfig
from tests.fakes.clock import FakeClock
from tests.fakes.dingtalk_gateway import dingtalk_sign

CARD = Card(ref="task:1:a", kind="task", complaint_number="TS20261123-0001", title="t", badge="b")


def message(kind: str, target: str, payload: dict | None = None) -> OutboundMessage:
    return OutboundMessage(
        id=1, kind=kind, target=target, payload=payload or {}, idempotency_key="k"
    )  # type: ignore[arg-type]


def adapter(**config: object) -> DingtalkAdapter:
    groups = {
        "mgmt": GroupConfig(
            id="mgmt", name="管理层群", channel="dt", webhook_token="tok", webhook_secret="SEC"
        ),
        "no-robot": GroupConfig(id="no-robot", name="无机器人群", channel="dt"),
    }
    cfg = DingtalkChannel(name="dt", type="dingtalk", client_id="id", client_secret="s", **config)
    return DingtalkAdapter(cfg, AdapterContext(groups=groups))


def test_webhook_url_carries_timestamp_and_url_encoded_sign() -> None:
    url = signed_webhook_url("https://oapi.dingtalk.com/", "tok+en", "SEC", 1700000000000)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == "/robot/send"
    assert query["access_token"] == ["tok+en"]
    assert query["timestamp"] == ["1700000000000"]
    assert query["sign"] == [dingtalk_sign("SEC", 1700000000000)]


def test_webhook_url_without_secret_is_unsigned() -> None:
    assert "sign=" not in signed_webhook_url("https://o", "tok", None, 1)


def api_error(status: int, code: str, message: str = "") -> DingtalkApiError:
    return DingtalkApiError("dt", status, code, message, None)


def test_token_errors_are_recognised() -> None:
    assert is_token_error(api_error(401, "InvalidAuthentication"))
    assert not is_token_error(api_error(400, "invalidParameter"))


@pytest.mark.parametrize(
    ("code", "text", "duplicate"),
    [
        ("invalidParameter.outTrackId.exists", "outTrackId 已存在", True),
        ("param.error", "outTrackId duplicated", True),
        ("invalidParameter.outTrackId.notFound", "卡片实例不存在", False),
        ("invalidParameter.cardParamMap", "cardParamMap 的值须为字符串", False),
    ],
)
def test_duplicate_track_ids_are_recognised(code: str, text: str, duplicate: bool) -> None:
    assert is_duplicate_card(api_error(400, code, text)) is duplicate


def test_group_notices_are_paced_per_robot_at_20_a_minute() -> None:
    pace = adapter().pace(message("markdown", "group:mgmt"))
    assert pace == Pace(key=robot_key("tok"), per_minute=20)
    assert "tok" not in pace.key.partition(":")[2]  # the token is a credential


def test_cards_in_groups_without_conversation_go_through_the_paced_webhook() -> None:
    assert adapter(card_template_id="t").pace(message("card", "group:mgmt")) is not None


def test_interactive_group_cards_and_updates_are_not_robot_webhook_messages() -> None:
    a = adapter(card_template_id="t", group_conversations={"mgmt": "cid=="})
    assert a.pace(message("card", "group:mgmt")) is None
    assert a.pace(message("card_update", "group:mgmt")) is None


def test_personal_messages_have_no_robot_pace() -> None:
    assert adapter().pace(message("text", "user:0101")) is None


def test_groups_without_robot_have_no_pace() -> None:
    assert adapter().pace(message("text", "group:no-robot")) is None


async def test_silence_lasts_until_its_end_on_the_clock() -> None:
    clock = FakeClock()
    silence = RobotSilence(None, clock.time)
    await silence.silence("r", 600)
    assert await silence.remaining("r") == 600
    clock.advance(599)
    assert await silence.remaining("r") == pytest.approx(1)
    clock.advance(1)
    assert await silence.remaining("r") == 0
    assert await silence.remaining("other") == 0


def test_preview_without_template_is_the_action_card() -> None:
    preview = adapter().render_card(CARD)
    assert preview["msgKey"] == "sampleMarkdown" and preview["robotCode"] == "id"


def test_preview_with_template_is_the_card_instance() -> None:
    preview = adapter(card_template_id="tpl", mode="http").render_card(CARD)
    assert preview["cardTemplateId"] == "tpl"
    assert (preview["callbackType"], preview["callbackRouteKey"]) == ("HTTP", "dt")


def test_only_http_mode_serves_a_callback_route() -> None:
    assert adapter().routes() == []
    (route,) = adapter(mode="http").routes()
    assert route.path == "/callbacks/dingtalk/dt"  # type: ignore[attr-defined]


def test_build_adapter_gives_a_channel_adapter() -> None:
    cfg = DingtalkChannel(name="dt", type="dingtalk", client_id="id", client_secret="s")
    built = build_adapter(cfg, AdapterContext())
    assert isinstance(built, ChannelAdapter)
    assert (built.platform, built.passive_replies) == ("dingtalk", False)
