"""The WeCom callback URL over real HTTP: URL check, safety rules, events handed to feed."""

from __future__ import annotations

from typing import Any

import pytest

from bot.channels.base import CardClick, InboundEvent, InboundMessage, Reply
from tests.fakes.feed import RecordingFeed
from tests.integration.channels.wecom.conftest import USER, Harness, MakeHarness


async def test_url_verification_answers_the_plain_echostr(harness: Harness) -> None:
    assert await harness.get(harness.wecom.url_check("1616140317555161061")) == (
        200,
        "1616140317555161061",
    )


async def test_url_verification_with_a_forged_signature_is_refused(harness: Harness) -> None:
    status, _ = await harness.get(harness.wecom.url_check("echo", token="forged"))
    assert status == 403


async def test_text_message_reaches_feed_as_inbound_text_from_the_userid(
    harness: Harness,
) -> None:
    status, body = await harness.post(harness.wecom.text(USER, "我的待办", msg_id="9001"))
    assert (status, body) == (200, "")
    (event,) = harness.feed.events
    assert isinstance(event, InboundMessage)
    assert (event.kind, event.sender, event.text, event.dedupe_key) == (
        "text",
        USER,
        "我的待办",
        "msg:9001",
    )


async def test_reply_text_goes_back_as_an_encrypted_passive_reply(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(RecordingFeed(reply=Reply(text="您有 2 条待办")))
    status, body = await harness.post(harness.wecom.text(USER, "我的待办"))
    assert status == 200
    inner = harness.wecom.open_reply(body)
    assert (inner["ToUserName"], inner["MsgType"], inner["Content"]) == (
        USER,
        "text",
        "您有 2 条待办",
    )


async def test_card_click_reaches_feed_as_the_right_card_click(harness: Harness) -> None:
    code = harness.fake.click_code(USER, "c-20241123-0001-transfer-zhangsan")
    xml = harness.wecom.card_click(
        USER,
        "c-20241123-0001-transfer-zhangsan",
        "act:transfer",
        code,
        selections={"assignee": ["lisi"]},
    )
    status, body = await harness.post(xml)
    assert (status, body) == (200, "")
    (event,) = harness.feed.events
    assert isinstance(event, CardClick)
    assert event.card_ref == "c-20241123-0001-transfer-zhangsan"
    assert event.action == "transfer"
    assert event.sender == USER
    assert event.selections == {"assignee": ("lisi",)}
    assert event.response_code == code


async def test_a_click_the_service_could_not_store_makes_wecom_retry(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(RecordingFeed(reply=Reply(accepted=False)))
    xml = harness.wecom.card_click(USER, "c-1", "act:accept", "rc-1")
    assert (await harness.post(xml))[0] == 503


async def test_a_feed_that_fails_makes_wecom_retry(make_harness: MakeHarness) -> None:
    def explode(event: InboundEvent) -> Reply:
        raise RuntimeError("database down")

    harness = await make_harness(RecordingFeed(answer=explode))
    assert (await harness.post(harness.wecom.text(USER, "hi")))[0] == 503


async def test_events_the_service_does_not_need_are_answered_without_feed(
    harness: Harness,
) -> None:
    xml = (
        f"<xml><ToUserName>{harness.fake.corp_id}</ToUserName><FromUserName>{USER}"
        "</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType>"
        f"<Event>enter_agent</Event><AgentID>{harness.fake.agent_id}</AgentID></xml>"
    )
    assert await harness.post(xml) == (200, "")
    assert harness.feed.events == []


@pytest.mark.parametrize(
    ("envelope", "status"),
    [
        ({"token": "forged"}, 403),
        ({"receive_id": "ww-another-corp"}, 403),
        ({"to_user": "ww-another-corp"}, 403),
        ({"timestamp": -3600}, 403),
    ],
    ids=["forged signature", "wrong CorpID", "wrong ToUserName", "stale timestamp"],
)
async def test_forged_or_replayed_callbacks_are_refused_and_feed_is_not_called(
    harness: Harness, envelope: dict[str, Any], status: int
) -> None:
    if "timestamp" in envelope:
        envelope = {"timestamp": int(harness.clock.time()) + envelope["timestamp"]}
    result = await harness.post(harness.wecom.text(USER, "hi"), **envelope)
    assert result[0] == status
    assert harness.feed.events == []


async def test_a_click_from_another_app_is_refused(harness: Harness) -> None:
    xml = harness.wecom.card_click(USER, "c-1", "act:accept", "rc-1").replace(
        f"<AgentID>{harness.fake.agent_id}</AgentID>", "<AgentID>999</AgentID>"
    )
    assert (await harness.post(xml))[0] == 403
    assert harness.feed.events == []


async def test_entities_in_the_envelope_are_refused(harness: Harness) -> None:
    query, _ = harness.wecom.envelope(harness.wecom.text(USER, "hi"))
    body = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'
    )
    assert (await harness.post_raw(query, body))[0] == 400
    assert harness.feed.events == []


async def test_entities_inside_the_ciphertext_are_refused(harness: Harness) -> None:
    evil = '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName></xml>'
    assert (await harness.post(evil))[0] == 400
    assert harness.feed.events == []


async def test_an_oversized_body_is_refused_unread(harness: Harness) -> None:
    query, _ = harness.wecom.envelope(harness.wecom.text(USER, "hi"))
    body = b"<xml><Encrypt>" + b"A" * (65 * 1024) + b"</Encrypt></xml>"
    assert (await harness.post_raw(query, body))[0] == 413
    assert harness.feed.events == []


async def test_a_callback_without_signature_parameters_is_a_bad_request(
    harness: Harness,
) -> None:
    _, body = harness.wecom.envelope(harness.wecom.text(USER, "hi"))
    assert (await harness.post_raw({}, body))[0] == 400
    assert harness.feed.events == []


async def test_a_retried_delivery_reaches_feed_with_the_same_dedupe_key(harness: Harness) -> None:
    xml = harness.wecom.card_click(USER, "c-1", "act:accept", "rc-1")
    await harness.post(xml)
    await harness.post(xml)
    first, again = harness.feed.events
    assert first.dedupe_key == again.dedupe_key
