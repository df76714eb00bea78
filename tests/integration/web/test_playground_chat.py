"""The playground's customer chat and employee inboxes, through the real service (both DBs)."""

from __future__ import annotations

import asyncio
import re
import struct
import uuid
import zlib
from collections.abc import Callable

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.channels.playground import PlaygroundAdapter
from bot.channels.playground.adapter import Delivery
from bot.service.wiring import Service
from bot.settings import Settings
from storage.models import Attachment, Complaint

NUMBER = re.compile(r"TS\d{8}-\d{4}")
FILING = (
    ("王小明", "请输入联系电话"),
    ("13912345678", "客户编号"),
    ("跳过", "投诉类型"),
    ("产品质量", "订单号"),
    ("202611230001", "问题描述"),
    ("收到的保温杯有裂缝，一倒水就漏", "图片"),
    ("完成", "请确认"),
    ("确认提交", "您的投诉已提交"),
)


def new_id() -> str:
    return uuid.uuid4().hex


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


async def delivered(
    pg: PlaygroundAdapter, target: str, wanted: Callable[[Delivery], bool] = lambda d: True
) -> Delivery:
    """The newest delivery to `target` that `wanted` accepts, once the relay has sent it."""
    async with asyncio.timeout(10):
        while True:  # polled: the relay sends on its own schedule
            found = [d for d in pg.inbox(target) if wanted(d)]
            if found:
                return found[-1]
            await asyncio.sleep(0.02)


def latest_card(pg: PlaygroundAdapter, person: str, number: str) -> dict:
    cards = [
        d.payload["card"]
        for d in pg.inbox(f"user:{person}")
        if d.kind in ("card", "card_update") and d.payload["card"]["complaint_number"] == number
    ]
    return cards[-1]


