"""Sending through the fake WeCom: cards and their single-use codes, tokens, errors, robots."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from typing import Any

import pytest

from bot.cards.model import Card
from bot.channels.base import CardClick, OutboundKind, OutboundMessage, Pace, SendResult
from bot.channels.wecom.cards import card_ref_from_task_id
from bot.errors import ChannelError
from tests.integration.channels.wecom.conftest import PUBLIC_URL, ROBOT_KEY, USER, Harness
from tests.unit.channels.wecom.samples import assignee_card, settled_card, task_card

SEND = "/cgi-bin/message/send"
UPDATE = "/cgi-bin/message/update_template_card"
ROBOT = "/cgi-bin/webhook/send"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def card_payload(card: Card | None = None, **extra: object) -> dict[str, Any]:
    return {"card": (card or task_card()).to_dict(), **extra}


# --- cards and response codes --------------------------------------------------------------------


async def test_card_goes_out_as_template_card_with_the_ref_as_task_id(harness: Harness) -> None:
    card = task_card()
    result = await harness.send("card", card_payload(card))
    assert result.ok
    sent = harness.fake.card(USER, card.ref).sent
    assert sent["card_type"] == "button_interaction" and sent["task_id"] == card.ref
    code = result.receipt["response_code"]
    assert result.receipt["task_id"] == card.ref
    assert harness.fake.codes[code].users == (USER,)


async def test_update_with_the_code_settles_the_card_once_and_a_reuse_is_refused(
    harness: Harness,
) -> None:
    sent = await harness.send("card", card_payload())
    code = sent.receipt["response_code"]
    update = card_payload(settled_card(), response_code=code)

    first = await harness.send("card_update", update)
    assert first.ok
    shown = harness.fake.card(USER, task_card().ref).current
    assert shown["card_type"] == "text_notice" and "button_list" not in shown
    assert shown["quote_area"]["quote_text"] == "已由 张三 受理 · 11-23 14:05"
    assert shown["card_action"] == {"type": 1, "url": PUBLIC_URL}

    again = await harness.send("card_update", update)
    assert not again.ok and again.permanent
    assert again.error is not None and "already used or expired" in again.error
    assert [r.answer["errcode"] for r in harness.fake.requests_to(UPDATE)] == [0, 60140]


async def test_a_code_older_than_72_hours_is_refused(harness: Harness) -> None:
    sent = await harness.send("card", card_payload())
    harness.clock.advance(72 * 3600 + 1)
    result = await harness.send(
        "card_update", card_payload(settled_card(), response_code=sent.receipt["response_code"])
    )
    assert result.permanent and "already used or expired" in (result.error or "")


async def test_click_round_trip_card_to_click_to_update(harness: Harness) -> None:
    card = assignee_card()
    await harness.send("card", card_payload(card))
    code = harness.fake.click_code(USER, card.ref)
    xml = harness.wecom.card_click(
        USER, card.ref, "act:transfer", code, selections={"assignee": ["lisi"]}
    )
    assert (await harness.post(xml))[0] == 200
    (click,) = harness.feed.events
    assert isinstance(click, CardClick) and click.card_ref == card.ref

    settled = card.settle("已转交 李四 · 11-23 14:10")
    result = await harness.send(
        "card_update", card_payload(settled, response_code=click.response_code)
    )
    assert result.ok
    assert harness.fake.card(USER, card.ref).current["card_type"] == "text_notice"


async def test_without_a_code_a_fresh_card_replaces_one_that_was_sent(harness: Harness) -> None:
    card = task_card()
    await harness.send("card", card_payload(card))
    result = await harness.send(
        "card_update", card_payload(settled_card(), response_code=None), key="outbox:update-7"
    )
    assert result.ok and result.receipt["fresh"] is True
    task_id = result.receipt["task_id"]
    assert task_id != card.ref and card_ref_from_task_id(task_id) == card.ref
    assert harness.fake.card(USER, task_id).sent["card_type"] == "text_notice"


async def test_a_fresh_card_is_sent_once_even_when_the_relay_retries(harness: Harness) -> None:
    await harness.send("card", card_payload())
    update = card_payload(task_card().with_notice("请尽快处理"), response_code=None)
    first = await harness.send("card_update", update, key="outbox:update-8")
    retry = await harness.send("card_update", update, key="outbox:update-8")
    assert first.ok and retry.ok and retry.receipt["duplicate"] is True
    assert retry.receipt["task_id"] == first.receipt["task_id"]
    assert len([b for b in harness.fake.delivered if b["msgtype"] == "template_card"]) == 2


async def test_without_a_code_an_update_for_a_card_never_sent_fails_clearly(
    harness: Harness,
) -> None:
    result = await harness.send("card_update", card_payload(settled_card(), response_code=None))
    assert result.permanent and "never sent" in (result.error or "")
    assert harness.fake.requests_to(SEND) == []


async def test_the_payload_can_vouch_for_a_card_sent_before_a_restart(harness: Harness) -> None:
    payload = card_payload(settled_card(), response_code=None, task_id=task_card().ref)
    result = await harness.send("card_update", payload)
    assert result.ok and result.receipt["fresh"] is True


async def test_a_repeated_task_id_counts_as_delivered(harness: Harness) -> None:
    await harness.send("card", card_payload())
    again = await harness.send("card", card_payload())
    assert again.ok and again.receipt == {"task_id": task_card().ref, "duplicate": True}


async def test_a_card_with_an_unsafe_ref_fails_permanently(harness: Harness) -> None:
    result = await harness.send("card", card_payload(replace(task_card(), ref="投诉-1")))
    assert result.permanent and "not WeCom-safe" in (result.error or "")


async def test_render_card_previews_the_message_body(harness: Harness) -> None:
    body = harness.adapter.render_card(task_card())
    assert body["msgtype"] == "template_card" and body["agentid"] == harness.fake.agent_id


# --- tokens --------------------------------------------------------------------------------------


async def test_an_expired_token_is_fetched_again(harness: Harness) -> None:
    assert (await harness.send("text", {"text": "一"})).ok
    harness.clock.advance(7200)
    assert (await harness.send("text", {"text": "二"})).ok
    assert harness.fake.tokens_issued == 2


@pytest.mark.parametrize("errcode", [40014, 42001])
async def test_a_revoked_token_is_refreshed_once_and_the_send_retried(
    harness: Harness, errcode: int
) -> None:
    assert (await harness.send("text", {"text": "一"})).ok
    harness.fake.revoke_tokens(errcode)
    result = await harness.send("text", {"text": "二"})
    assert result.ok
    assert harness.tokens.fetches == 2
    assert [r.answer["errcode"] for r in harness.fake.requests_to(SEND)] == [0, errcode, 0]


async def test_a_token_refused_twice_is_not_retried_in_a_loop(harness: Harness) -> None:
    harness.fake.fail_next(SEND, errcode=42001, errmsg="access_token expired", times=5)
    result = await harness.send("text", {"text": "一"})
    assert not result.ok and not result.permanent
    assert len(harness.fake.requests_to(SEND)) == 2


# --- errors --------------------------------------------------------------------------------------


async def test_45009_asks_the_relay_to_wait(harness: Harness) -> None:
    harness.fake.fail_next(SEND, errcode=45009, errmsg="api freq out of limit")
    result = await harness.send("text", {"text": "一"})
    assert result.retry_after == 60 and not result.permanent


async def test_http_429_honours_retry_after(harness: Harness) -> None:
    harness.fake.fail_next(ROBOT, status=429, headers={"Retry-After": "7"})
    result = await harness.send("text", {"text": "一"}, target="group:cs-group")
    assert result.retry_after == 7


@pytest.mark.parametrize(("status", "errcode"), [(500, None), (200, -1)])
async def test_server_trouble_is_raised_for_the_relay_to_back_off(
    harness: Harness, status: int, errcode: int | None
) -> None:
    harness.fake.fail_next(SEND, status=status, errcode=errcode, errmsg="system busy")
    with pytest.raises(ChannelError):
        await harness.send("text", {"text": "一"})


@pytest.mark.parametrize("kind", ["news", "template"])
async def test_wechat_only_kinds_fail_permanently(harness: Harness, kind: str) -> None:
    result = await harness.send(kind, {"title": "x"})
    assert result.permanent and harness.fake.requests == []


async def test_an_unreachable_member_fails_permanently(harness: Harness) -> None:
    harness.fake.users = {"SomeoneElse"}
    result = await harness.send("text", {"text": "一"})
    assert result.permanent and "81013" in (result.error or "")


# --- app messages and member pacing --------------------------------------------------------------


async def test_text_and_markdown_to_a_member_fit_wecoms_limits(harness: Harness) -> None:
    assert (await harness.send("text", {"text": "长" * 1000})).ok
    markdown = {"title": "周报", "text": "本周投诉进展\n" * 300}
    assert (await harness.send("markdown", markdown)).ok
    text, md = harness.fake.delivered
    assert len(text["text"]["content"].encode()) <= 2048
    assert md["markdown"]["content"].startswith("**周报**\n")
    assert len(md["markdown"]["content"].encode()) <= 2048


async def test_member_pacing_is_thirty_a_minute_per_corp_and_userid(harness: Harness) -> None:
    pace = harness.adapter.pace(_message("text", f"user:{USER}"))
    assert pace == Pace(key=f"wecom-member:{harness.fake.corp_id}:{USER}", per_minute=30)
    other = harness.adapter.pace(_message("card", "user:LiSi"))
    assert other is not None and other.key != pace.key


async def test_unpaced_the_31st_message_in_a_minute_is_silently_dropped(harness: Harness) -> None:
    # Why the relay must respect the pace: WeCom says ok and drops the message.
    results = [await harness.send("text", {"text": f"第{i}条"}) for i in range(31)]
    assert all(r.ok for r in results)
    assert len(harness.fake.delivered) == 30 and len(harness.fake.dropped) == 1
    harness.clock.advance(60)
    assert (await harness.send("text", {"text": "一分钟后"})).ok
    assert len(harness.fake.delivered) == 31


async def test_an_image_to_a_member_is_uploaded_then_sent(harness: Harness) -> None:
    (harness.data_dir / "chart.png").write_bytes(PNG)
    result = await harness.send("image", {"path": "chart.png", "title": "周报", "url": None})
    assert result.ok
    (body,) = harness.fake.delivered
    assert harness.fake.media[body["image"]["media_id"]] == PNG


# --- group robots --------------------------------------------------------------------------------


async def test_robot_pacing_is_twenty_a_minute_per_robot(harness: Harness) -> None:
    pace = harness.adapter.pace(_message("markdown", "group:cs-group"))
    digest = hashlib.sha256(ROBOT_KEY.encode()).hexdigest()[:16]
    assert pace == Pace(key=f"wecom-robot:{digest}", per_minute=20)
    assert harness.adapter.pace(_message("markdown", "group:unknown")) is None


async def test_robot_markdown_is_cut_cleanly_to_4096_bytes(harness: Harness) -> None:
    text = "".join(f"- 投诉 TS20241123-{i:04d} 已超时\n" for i in range(400))
    result = await harness.send("markdown", {"title": "超时提醒", "text": text}, "group:cs-group")
    assert result.ok
    (body,) = harness.fake.robot_messages[ROBOT_KEY]
    content = body["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith("已超时\n…")


async def test_robot_image_carries_base64_and_the_md5_of_the_raw_bytes(harness: Harness) -> None:
    (harness.data_dir / "digest").mkdir()
    (harness.data_dir / "digest" / "week.png").write_bytes(PNG)
    payload = {"path": "digest/week.png", "title": "周报", "url": None}
    result = await harness.send("image", payload, target="group:cs-group")
    assert result.ok
    assert harness.fake.robot_images[ROBOT_KEY] == [PNG]
    (body,) = harness.fake.robot_messages[ROBOT_KEY]
    assert body["image"]["md5"] == hashlib.md5(PNG).hexdigest()
    assert base64.b64decode(body["image"]["base64"]) == PNG


async def test_a_robot_image_over_2_mb_is_refused_before_sending(harness: Harness) -> None:
    (harness.data_dir / "huge.png").write_bytes(PNG + b"\x00" * (2 * 1024 * 1024))
    result = await harness.send("image", {"path": "huge.png"}, target="group:cs-group")
    assert result.permanent and harness.fake.requests == []


async def test_the_21st_robot_message_in_a_minute_waits_and_is_not_dropped(
    harness: Harness,
) -> None:
    for i in range(20):
        assert (await harness.send("text", {"text": f"{i}"}, target="group:cs-group")).ok
    late = await harness.send("text", {"text": "20"}, target="group:cs-group")
    assert late == SendResult.later(60, late.error or "") and "45009" in (late.error or "")
    harness.clock.advance(60)
    assert (await harness.send("text", {"text": "20"}, target="group:cs-group")).ok
    assert len(harness.fake.robot_messages[ROBOT_KEY]) == 21


async def test_a_card_to_a_group_is_posted_as_markdown(harness: Harness) -> None:
    result = await harness.send("card", card_payload(settled_card()), target="group:cs-group")
    assert result.ok
    (body,) = harness.fake.robot_messages[ROBOT_KEY]
    assert body["msgtype"] == "markdown" and "已由 张三 受理" in body["markdown"]["content"]


@pytest.mark.parametrize(
    ("target", "kind", "reason"),
    [
        ("group:unknown", "text", "unknown group"),
        ("group:no-robot", "text", "no webhook_key"),
        ("group:management-group", "text", "belongs to channel"),
        ("group:cs-group", "card_update", "cannot go to a group robot"),
        ("nobody", "text", "unknown target"),
    ],
)
async def test_targets_that_cannot_work_fail_permanently(
    harness: Harness, target: str, kind: str, reason: str
) -> None:
    payload = {"text": "x"} if kind == "text" else card_payload(response_code="rc")
    result = await harness.send(kind, payload, target=target)
    assert result.permanent and reason in (result.error or "")


def _message(kind: OutboundKind, target: str) -> OutboundMessage:
    return OutboundMessage(id=1, kind=kind, target=target, payload={}, idempotency_key="k")


async def test_a_refused_gettoken_is_raised_for_the_relay_to_back_off(harness: Harness) -> None:
    harness.fake.secret = "rotated-secret"
    with pytest.raises(ChannelError, match="40001"):
        await harness.send("text", {"text": "一"})
