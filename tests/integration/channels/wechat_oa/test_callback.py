"""The callback over real HTTP: verification, three modes, refusals, retries and the 503 path."""

from __future__ import annotations

import logging
from dataclasses import replace

import aiohttp
import pytest

from bot.channels.base import InboundEvent, InboundMessage, Reply
from tests.fakes.feed import RecordingFeed
from tests.fakes.wechat_phone import Mode, plain_xml

from .conftest import MakeHarness
from .payloads import BILLION_LAUGHS, EXTERNAL_ENTITY

MODES: list[Mode] = ["plaintext", "compatible", "safe"]


async def test_url_verification_echoes_echostr(make_harness: MakeHarness) -> None:
    harness = await make_harness("safe")
    assert await harness.phone.verify_url("8426951") == (200, "8426951")


async def test_url_verification_with_a_wrong_token_is_refused(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness("safe")
    harness.phone.token = "not-our-token"
    status, _ = await harness.phone.verify_url()
    assert status == 403


@pytest.mark.parametrize("mode", MODES)
async def test_text_gets_the_passive_reply_in_every_mode(
    make_harness: MakeHarness, mode: Mode
) -> None:
    harness = await make_harness(mode)
    reply = await harness.phone.send_text("快递三天没到")
    assert reply.status == 200
    assert reply.text == "收到：快递三天没到"
    assert reply.fields["ToUserName"] == harness.phone.openid
    assert reply.fields["FromUserName"] == harness.phone.account
    assert ("<Encrypt>" in reply.body) == (mode != "plaintext")
    [event] = harness.feed.events
    assert isinstance(event, InboundMessage) and event.text == "快递三天没到"


async def test_no_reply_text_answers_success(make_harness: MakeHarness) -> None:
    harness = await make_harness("safe", feed=RecordingFeed(reply=Reply(text=None)))
    reply = await harness.phone.click("PROGRESS")
    assert (reply.status, reply.body, reply.text) == (200, "success", None)


async def test_not_accepted_answers_503_so_wechat_retries(make_harness: MakeHarness) -> None:
    harness = await make_harness("safe", feed=RecordingFeed(reply=Reply(accepted=False)))
    reply = await harness.phone.send_text("x")
    assert reply.status == 503


async def test_a_failing_feed_answers_503(make_harness: MakeHarness) -> None:
    def explode(event: InboundEvent) -> Reply:
        raise RuntimeError("database down")

    harness = await make_harness("safe", feed=RecordingFeed(answer=explode))
    assert (await harness.phone.send_text("x")).status == 503


async def test_before_start_deliveries_answer_503(make_harness: MakeHarness) -> None:
    harness = await make_harness("safe", start=False)
    assert (await harness.phone.send_text("x")).status == 503
    assert harness.feed.events == []


async def test_retried_delivery_gets_the_same_reply_and_key(make_harness: MakeHarness) -> None:
    stored: dict[str, Reply] = {}

    def answer(event: InboundEvent) -> Reply:
        # Like the service: the first delivery decides, a duplicate gets the stored reply.
        return stored.setdefault(event.dedupe_key, Reply(text=f"第{len(stored) + 1}条"))

    harness = await make_harness("safe", feed=RecordingFeed(answer=answer))
    first = await harness.phone.send_text("在吗")
    harness.clock.advance(5)
    retry = await harness.phone.redeliver()
    assert first.text == retry.text == "第1条"
    assert first.body != retry.body  # re-encrypted, same content
    keys = [e.dedupe_key for e in harness.feed.events]
    assert len(keys) == 2 and keys[0] == keys[1]


async def test_types_the_service_does_not_handle_are_acknowledged_unfed(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness("safe")
    phone = harness.phone
    fields = phone.fields("event", Event="LOCATION", Latitude="31.2", Longitude="121.4")
    reply = await phone.deliver(fields)
    assert (reply.status, reply.body) == (200, "success")
    assert harness.feed.events == []


async def test_long_reply_is_cut_to_2048_bytes(make_harness: MakeHarness) -> None:
    harness = await make_harness("safe", feed=RecordingFeed(reply=Reply(text="长" * 1000)))
    reply = await harness.phone.send_text("x")
    assert reply.text is not None
    assert len(reply.text.encode("utf-8")) <= 2048 and reply.text.endswith("…")


@pytest.mark.parametrize("mode", MODES)
async def test_every_message_type_reaches_feed(make_harness: MakeHarness, mode: Mode) -> None:
    harness = await make_harness(mode)
    phone = harness.phone
    await phone.subscribe("store42")
    await phone.send_text("你好")
    await phone.send_image()
    await phone.send_voice("我要投诉")
    await phone.send_video()
    await phone.send_location(31.230416, 121.473701, "上海市黄浦区")
    await phone.send_link("订单", "详情", "https://shop.example/o/1")
    await phone.click("COMPLAIN")
    await phone.view("https://bot.example.com/c/form")
    await phone.unsubscribe()
    events = harness.feed.events
    assert [(e.kind, e.raw_type) for e in events if isinstance(e, InboundMessage)] == [
        ("subscribe", "subscribe"),
        ("text", "text"),
        ("image", "image"),
        ("voice", "voice"),
        ("video", "video"),
        ("location", "location"),
        ("link", "link"),
        ("click", "CLICK"),
        ("click", "VIEW"),
        ("unsubscribe", "unsubscribe"),
    ]
    assert len({e.dedupe_key for e in events}) == 10


async def test_customer_photo_downloads_by_media_id(make_harness: MakeHarness) -> None:
    harness = await make_harness("safe")
    await harness.phone.send_image(content=b"\x89PNG the parcel")
    [event] = harness.feed.events
    assert isinstance(event, InboundMessage) and event.media_id
    assert await harness.adapter.download_media(event.media_id) == b"\x89PNG the parcel"


# --- refusals: a 4xx, no feed, one log line with the reason, and the channel still works ---------


def forged_signature(phone, callback):  # type: ignore[no-untyped-def]
    return replace(callback, query={**callback.query, "signature": "0" * 40})


def forged_msg_signature(phone, callback):  # type: ignore[no-untyped-def]
    return replace(callback, query={**callback.query, "msg_signature": "0" * 40})


def wrong_app_id(phone, callback):  # type: ignore[no-untyped-def]
    intruder = phone.other(phone.openid)
    intruder.app_id = "wxffffffffffffffff"
    return intruder.build(callback.fields)


def stale_timestamp(phone, callback):  # type: ignore[no-untyped-def]
    return phone.resigned(callback, timestamp=int(phone.clock().timestamp()) - 301)


def truncated_base64(phone, callback):  # type: ignore[no-untyped-def]
    body = callback.body.decode()
    start = body.index("<Encrypt><![CDATA[") + len("<Encrypt><![CDATA[")
    end = body.index("]]></Encrypt>")
    return replace(callback, body=(body[:start] + body[start : end - 9] + body[end:]).encode())


def non_xml(phone, callback):  # type: ignore[no-untyped-def]
    return replace(callback, body="投诉 please".encode())


def billion_laughs_outside(phone, callback):  # type: ignore[no-untyped-def]
    return replace(callback, body=BILLION_LAUGHS.encode())


def external_entity_outside(phone, callback):  # type: ignore[no-untyped-def]
    return replace(callback, body=EXTERNAL_ENTITY.encode())


def billion_laughs_inside(phone, callback):  # type: ignore[no-untyped-def]
    return phone.build_xml(BILLION_LAUGHS)


def external_entity_inside(phone, callback):  # type: ignore[no-untyped-def]
    return phone.build_xml(EXTERNAL_ENTITY)


def replayed_with_new_body(phone, callback):  # type: ignore[no-untyped-def]
    # A captured query string reused for a body of the attacker's choosing.
    other = phone.build(phone.fields("text", Content="伪造"))
    return replace(other, query=callback.query)


ATTACKS = [
    forged_signature,
    forged_msg_signature,
    wrong_app_id,
    stale_timestamp,
    truncated_base64,
    non_xml,
    billion_laughs_outside,
    external_entity_outside,
    billion_laughs_inside,
    external_entity_inside,
    replayed_with_new_body,
]


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.__name__)
async def test_hostile_delivery_is_refused_and_the_next_one_works(
    make_harness: MakeHarness, attack, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    harness = await make_harness("safe")
    phone = harness.phone
    genuine = phone.build(phone.fields("text", Content="SECRET-PAYLOAD-MARKER"))
    with caplog.at_level(logging.WARNING):
        refused = await phone.post(attack(phone, genuine))
    assert 400 <= refused.status < 500
    assert harness.feed.events == []
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1
    assert "SECRET-PAYLOAD-MARKER" not in caplog.text and "伪造" not in caplog.text
    assert harness.server.seen == []
    ok = await phone.send_text("正常消息")
    assert ok.status == 200 and ok.text == "收到：正常消息"
    assert len(harness.feed.events) == 1


@pytest.mark.parametrize("mode", ["plaintext", "compatible"])
async def test_forged_signature_is_refused_in_other_modes(
    make_harness: MakeHarness, mode: Mode
) -> None:
    harness = await make_harness(mode)
    phone = harness.phone
    callback = forged_signature(phone, phone.build(phone.fields("text", Content="x")))
    assert (await phone.post(callback)).status == 403
    assert harness.feed.events == []


async def test_a_10_mb_body_is_refused(make_harness: MakeHarness) -> None:
    harness = await make_harness("safe")
    phone = harness.phone
    callback = phone.build(phone.fields("text", Content="x"))
    huge = plain_xml({"Content": "a" * (10 * 1024 * 1024)}).encode()
    try:
        status = (await phone.post(replace(callback, body=huge))).status
    except aiohttp.ClientError:
        status = 413  # the server may close the connection before the upload ends
    assert status == 413
    assert harness.feed.events == []
    ok = await phone.send_text("正常消息")
    assert ok.status == 200 and len(harness.feed.events) == 1


async def test_a_10_mb_chunked_body_is_refused(make_harness: MakeHarness) -> None:
    harness = await make_harness("safe")
    phone = harness.phone
    callback = phone.build(phone.fields("text", Content="x"))

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(160):
            yield b"a" * 65536

    async with aiohttp.ClientSession() as session:
        try:
            async with session.post(harness.url, params=callback.query, data=chunks()) as resp:
                status = resp.status
        except aiohttp.ClientError:
            status = 413
    assert status == 413
    assert harness.feed.events == []
