"""The real dingtalk-stream client on its own thread, connected to the fake gateway."""

from __future__ import annotations

import asyncio
import os
import threading

from bot.channels.base import CardClick, InboundEvent, InboundMessage, Reply
from bot.channels.dingtalk.inbound import BOT_MESSAGE_TOPIC, CARD_CALLBACK_TOPIC
from tests.fakes.dingtalk_gateway import FakeDingtalk
from tests.fakes.feed import RecordingFeed
from tests.integration.channels.dingtalk.conftest import MakeAdapter


async def test_subscribes_to_robot_messages_and_card_callbacks(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    await make_adapter().start(RecordingFeed())
    await fake.wait_connected()
    (opened,) = fake.calls("/v1.0/gateway/connections/open")
    assert opened.body["clientId"] == fake.client_id
    assert {(s["type"], s["topic"]) for s in opened.body["subscriptions"]} == {
        ("CALLBACK", BOT_MESSAGE_TOPIC),
        ("CALLBACK", CARD_CALLBACK_TOPIC),
    }
    assert opened.body["ua"].startswith("dingtalk-sdk-python/v0.24.3")


async def test_robot_message_reaches_feed_and_is_acknowledged(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    feed = RecordingFeed()
    await make_adapter().start(feed)
    message_id = await fake.push_bot_message("进度 TS20261123-0001", msg_id="msgA1")
    ack = await fake.wait_acked(message_id)
    (event,) = feed.events
    assert isinstance(event, InboundMessage)
    assert (event.channel, event.dedupe_key, event.sender, event.kind, event.text) == (
        "staff-dingtalk",
        "msg:msgA1",
        "0101",
        "text",
        "进度 TS20261123-0001",
    )
    assert ack.data == {"response": None}


async def test_card_click_reaches_feed_as_a_card_click(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    feed = RecordingFeed()
    await make_adapter().start(feed)
    message_id = await fake.push_card_callback(
        "task:17:zhangsan",
        "0101",
        action="transfer",
        params={"select_assignee": ["lisi"], "input_comment": "请跟进"},
    )
    await fake.wait_acked(message_id)
    (event,) = feed.events
    assert isinstance(event, CardClick)
    assert (event.card_ref, event.sender, event.action) == ("task:17:zhangsan", "0101", "transfer")
    assert dict(event.selections) == {"assignee": ("lisi",)}
    assert dict(event.inputs) == {"comment": "请跟进"}
    assert event.dedupe_key == f"card:{message_id}"


async def test_ack_is_sent_only_after_feed_returned(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    loops: list[asyncio.AbstractEventLoop] = []

    async def slow_feed(event: InboundEvent) -> Reply:
        loops.append(asyncio.get_running_loop())
        entered.set()
        await release.wait()
        return Reply()

    await make_adapter().start(slow_feed)
    message_id = await fake.push_bot_message("你好")
    await asyncio.wait_for(entered.wait(), 10)
    assert fake.acks_for(message_id) == []  # stored? not yet: no ACK
    release.set()
    await fake.wait_acked(message_id)
    assert loops == [asyncio.get_running_loop()]  # feed ran on the service loop


async def test_feed_failure_is_not_acknowledged_and_the_redelivery_is_handled(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    events: list[InboundEvent] = []

    async def flaky_feed(event: InboundEvent) -> Reply:
        events.append(event)
        if len(events) == 1:
            raise RuntimeError("database went away")
        return Reply()

    await make_adapter().start(flaky_feed)
    message_id = await fake.push_card_callback("task:17:zhangsan", "0101", action="accept")
    await fake.wait_acked(message_id)
    assert [a.code for a in fake.acks_for(message_id)] == [500, 200]
    assert fake.pushes[message_id].attempts == 2
    assert [e.dedupe_key for e in events] == [f"card:{message_id}"] * 2


async def test_refused_reply_is_not_acknowledged(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    feed = RecordingFeed(answer=lambda e: Reply(accepted=len(feed.events) > 1))
    await make_adapter().start(feed)
    message_id = await fake.push_card_callback("task:17:zhangsan", "0101", action="accept")
    await fake.wait_acked(message_id)
    assert [a.code for a in fake.acks_for(message_id)] == [500, 200]
    assert len({e.dedupe_key for e in feed.events}) == 1


async def test_unacknowledged_push_is_redelivered_after_the_timeout(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    calls = 0

    async def first_times_out(event: InboundEvent) -> Reply:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.6)  # beyond the fake's ack_timeout: DingTalk pushes again
        return Reply()

    await make_adapter().start(first_times_out)
    message_id = await fake.push_card_callback("task:17:zhangsan", "0101", action="accept")
    await fake.wait_for(lambda: len(fake.acks_for(message_id)) == 2)
    assert fake.pushes[message_id].attempts == 2
    assert calls == 2


async def test_a_duplicate_push_after_the_ack_carries_the_same_key(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    feed = RecordingFeed()
    await make_adapter().start(feed)
    bot = await fake.push_bot_message("进度", msg_id="msgDUP")
    card = await fake.push_card_callback("task:17:zhangsan", "0101", action="accept")
    await fake.wait_acked(bot)
    await fake.wait_acked(card)
    await fake.repush(bot)
    await fake.repush(card)
    await feed.wait_for(4)
    keys = [e.dedupe_key for e in feed.events]
    assert sorted(keys) == sorted(["msg:msgDUP", f"card:{card}"] * 2)


async def test_unreadable_card_frame_is_acknowledged_and_dropped(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    feed = RecordingFeed()
    await make_adapter().start(feed)
    message_id = await fake.push(CARD_CALLBACK_TOPIC, {"outTrackId": "task:1", "content": "{}"})
    await fake.wait_acked(message_id)
    assert feed.events == []


async def test_ping_is_answered_with_its_opaque(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    await make_adapter().start(RecordingFeed())
    await fake.wait_connected()
    ping = await fake.ping()
    await fake.wait_for(lambda: bool(fake.acks_for(ping)))
    (ack,) = fake.acks_for(ping)
    assert ack.code == 200 and set(ack.data) == {"opaque"}


async def test_disconnect_reconnects_and_later_pushes_arrive(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    feed = RecordingFeed()
    await make_adapter().start(feed)
    await fake.wait_connected()
    await fake.send_disconnect()
    await fake.wait_connected(opened=2)
    message_id = await fake.push_bot_message("重连后")
    await fake.wait_acked(message_id)
    assert [e.text for e in feed.events if isinstance(e, InboundMessage)] == ["重连后"]
    assert len(fake.calls("/v1.0/gateway/connections/open")) == 2


async def test_dropped_socket_reconnects_and_later_pushes_arrive(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    feed = RecordingFeed()
    await make_adapter().start(feed)
    await fake.wait_connected()
    await fake.drop_connections()
    await fake.wait_connected(opened=2)
    message_id = await fake.push_card_callback("task:17:zhangsan", "0101", action="accept")
    await fake.wait_acked(message_id)
    assert len(feed.events) == 1


async def test_event_in_flight_at_disconnect_is_acknowledged_on_its_own_socket(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_feed(event: InboundEvent) -> Reply:
        entered.set()
        await release.wait()
        return Reply()

    await make_adapter().start(slow_feed)
    message_id = await fake.push_card_callback("task:17:zhangsan", "0101", action="accept")
    await asyncio.wait_for(entered.wait(), 10)
    first_connection = fake.live_connections[0]
    await fake.send_disconnect(close_after=5.0)
    await fake.wait_connected(opened=2)  # the new connection is up before the old one closes
    release.set()
    ack = await fake.wait_acked(message_id)
    assert ack.connection_id == first_connection
    assert fake.pushes[message_id].attempts == 1


async def test_stop_ends_the_thread_and_closes_the_socket(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    adapter = make_adapter()
    await adapter.start(RecordingFeed())
    await fake.wait_connected()
    stream = adapter.stream
    assert stream is not None and stream.running
    threads = [t for t in threading.enumerate() if t.name == "dingtalk-stream:staff-dingtalk"]
    await adapter.stop()
    await adapter.stop()  # twice is fine
    assert not stream.running
    assert not any(t.is_alive() for t in threads)
    await fake.wait_for(lambda: fake.live_connections == [])


async def test_stop_cuts_the_reconnect_backoff_short(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    # Refused credentials, then a long backoff that stop() must not wait out.
    adapter = make_adapter(client_secret="wrong", reconnect_delays=(30.0,))
    await adapter.start(RecordingFeed())
    await fake.wait_for(lambda: len(fake.calls("/v1.0/gateway/connections/open")) == 1)
    stream = adapter.stream
    assert stream is not None
    await asyncio.wait_for(adapter.stop(), 5)
    assert not stream.running
    assert fake.connections_opened == 0


async def test_each_channel_connects_through_its_own_api_base(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    """The SDK reads DINGTALK_OPENAPI_ENDPOINT once per process; each channel still has its own."""
    async with FakeDingtalk(client_id="otherapp", client_secret="othersecret") as other:
        first, second = RecordingFeed(), RecordingFeed()
        await make_adapter().start(first)
        elsewhere = make_adapter(gateway=other, name="other-dingtalk")
        await elsewhere.start(second)
        await fake.wait_connected()
        await other.wait_connected()
        await fake.wait_acked(await fake.push_bot_message("一"))
        await other.wait_acked(await other.push_bot_message("二"))
        assert [e.channel for e in first.events] == ["staff-dingtalk"]
        assert [e.channel for e in second.events] == ["other-dingtalk"]
        assert "DINGTALK_OPENAPI_ENDPOINT" not in os.environ
        await elsewhere.stop()


async def test_a_refused_websocket_handshake_is_retried(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    fake.fail_next("/connect", status=503)
    feed = RecordingFeed()
    await make_adapter().start(feed)
    await fake.wait_connected()
    assert len(fake.calls("/connect")) == 2
    assert len(fake.calls("/v1.0/gateway/connections/open")) == 2  # a ticket opens one socket
    await fake.wait_acked(await fake.push_bot_message("握手重试后"))
    assert len(feed.events) == 1
