"""Sends against the fake: each kind, the 48 h window and its template fallback, error mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cards.model import Card, CardField
from bot.errors import ChannelError

from .conftest import TEMPLATE_ID, MakeHarness

CUSTOM = "/cgi-bin/message/custom/send"
TEMPLATE = "/cgi-bin/message/template/send"


async def test_text_inside_the_window_goes_as_custom_message(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    await harness.phone.send_text("快递没到")
    result = await harness.send("text", {"text": "已为您登记投诉 TS20261123-0001"})
    assert result.ok and result.receipt == {"via": "custom"}
    [passive, custom] = harness.server.messages_for(harness.phone.openid)
    assert (passive.via, passive.text) == ("passive", "收到：快递没到")
    assert (custom.via, custom.text) == ("custom", "已为您登记投诉 TS20261123-0001")


async def test_chinese_goes_out_unescaped(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    harness.server.customer_wrote(harness.phone.openid)
    await harness.send("text", {"text": "投诉"})
    [call] = harness.server.calls_to(CUSTOM)
    assert call.body["text"] == {"content": "投诉"}


async def test_outside_the_window_falls_back_to_the_template(make_harness: MakeHarness) -> None:
    harness = await make_harness(fallback_template=TEMPLATE_ID, fallback_url="https://bot/c")
    server, openid = harness.server, harness.phone.openid
    await harness.phone.send_text("在吗")
    harness.clock.advance(hours=49)
    result = await harness.send("text", {"text": "投诉 TS20261123-0001 已处理\n处理人：张三"})
    assert result.ok
    assert result.receipt["via"] == "template" and result.receipt["custom_error"] == 45015
    assert [c.errcode for c in server.calls_to(CUSTOM)] == [45015]
    [call] = server.calls_to(TEMPLATE)
    assert call.body["template_id"] == TEMPLATE_ID
    assert call.body["url"] == "https://bot/c"
    assert call.body["data"] == {
        "first": {"value": "投诉 TS20261123-0001 已处理"},
        "keyword1": {"value": "处理人：张三"},
        "keyword2": {"value": "2026-11-25 15:00"},  # 49 h after 14:00 Shanghai time
    }
    assert [m.via for m in server.messages_for(openid)] == ["passive", "template"]


async def test_outside_the_window_without_fallback_fails_permanently(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness()
    result = await harness.send("text", {"text": "x"})
    assert not result.ok and result.permanent
    assert "45015" in (result.error or "") and "fallback_template" in (result.error or "")
    assert harness.server.seen == []


async def test_a_used_up_window_also_falls_back(make_harness: MakeHarness) -> None:
    harness = await make_harness(fallback_template=TEMPLATE_ID)
    await harness.phone.send_text("在吗")
    vias = [(await harness.send("text", {"text": f"第{n}条"})).receipt["via"] for n in range(6)]
    assert vias == ["custom"] * 5 + ["template"]
    assert harness.server.calls_to(CUSTOM)[-1].errcode == 45047


async def test_a_menu_click_allows_three_messages_within_a_minute(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness()
    await harness.phone.click("PROGRESS")
    results = [await harness.send("text", {"text": str(n)}) for n in range(4)]
    assert [r.ok for r in results] == [True, True, True, False]
    harness.clock.advance(61)
    await harness.phone.click("PROGRESS")
    assert (await harness.send("text", {"text": "again"})).ok


async def test_fallback_template_fields_are_configurable(make_harness: MakeHarness) -> None:
    harness = await make_harness(
        fallback_template=TEMPLATE_ID,
        fallback_fields={"thing1": "{title}", "time2": "{time}", "thing3": "回复消息继续沟通"},
    )
    await harness.send("text", {"text": "您的投诉已经由客服部张三受理并将在两个工作日内回复"})
    [call] = harness.server.calls_to(TEMPLATE)
    assert call.errcode == 0
    thing1 = call.body["data"]["thing1"]["value"]
    assert thing1 == "您的投诉已经由客服部张三受理并将在两个…" and len(thing1) == 20
    assert set(call.body["data"]) == {"thing1", "time2", "thing3"}


async def test_template_message_with_client_msg_id(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    payload = {
        "template_id": TEMPLATE_ID,
        "data": {"first": "投诉已受理", "keyword1": {"value": "TS1", "color": "#173177"}},
        "url": "https://bot.example.com/c/TS1",
    }
    result = await harness.send("template", payload)
    assert result.ok and result.receipt["via"] == "template" and result.receipt["msgid"]
    [call] = harness.server.calls_to(TEMPLATE)
    assert call.body["data"] == {
        "first": {"value": "投诉已受理"},
        "keyword1": {"value": "TS1", "color": "#173177"},
    }
    assert len(call.body["client_msg_id"]) == 32


async def test_a_retried_template_row_is_shown_once(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    adapter = harness.adapter
    from bot.channels.base import OutboundMessage

    message = OutboundMessage(
        7,
        "template",
        f"user:{harness.phone.openid}",
        {"template_id": TEMPLATE_ID, "data": {}},
        "k7",
    )
    first, again = await adapter.send(message), await adapter.send(message)
    assert first.receipt["msgid"] == again.receipt["msgid"]
    assert len(harness.server.seen) == 1


async def test_unknown_template_fails_permanently(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    result = await harness.send("template", {"template_id": "nope", "data": {}})
    assert result.permanent and "40037" in (result.error or "")


async def test_image_is_uploaded_then_sent_and_reused_on_retry(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await make_harness()
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "weekly.png").write_bytes(b"\x89PNG chart")
    harness.server.customer_wrote(harness.phone.openid)
    payload = {"path": "charts/weekly.png", "title": "周报", "url": None}
    assert (await harness.send("image", payload)).ok
    assert (await harness.send("image", payload)).ok
    [upload] = harness.server.calls_to("/cgi-bin/media/upload")
    assert upload.query["type"] == "image" and upload.body["media"] == "weekly.png"
    texts = harness.server.texts_for(harness.phone.openid)
    assert len(texts) == 2 and texts[0] == texts[1] and texts[0].startswith("[图片 media_")


async def test_image_outside_the_data_dir_is_refused(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    result = await harness.send("image", {"path": "../../etc/passwd", "title": "x"})
    assert result.permanent and harness.server.calls == []


async def test_news_goes_as_one_article(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    harness.server.customer_wrote(harness.phone.openid)
    payload = {"title": "投诉进度", "description": "处理中", "url": "https://b/c/1", "picurl": ""}
    assert (await harness.send("news", payload)).ok
    assert harness.server.texts_for(harness.phone.openid) == ["投诉进度\n处理中\nhttps://b/c/1"]


async def test_card_goes_as_news_linking_to_its_page(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    harness.server.customer_wrote(harness.phone.openid)
    card = Card(
        ref="c1",
        kind="info",
        complaint_number="TS1",
        title="投诉 TS1",
        badge="已受理",
        fields=(CardField("处理人", "张三"),),
        url="https://bot.example.com/c/TS1",
    )
    assert (await harness.send("card", {"card": card.to_dict()})).ok
    [call] = harness.server.calls_to(CUSTOM)
    assert call.body["msgtype"] == "news"
    assert call.body["news"]["articles"][0]["url"] == "https://bot.example.com/c/TS1"


async def test_markdown_goes_as_text(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    harness.server.customer_wrote(harness.phone.openid)
    assert (await harness.send("markdown", {"title": "周报", "text": "本周 3 件"})).ok
    assert harness.server.texts_for(harness.phone.openid) == ["周报\n本周 3 件"]


async def test_group_targets_and_card_updates_fail_permanently(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    assert (await harness.send("text", {"text": "x"}, target="group:cs")).permanent
    card = Card(ref="c", kind="info", complaint_number="N", title="T", badge="B")
    update = await harness.send("card_update", {"card": card.to_dict(), "response_code": None})
    assert update.permanent


async def test_daily_quota_asks_to_come_back_later(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    harness.server.customer_wrote(harness.phone.openid)
    harness.server.set_quota(CUSTOM, 1)
    assert (await harness.send("text", {"text": "1"})).ok
    result = await harness.send("text", {"text": "2"})
    assert not result.ok and not result.permanent
    assert result.retry_after == 3600 and "45009" in (result.error or "")


@pytest.mark.parametrize("inject", ["busy", "http_502", "http_503"])
async def test_busy_and_5xx_are_raised_for_the_relay(
    make_harness: MakeHarness, inject: str
) -> None:
    harness = await make_harness()
    harness.server.customer_wrote(harness.phone.openid)
    if inject == "busy":
        harness.server.fail_next(CUSTOM, -1)
    else:
        harness.server.fail_next_http(CUSTOM, int(inject[-3:]))
    with pytest.raises(ChannelError) as raised:
        await harness.send("text", {"text": "x"})
    assert raised.value.errcode == (-1 if inject == "busy" else inject)
    assert (await harness.send("text", {"text": "x"})).ok  # the relay's retry succeeds


async def test_unreachable_platform_is_a_transport_error(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    await harness.server.close()
    with pytest.raises(ChannelError) as raised:
        await harness.send("text", {"text": "x"})
    assert raised.value.errcode == "transport"
    assert "access_token" not in str(raised.value)


@pytest.mark.parametrize(("errcode", "permanent"), [(43004, True), (40003, True), (45047, True)])
async def test_platform_refusals_fail_permanently(
    make_harness: MakeHarness, errcode: int, permanent: bool
) -> None:
    harness = await make_harness()
    harness.server.customer_wrote(harness.phone.openid)
    harness.server.fail_next(CUSTOM, errcode)
    result = await harness.send("text", {"text": "x"})
    assert not result.ok and result.permanent is permanent


async def test_unfollowed_customer_gets_nothing(make_harness: MakeHarness) -> None:
    harness = await make_harness(fallback_template=TEMPLATE_ID)
    await harness.phone.send_text("hi")
    await harness.phone.unsubscribe()
    result = await harness.send("text", {"text": "x"})
    assert result.permanent and "43004" in (result.error or "")


async def test_the_customer_sees_every_message_in_order(make_harness: MakeHarness) -> None:
    harness = await make_harness(fallback_template=TEMPLATE_ID)
    phone, server = harness.phone, harness.server
    await phone.subscribe()
    await phone.click("COMPLAIN")
    await harness.send("text", {"text": "请描述问题"})
    await phone.send_text("快递没到")
    harness.clock.advance(days=3)
    await harness.send("text", {"text": "已处理"})
    assert [(m.via, m.text.splitlines()[0]) for m in server.messages_for(phone.openid)] == [
        ("passive", "收到："),
        ("passive", "收到：COMPLAIN"),
        ("custom", "请描述问题"),
        ("passive", "收到：快递没到"),
        ("template", "first: 已处理"),
    ]
    assert json.dumps([m.at.isoformat() for m in server.seen])  # timestamps from the fake clock


async def test_malformed_payload_fails_permanently_without_a_call(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness()
    result = await harness.send("text", {"body": "x"})
    assert result.permanent and result.error == "text payload without text"
    assert harness.server.calls == []