async def say(client: TestClient, session: str, text: str) -> dict:
    response = await client.post(
        "/playground/api/customer/messages",
        json={"session": session, "id": new_id(), "kind": "text", "text": text},
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def file_complaint(client: TestClient, session: str) -> str:
    answer = await say(client, session, "我要投诉")
    assert "客户姓名" in answer["reply"]
    for text, expected in FILING:
        answer = await say(client, session, text)
        assert expected in answer["reply"], (text, answer["reply"])
    found = NUMBER.search(answer["reply"])
    assert found
    return found.group(0)


def playground(service: Service) -> PlaygroundAdapter:
    adapter = service.adapters["playground"]
    assert isinstance(adapter, PlaygroundAdapter)
    return adapter


# --- the customer ------------------------------------------------------------------------------


async def test_customer_message_shows_their_bubble_and_the_bot_answer(
    client: TestClient, service: Service
):
    session = new_id()
    answer = await say(client, session, "你好")
    assert answer["accepted"] and not answer["duplicate"]
    inbox = playground(service).inbox(f"user:c-{session}")
    assert [(d.inbound, d.kind) for d in inbox] == [(True, "text"), (False, "text")]
    assert inbox[0].payload["text"] == "你好"
    assert inbox[1].payload["text"] == answer["reply"]


async def test_a_repeated_message_id_changes_nothing(client: TestClient, service: Service):
    session, msg_id = new_id(), new_id()
    body = {"session": session, "id": msg_id, "kind": "text", "text": "我要投诉"}
    first = await (await client.post("/playground/api/customer/messages", json=body)).json()
    again = await (await client.post("/playground/api/customer/messages", json=body)).json()
    assert again["duplicate"] is True and again["reply"] == first["reply"]
    assert len(playground(service).inbox(f"user:c-{session}")) == 2


async def test_menu_click_starts_the_complaint_dialog(client: TestClient, service: Service):
    session = new_id()
    response = await client.post(
        "/playground/api/customer/messages",
        json={"session": session, "id": new_id(), "kind": "click", "key": "我要投诉"},
    )
    answer = await response.json()
    assert "请输入客户姓名" in answer["reply"]
    # The menu key is not kept as the complaint's description.
    assert "已记录您的问题描述" not in answer["reply"]
    echo = playground(service).inbox(f"user:c-{session}")[0]
    assert (echo.kind, echo.payload["label"]) == ("click", "我要投诉")
    progress = await client.post(
        "/playground/api/customer/messages",
        json={"session": new_id(), "id": new_id(), "kind": "click", "key": "查询进度"},
    )
    assert "没有处理中的投诉" in (await progress.json())["reply"]


async def test_a_filed_complaint_reaches_the_customer_service_inboxes(
    client: TestClient, service: Service
):
    number = await file_complaint(client, new_id())
    pg = playground(service)
    for person in ("zhangsan", "xiaomei"):
        card = await delivered(pg, f"user:{person}", lambda d: d.kind == "card")
        assert card.payload["card"]["complaint_number"] == number
        assert [a["id"] for a in card.payload["card"]["actions"]][0] == "accept"
    notice = await delivered(pg, "user:zhangsan", lambda d: d.kind == "text")
    assert notice.payload["text"].startswith(f"新投诉 {number}")


async def test_location_presets_and_coordinates_are_sent(client: TestClient, service: Service):
    session = new_id()
    preset = await client.post(
        "/playground/api/customer/messages",
        json={"session": session, "id": new_id(), "kind": "location", "preset": "lujiazui"},
    )
    assert preset.status == 200
    custom = await client.post(
        "/playground/api/customer/messages",
        json={
            "session": session,
            "id": new_id(),
            "kind": "location",
            "lat": 30.5,
            "lng": 114.3,
            "label": "武汉门店",
        },
    )
    assert custom.status == 200
    echoes = [d for d in playground(service).inbox(f"user:c-{session}") if d.inbound]
    assert [e.payload["label"] for e in echoes] == [
        "上海市浦东新区陆家嘴环路1000号（陆家嘴门店）",
        "武汉门店",
    ]
    assert echoes[1].payload["lat"] == 30.5


async def test_an_image_is_stored_shown_and_attached_to_the_complaint(
    client: TestClient, service: Service, app_settings: Settings
):
    session = new_id()
    for text, _ in (("我要投诉", ""), *FILING[:6]):
        await say(client, session, text)
    form = FormData()
    form.add_field("session", session)
    form.add_field("id", new_id())
    form.add_field("file", tiny_png(), filename="cup.png", content_type="image/png")
    response = await client.post("/playground/api/customer/images", data=form)
    assert response.status == 200, await response.text()
    echo = (await response.json())["shown"][0]
    name = echo["payload"]["name"]
    assert (app_settings.data_dir / "uploads" / name).read_bytes() == tiny_png()
    image = await client.get(echo["payload"]["url"])
    assert image.status == 200 and image.headers["Content-Type"] == "image/png"
    await say(client, session, "完成")
    await say(client, session, "确认提交")
    async with service.rt.db.read() as s:
        attachment = await s.scalar(select(Attachment).where(Attachment.media_id == f"pg:{name}"))
        assert attachment is not None and attachment.complaint_id is not None
        assert await s.get(Complaint, attachment.complaint_id) is not None


async def test_uploads_must_be_small_png_or_jpeg(client: TestClient):
    def form(data: bytes, *, with_session: bool = True) -> FormData:
        out = FormData()
        if with_session:
            out.add_field("session", new_id())
        out.add_field("id", new_id())
        out.add_field("file", data, filename="x.bin", content_type="application/octet-stream")
        return out

    not_image = await client.post("/playground/api/customer/images", data=form(b"GIF89a..."))
    assert not_image.status == 415
    assert "PNG 或 JPEG" in (await not_image.json())["error"]
    big = b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024)
    too_big = await client.post("/playground/api/customer/images", data=form(big))
    assert too_big.status == 413
    assert "5 MB" in (await too_big.json())["error"]
    no_session = await client.post(
        "/playground/api/customer/images", data=form(tiny_png(), with_session=False)
    )
    assert no_session.status == 400 and (await no_session.json())["field"] == "session"
    missing = FormData()
    missing.add_field("session", new_id())
    missing.add_field("id", new_id())
    no_file = await client.post("/playground/api/customer/images", data=missing)
    assert no_file.status == 400 and (await no_file.json())["field"] == "file"
    assert (await client.get(f"/playground/uploads/{uuid.uuid4().hex}.png")).status == 404


async def test_bad_customer_messages_are_refused_with_a_reason(client: TestClient):
    url = "/playground/api/customer/messages"
    cases = [
        ({"id": new_id(), "text": "hi"}, "session"),
        ({"session": "short", "id": new_id(), "text": "hi"}, "session"),
        ({"session": new_id(), "text": "hi"}, "id"),
        ({"session": new_id(), "id": new_id(), "text": "   "}, "text"),
        ({"session": new_id(), "id": new_id(), "kind": "voice"}, "kind"),
        ({"session": new_id(), "id": new_id(), "kind": "click", "key": "HACK"}, "key"),
        ({"session": new_id(), "id": new_id(), "kind": "location", "preset": "moon"}, "preset"),
        ({"session": new_id(), "id": new_id(), "kind": "location", "lat": 91, "lng": 0}, "lat"),
    ]
    for body, field in cases:
        response = await client.post(url, json=body)
        assert response.status == 400, body
        answer = await response.json()
        assert answer["field"] == field and answer["error"], body
    not_json = await client.post(url, data="{", headers={"Content-Type": "application/json"})
    assert not_json.status == 400 and "JSON" in (await not_json.json())["error"]


# --- employees ---------------------------------------------------------------------------------


async def test_staff_chat_answers_in_the_persons_inbox(client: TestClient, service: Service):
    response = await client.post(
        "/playground/api/people/lisi/messages", json={"id": new_id(), "text": "帮助"}
    )
    answer = await response.json()
    assert "我的待办" in answer["reply"]
    inbox = playground(service).inbox("user:lisi")
    assert [(d.inbound, d.payload["text"]) for d in inbox] == [
        (True, "帮助"),
        (False, answer["reply"]),
    ]


