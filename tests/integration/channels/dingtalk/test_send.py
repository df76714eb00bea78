"""adapter.send against the fake DingTalk over real HTTP: robot messages, cards, group robots."""

from __future__ import annotations

import json
from urllib.parse import unquote
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from bot.channels.base import SendResult
from bot.channels.dingtalk.outbound import DingtalkServerError, RobotSilence
from tests.conftest import TEST_REDIS_URL
from tests.fakes.clock import FakeClock
from tests.fakes.dingtalk_gateway import FakeDingtalk
from tests.integration.channels.dingtalk.conftest import (
    ROBOT_TOKEN,
    MakeAdapter,
    outbound,
    task_card,
)

BATCH_SEND = "/v1.0/robot/oToMessages/batchSend"
TOKEN = "/v1.0/oauth2/accessToken"
TEMPLATE = "complaint-task.schema"


async def test_text_to_an_employee_goes_through_the_robot_batch_send(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    result = await make_adapter(robot_code=fake.robot_code).send(
        outbound("text", "user:0101", {"text": "您有一条新投诉"})
    )
    assert result.ok and result.receipt["processQueryKey"]
    (call,) = fake.calls(BATCH_SEND)
    assert call.body["robotCode"] == fake.robot_code
    assert call.body["userIds"] == ["0101"]
    assert (call.body["msgKey"], json.loads(call.body["msgParam"])) == (
        "sampleText",
        {"content": "您有一条新投诉"},
    )
    assert call.headers["x-acs-dingtalk-access-token"].startswith("tok")
    assert fake.robot_messages[0]["userId"] == "0101"


async def test_the_token_is_fetched_once_and_reused(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    adapter = make_adapter()
    for n in range(3):
        assert (await adapter.send(outbound("text", "user:0101", {"text": str(n)}))).ok
    assert len(fake.calls(TOKEN)) == 1
    assert fake.calls(TOKEN)[0].body == {"appKey": fake.client_id, "appSecret": fake.client_secret}


async def test_an_expired_token_is_refreshed_once_and_the_send_retried(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    adapter = make_adapter()
    assert (await adapter.send(outbound("text", "user:0101", {"text": "一"}))).ok
    fake.expire_tokens()
    assert (await adapter.send(outbound("text", "user:0101", {"text": "二"}))).ok
    assert len(fake.calls(TOKEN)) == 2
    assert len(fake.calls(BATCH_SEND)) == 3  # one refused, retried once with the new token


async def test_a_token_refused_twice_is_not_retried_in_a_loop(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    body = {"code": "InvalidAuthentication", "message": "不合法的access_token", "requestid": "r"}
    fake.fail_next(BATCH_SEND, status=401, body=body, times=5)
    result = await make_adapter().send(outbound("text", "user:0101", {"text": "x"}))
    assert not result.ok and not result.permanent and result.retry_after is None
    assert len(fake.calls(BATCH_SEND)) == 2


async def test_rate_limited_api_asks_to_come_back_later(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    fake.fail_next(BATCH_SEND, status=429, headers={"Retry-After": "7"})
    result = await make_adapter().send(outbound("text", "user:0101", {"text": "x"}))
    assert result.retry_after == 7


async def test_server_errors_raise_for_the_relay_to_retry(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    fake.fail_next(BATCH_SEND, status=502)
    with pytest.raises(DingtalkServerError):
        await make_adapter().send(outbound("text", "user:0101", {"text": "x"}))


async def test_an_unknown_employee_fails_for_good(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    result = await make_adapter().send(outbound("text", "user:9999", {"text": "x"}))
    assert result.permanent and "9999" in (result.error or "")


async def test_markdown_image_and_news_use_the_matching_robot_templates(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    adapter = make_adapter()
    md = outbound("markdown", "user:0101", {"title": "周报", "text": "**本周** 12 件"})
    img = outbound(
        "image", "user:0101", {"path": "c.png", "title": "趋势", "url": "http://bot.test/c.png"}
    )
    news = outbound(
        "news", "user:0101", {"title": "T", "description": "D", "url": "http://u", "picurl": ""}
    )
    for message in (md, img, news):
        assert (await adapter.send(message)).ok
    sent = [(m["msgKey"], m["msgParam"]) for m in fake.robot_messages]
    assert sent[0] == ("sampleMarkdown", {"title": "周报", "text": "**本周** 12 件"})
    assert sent[1] == (
        "sampleMarkdown",
        {"title": "趋势", "text": "#### 趋势\n\n![趋势](http://bot.test/c.png)"},
    )
    assert sent[2][0] == "sampleLink" and sent[2][1]["messageUrl"] == "http://u"


@pytest.mark.parametrize("target", ["user:0101", "group:management-group"])
async def test_image_without_url_cannot_be_shown(target: str, make_adapter: MakeAdapter) -> None:
    result = await make_adapter().send(outbound("image", target, {"path": "c.png"}))
    assert result.permanent and "url" in (result.error or "")


# --- interactive cards ------------------------------------------------------------------------


async def test_card_is_created_and_delivered_to_the_person(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    card = task_card()
    result = await make_adapter(card_template_id=TEMPLATE).send(
        outbound("card", "user:0101", {"card": card.to_dict()})
    )
    assert result.ok and result.receipt["outTrackId"] == card.ref
    instance = fake.cards[card.ref]
    assert (instance.template_id, instance.open_space_id) == (TEMPLATE, "dtv1.card//IM_ROBOT.0101")
    assert instance.callback_type == "STREAM"
    assert [a["id"] for a in json.loads(instance.params["actions"])] == ["accept", "transfer"]


async def test_a_card_sent_twice_counts_as_delivered(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    adapter = make_adapter(card_template_id=TEMPLATE)
    message = outbound("card", "user:0101", {"card": task_card().to_dict()})
    assert (await adapter.send(message)).ok
    again = await adapter.send(message)
    assert again.ok and again.receipt["duplicate"] is True
    assert len(fake.cards) == 1


async def test_card_for_an_unknown_person_fails_for_good(make_adapter: MakeAdapter) -> None:
    adapter = make_adapter(card_template_id=TEMPLATE)
    result = await adapter.send(outbound("card", "user:9999", {"card": task_card().to_dict()}))
    assert result.permanent


async def test_card_update_settles_the_card_for_everyone_and_tells_only_the_clicker(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    adapter = make_adapter(card_template_id=TEMPLATE)
    card = task_card()
    await adapter.send(outbound("card", "user:0101", {"card": card.to_dict()}))
    refused = card.with_notice("此任务已由李四受理")
    result = await adapter.send(
        outbound("card_update", "user:0103", {"card": refused.to_dict(), "response_code": None})
    )
    assert result.ok
    settled = card.settle("已由 李四 受理 · 11-23 14:05")
    await adapter.send(
        outbound("card_update", "group:management-group", {"card": settled.to_dict()})
    )
    instance = fake.cards[card.ref]
    assert instance.view("0101")["outcome"] == "已由 李四 受理 · 11-23 14:05"
    assert instance.view("0101")["actions"] == "[]"
    assert instance.view("0103")["notice"] == "此任务已由李四受理"
    assert instance.view("0101")["notice"] == ""
    assert fake.group_messages[ROBOT_TOKEN] == []  # an update is no group message


async def test_card_update_of_an_unknown_card_fails_for_good(make_adapter: MakeAdapter) -> None:
    adapter = make_adapter(card_template_id=TEMPLATE)
    result = await adapter.send(
        outbound("card_update", "user:0101", {"card": task_card("nope").to_dict()})
    )
    assert result.permanent


async def test_group_card_with_a_known_conversation_is_interactive(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    adapter = make_adapter(
        card_template_id=TEMPLATE, group_conversations={"management-group": "cidMGMT=="}
    )
    card = task_card()
    assert (
        await adapter.send(outbound("card", "group:management-group", {"card": card.to_dict()}))
    ).ok
    assert fake.cards[card.ref].open_space_id == "dtv1.card//IM_GROUP.cidMGMT=="


async def test_without_template_the_card_is_an_action_card_of_typed_commands(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    adapter = make_adapter()
    assert (await adapter.send(outbound("card", "user:0101", {"card": task_card().to_dict()}))).ok
    (sent,) = fake.robot_messages
    assert sent["msgKey"] == "sampleActionCard2"
    assert unquote(sent["msgParam"]["actionURL1"]) == (
        "dtmd://dingtalkclient/sendMessage?content=受理 TS20261123-0001"
    )
    update = outbound("card_update", "user:0101", {"card": task_card().settle("已受理").to_dict()})
    assert (await adapter.send(update)).ok
    assert len(fake.calls(BATCH_SEND)) == 1 and fake.cards == {}


# --- custom group robots ----------------------------------------------------------------------


async def test_group_notice_goes_through_the_signed_robot_webhook(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    result = await make_adapter().send(
        outbound("markdown", "group:management-group", {"title": "升级", "text": "**超时**"})
    )
    assert result.ok
    (call,) = fake.calls("/robot/send")
    assert call.query["access_token"] == ROBOT_TOKEN and call.query["sign"]
    assert fake.group_messages[ROBOT_TOKEN][0]["markdown"] == {"title": "升级", "text": "**超时**"}


async def test_digest_chart_is_shown_by_url_in_markdown(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    payload = {"path": "d.png", "title": "本周投诉", "url": "http://bot.test/media/d.png"}
    assert (await make_adapter().send(outbound("image", "group:management-group", payload))).ok
    text = fake.group_messages[ROBOT_TOKEN][0]["markdown"]["text"]
    assert "![本周投诉](http://bot.test/media/d.png)" in text


async def test_group_card_without_conversation_is_posted_as_markdown(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    adapter = make_adapter(card_template_id=TEMPLATE)
    message = outbound("card", "group:management-group", {"card": task_card().to_dict()})
    assert (await adapter.send(message)).ok
    assert "客户姓名" in fake.group_messages[ROBOT_TOKEN][0]["markdown"]["text"]


@pytest.mark.parametrize("group", ["nowhere", "bare-group"])
async def test_groups_without_a_robot_fail_for_good(group: str, make_adapter: MakeAdapter) -> None:
    result = await make_adapter().send(outbound("text", f"group:{group}", {"text": "x"}))
    assert result.permanent


async def test_a_wrong_robot_secret_fails_for_good(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    fake.add_group_robot(ROBOT_TOKEN, "another-secret")
    result = await make_adapter().send(outbound("text", "group:management-group", {"text": "x"}))
    assert result.permanent and "310000" in (result.error or "")


async def test_robot_webhook_429_asks_to_come_back_later(
    fake: FakeDingtalk, make_adapter: MakeAdapter
) -> None:
    fake.fail_next("/robot/send", status=429, headers={"Retry-After": "30"})
    result = await make_adapter().send(outbound("text", "group:management-group", {"text": "x"}))
    assert result.retry_after == 30


async def test_after_130101_the_robot_is_left_alone_until_the_silence_ends(
    fake: FakeDingtalk, make_adapter: MakeAdapter, clock: FakeClock
) -> None:
    adapter = make_adapter()

    async def notice(n: int) -> SendResult:
        return await adapter.send(outbound("text", "group:management-group", {"text": f"#{n}"}))

    for n in range(20):
        assert (await notice(n)).ok
    too_fast = await notice(20)
    assert too_fast.retry_after == 600 and "130101" in (too_fast.error or "")
    calls = len(fake.calls("/robot/send"))
    clock.advance(300)
    waiting = await notice(21)
    assert waiting.retry_after == pytest.approx(300)
    assert len(fake.calls("/robot/send")) == calls  # the platform was not asked
    clock.advance(300)
    assert (await notice(22)).ok


async def test_a_burst_of_100_paced_notices_arrives_complete_and_never_too_fast(
    fake: FakeDingtalk, make_adapter: MakeAdapter, clock: FakeClock
) -> None:
    """The relay's job, done here by a plain sliding-window pacer on the fake clock."""
    adapter = make_adapter()
    messages = [
        outbound("markdown", "group:management-group", {"title": "通知", "text": f"#{n}"})
        for n in range(100)
    ]
    pace = adapter.pace(messages[0])
    assert pace is not None and pace.per_minute == 20
    sent_at: list[float] = []
    for message in messages:
        assert adapter.pace(message) == pace  # one robot, one bucket
        window = [t for t in sent_at if t > clock.time() - 60]
        if len(window) >= pace.per_minute:
            clock.advance(window[0] + 60 - clock.time())
        result = await adapter.send(message)
        assert result.ok, result.error
        sent_at.append(clock.time())
        clock.advance(0.5)
    received = fake.group_messages[ROBOT_TOKEN]
    assert [m["markdown"]["text"] for m in received] == [f"#{n}" for n in range(100)]
    times = [m["at"] for m in received]
    assert all(sum(1 for t in times if s <= t < s + 60) <= 20 for s in times)
    assert ROBOT_TOKEN not in fake.robot_silenced_until


@pytest.mark.redis
async def test_the_silence_is_shared_by_every_worker_through_redis(
    fake: FakeDingtalk, make_adapter: MakeAdapter, clock: FakeClock
) -> None:
    redis = Redis.from_url(TEST_REDIS_URL)
    prefix = f"test:{uuid4().hex}:"
    try:
        first = make_adapter(silence=RobotSilence(redis, clock.time, prefix=prefix))
        second = make_adapter(silence=RobotSilence(redis, clock.time, prefix=prefix))
        too_fast = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        fake.fail_next("/robot/send", status=200, body=too_fast)
        message = outbound("text", "group:management-group", {"text": "x"})
        assert (await first.send(message)).retry_after == 600
        clock.advance(60)
        waiting = await second.send(message)
        assert waiting.retry_after == pytest.approx(540)
        assert len(fake.calls("/robot/send")) == 1  # the second worker never asked DingTalk
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
