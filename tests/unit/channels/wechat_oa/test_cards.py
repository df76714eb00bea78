"""Customers get no interactive cards: a news article linking to the card's page, and text."""

from __future__ import annotations

from bot.cards.model import Card, CardAction, CardField, card_as_text
from bot.channels.base import AdapterContext, OutboundMessage
from bot.channels.wechat_oa import WechatOAAdapter
from bot.config.channels import WechatOAChannel

CARD = Card(
    ref="c1",
    kind="info",
    complaint_number="TS20261123-0001",
    title="投诉 TS20261123-0001",
    badge="处理中",
    subtitle="快递延误",
    fields=(CardField("处理人", "张三"), CardField("预计完成", "11-25")),
    actions=(CardAction("urge", "催办"),),
    url="https://bot.example.com/c/TS20261123-0001",
)


def adapter() -> WechatOAAdapter:
    config = WechatOAChannel(
        name="service", type="wechat_oa", app_id="wx1", app_secret="s", token="t"
    )
    return WechatOAAdapter(config, AdapterContext())


def test_card_with_url_renders_as_one_news_article() -> None:
    rendered = adapter().render_card(CARD)
    assert rendered["msgtype"] == "news"
    assert rendered["news"] == {
        "articles": [
            {
                "title": "【处理中】投诉 TS20261123-0001",
                "description": "快递延误\n处理人：张三\n预计完成：11-25",
                "url": "https://bot.example.com/c/TS20261123-0001",
            }
        ]
    }
    assert rendered["text_fallback"] == card_as_text(CARD)


def test_card_without_url_renders_as_text() -> None:
    card = Card(ref="c", kind="info", complaint_number="N", title="T", badge="B")
    rendered = adapter().render_card(card)
    assert rendered["msgtype"] == "text"
    assert rendered["text"] == {"content": card_as_text(card)}


def test_long_description_is_shortened() -> None:
    card = Card(
        ref="c",
        kind="info",
        complaint_number="N",
        title="T",
        badge="B",
        subtitle="很" * 300,
        url="https://x",
    )
    description = adapter().render_card(card)["news"]["articles"][0]["description"]
    assert len(description) == 120 and description.endswith("…")


def test_no_pacing_for_customers() -> None:
    message = OutboundMessage(1, "text", "user:o", {"text": "x"}, "k")
    assert adapter().pace(message) is None