async def test_unknown_people_are_refused(client: TestClient):
    message = await client.post(
        "/playground/api/people/nobody/messages", json={"id": new_id(), "text": "帮助"}
    )
    assert message.status == 404
    assert "通讯录里没有“nobody”" in (await message.json())["error"]
    click = await client.post(
        "/playground/api/people/nobody/clicks",
        json={"id": new_id(), "card_ref": "cb-x", "action": "accept"},
    )
    assert click.status == 404


async def test_accepting_on_the_card_updates_every_copy(client: TestClient, service: Service):
    number = await file_complaint(client, new_id())
    pg = playground(service)
    await delivered(pg, "user:xiaomei", lambda d: d.kind == "card")
    card = (await delivered(pg, "user:zhangsan", lambda d: d.kind == "card")).payload["card"]
    response = await client.post(
        "/playground/api/people/zhangsan/clicks",
        json={"id": new_id(), "card_ref": card["ref"], "action": "accept"},
    )
    assert response.status == 200, await response.text()
    await delivered(pg, "user:zhangsan", lambda d: d.kind == "card_update")
    mine = latest_card(pg, "zhangsan", number)
    assert "submit" in [a["id"] for a in mine["actions"]]
    assert {i["key"] for i in mine["inputs"] if "submit" in i["for_actions"]} == {
        "type",
        "description",
        "order_no",
    }
    await delivered(pg, "user:xiaomei", lambda d: d.kind == "card_update")
    theirs = latest_card(pg, "xiaomei", number)
    assert theirs["actions"] == [] and theirs["outcome"].startswith("已由 张三 受理")


async def test_submit_with_inputs_moves_the_complaint_on(client: TestClient, service: Service):
    session = new_id()
    number = await file_complaint(client, session)
    pg = playground(service)
    card = (await delivered(pg, "user:zhangsan", lambda d: d.kind == "card")).payload["card"]
    click = {"card_ref": card["ref"]}
    await client.post(
        "/playground/api/people/zhangsan/clicks",
        json={**click, "id": new_id(), "action": "accept"},
    )
    await client.post(
        "/playground/api/people/zhangsan/clicks",
        json={
            **click,
            "id": new_id(),
            "action": "submit",
            "inputs": {"description": "保温杯杯身有裂缝，漏水"},
        },
    )
    handle = await delivered(pg, "user:lisi", lambda d: d.kind == "card")
    assert handle.payload["card"]["complaint_number"] == number
    body = await (await client.get(f"/api/v1/complaints/{number}")).json()
    assert body["department"] == "product" and body["assignee"] == "lisi"
    assert body["values"]["description"] == "保温杯杯身有裂缝，漏水"
    accepted = await delivered(
        pg, f"user:c-{session}", lambda d: "受理" in d.payload.get("text", "")
    )
    assert number in accepted.payload["text"]


async def test_refused_clicks_say_why_on_the_card(client: TestClient, service: Service):
    number = await file_complaint(client, new_id())
    pg = playground(service)
    card = (await delivered(pg, "user:zhangsan", lambda d: d.kind == "card")).payload["card"]
    response = await client.post(
        "/playground/api/people/zhangsan/clicks",
        json={"id": new_id(), "card_ref": card["ref"], "action": "transfer"},
    )
    assert response.status == 200
    update = await delivered(pg, "user:zhangsan", lambda d: d.kind == "card_update")
    assert update.payload["card"]["notice"] == "请先选择要转派给谁"
    assert latest_card(pg, "zhangsan", number)["outcome"] is None


async def test_clicks_need_a_card_of_that_person_and_a_known_action(
    client: TestClient, service: Service
):
    await file_complaint(client, new_id())
    pg = playground(service)
    card = (await delivered(pg, "user:zhangsan", lambda d: d.kind == "card")).payload["card"]
    url = "/playground/api/people/{}/clicks"
    unknown = await client.post(
        url.format("zhangsan"), json={"id": new_id(), "card_ref": "cb-nope", "action": "accept"}
    )
    assert unknown.status == 404 and "没有找到这张卡片" in (await unknown.json())["error"]
    not_theirs = await client.post(
        url.format("lisi"), json={"id": new_id(), "card_ref": card["ref"], "action": "accept"}
    )
    assert not_theirs.status == 404
    bad_action = await client.post(
        url.format("zhangsan"), json={"id": new_id(), "card_ref": card["ref"], "action": "fly"}
    )
    assert bad_action.status == 400 and (await bad_action.json())["field"] == "action"
    bad_select = await client.post(
        url.format("zhangsan"),
        json={
            "id": new_id(),
            "card_ref": card["ref"],
            "action": "transfer",
            "selections": {"planet": ["mars"]},
        },
    )
    assert bad_select.status == 400 and (await bad_select.json())["field"] == "selections"
