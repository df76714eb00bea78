"""The playground's inbound side: what the customer and the employees do on the page.

Each request becomes the same neutral event a platform callback produces (InboundMessage or
CardClick) and goes through `service.dispatcher.feed`, so dedupe, conversation, workflow, rules,
cards and outbox run exactly as for WeChat, WeCom and DingTalk. The passive reply is shown in the
sender's chat; everything else arrives later as outbox deliveries.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import BodyPartReader, web
from sqlalchemy import select

from bot.appkeys import CONFIG, DATABASE, SERVICE, SETTINGS
from bot.cards.build import CARD_ONLY_ACTIONS
from bot.channels.base import CardClick, InboundEvent, InboundMessage, Location
from bot.channels.playground import PlaygroundAdapter
from bot.web.playground_view import (
    CLIENT_ID,
    CUSTOMER_PREFIX,
    IMAGE_LIMIT,
    LOCATIONS,
    MENU,
    PlaygroundError,
    require_adapter,
)
from bot.workflow import ActionKind
from storage.models import CardMessage

log = logging.getLogger(__name__)

TEXT_LIMIT = 2000
INPUT_LIMIT = 2000
MAX_INPUTS = 20
SELECT_KEYS = ("assignee", "department")
IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"))
UPLOADS = "uploads"
UNAVAILABLE = "服务暂时不能保存消息（数据库不可用），请稍后再试。"


# --- request parsing ---------------------------------------------------------------------------


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise PlaygroundError(400, "请求体不是有效的 JSON") from None
    if not isinstance(body, dict):
        raise PlaygroundError(400, "请求体应是一个 JSON 对象")
    return body


def client_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not CLIENT_ID.match(value):
        raise PlaygroundError(400, f"“{field}”应为 6–64 位字母、数字、- 或 _", field=field)
    return value


def text_of(value: Any, field: str, *, limit: int = TEXT_LIMIT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PlaygroundError(400, "消息不能为空", field=field)
    if len(value) > limit:
        raise PlaygroundError(400, f"消息太长了，最多 {limit} 个字", field=field)
    return value.strip()


def person_of(request: web.Request) -> str:
    person = request.match_info["person"]
    if request.app[CONFIG].directory.person(person) is None:
        raise PlaygroundError(404, f"通讯录里没有“{person[:40]}”这个人", field="person")
    return person


def location_of(body: Mapping[str, Any]) -> Location:
    preset = body.get("preset")
    if preset is not None:
        place = next((p for p in LOCATIONS if p["id"] == preset), None)
        if place is None:
            raise PlaygroundError(400, f"没有预设地点“{str(preset)[:40]}”", field="preset")
        return Location(float(place["lat"]), float(place["lng"]), str(place["label"]))
    try:
        lat, lng = float(body["lat"]), float(body["lng"])
    except (KeyError, TypeError, ValueError):
        raise PlaygroundError(400, "请选择一个地点，或填写纬度和经度", field="lat") from None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise PlaygroundError(
            400, "纬度应在 -90 到 90 之间，经度应在 -180 到 180 之间", field="lat"
        )
    label = str(body.get("label") or "").strip()[:100] or f"{lat:.4f}, {lng:.4f}"
    return Location(lat, lng, label)


# --- feeding -----------------------------------------------------------------------------------


async def feed_and_show(
    request: web.Request,
    adapter: PlaygroundAdapter,
    event: InboundEvent,
    *,
    chat: str | None,
    echo: tuple[str, dict[str, Any]] | None,
) -> web.Response:
    """Feed the event; show the sender's own message and the passive reply in `chat`."""
    service = request.app[SERVICE]
    reply = await service.dispatcher.feed(event)
    if not reply.accepted:
        raise PlaygroundError(503, UNAVAILABLE)
    shown: list[dict[str, Any]] = []
    duplicate = False
    if chat is not None and echo is not None:
        kind, payload = echo
        duplicate = adapter.has_echo(chat, payload["id"])
        if not duplicate:
            shown.append(adapter.echo(chat, kind, payload).to_dict())
            if reply.text:
                shown.append((await adapter.deliver_reply(chat, reply.text)).to_dict())
    service.relay.nudge()  # cards and notices of this change go out now, not at the next poll
    return web.json_response(
        {"accepted": True, "duplicate": duplicate, "reply": reply.text, "shown": shown}
    )


def _message(
    adapter: PlaygroundAdapter,
    request: web.Request,
    sender: str,
    msg_id: str,
    kind: str,
    **kw: Any,
) -> InboundMessage:
    return InboundMessage(
        channel=adapter.name,
        dedupe_key=f"msg:{sender}:{msg_id}",
        sender=sender,
        kind=kind,  # type: ignore[arg-type]
        sent_at=request.app[SERVICE].rt.now(),
        **kw,
    )


# --- the customer ------------------------------------------------------------------------------


async def customer_message(request: web.Request) -> web.Response:
    """POST {session, id, kind: text|click|location, text | key | preset | lat,lng,label}."""
    adapter = require_adapter(request)
    body = await json_body(request)
    sender = CUSTOMER_PREFIX + client_id(body.get("session"), "session")
    msg_id = client_id(body.get("id"), "id")
    kind = body.get("kind", "text")
    if kind == "text":
        text = text_of(body.get("text"), "text")
        event = _message(adapter, request, sender, msg_id, "text", text=text)
        echo = ("text", {"id": msg_id, "text": text})
    elif kind == "click":
        item = next((m for m in MENU if m["key"] == body.get("key")), None)
        if item is None:
            raise PlaygroundError(400, "没有这个菜单项", field="key")
        event = _message(
            adapter, request, sender, msg_id, "click", text=item["key"], raw_type="CLICK"
        )
        echo = ("click", {"id": msg_id, "label": item["label"]})
    elif kind == "location":
        place = location_of(body)
        event = _message(
            adapter, request, sender, msg_id, "location", location=place, text=place.label
        )
        echo = (
            "location",
            {"id": msg_id, "label": place.label, "lat": place.latitude, "lng": place.longitude},
        )
    else:
        raise PlaygroundError(400, "消息类型应为 text、click 或 location", field="kind")
    return await feed_and_show(request, adapter, event, chat=f"user:{sender}", echo=echo)


async def customer_image(request: web.Request) -> web.Response:
    """POST multipart {session, id, file}: a PNG or JPEG of at most 5 MiB."""
    adapter = require_adapter(request)
    if request.content_length is not None and request.content_length > IMAGE_LIMIT + 64 * 1024:
        raise PlaygroundError(413, "图片太大了，最大 5 MB")
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise PlaygroundError(400, "请用 multipart/form-data 上传图片", field="file") from None
    fields: dict[str, str] = {}
    image: tuple[bytes, str] | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            image = await _read_image(part)
        elif part.name in ("session", "id"):
            fields[part.name] = (await part.read_chunk(256)).decode(errors="replace")
    if image is None:
        raise PlaygroundError(400, "请选择要发送的图片", field="file")
    sender = CUSTOMER_PREFIX + client_id(fields.get("session"), "session")
    msg_id = client_id(fields.get("id"), "id")
    data, ext = image
    name = f"{uuid.uuid4().hex}.{ext}"
    folder = request.app[SETTINGS].data_dir / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    event = _message(adapter, request, sender, msg_id, "image", media_id=f"pg:{name}")
    echo = ("image", {"id": msg_id, "url": f"/playground/uploads/{name}", "name": name})
    return await feed_and_show(request, adapter, event, chat=f"user:{sender}", echo=echo)


async def _read_image(part: BodyPartReader) -> tuple[bytes, str]:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > IMAGE_LIMIT:
            raise PlaygroundError(413, "图片太大了，最大 5 MB", field="file")
        chunks.append(chunk)
    data = b"".join(chunks)
    for magic, ext in IMAGE_TYPES:
        if data.startswith(magic):
            return data, ext
    raise PlaygroundError(415, "只能发送 PNG 或 JPEG 图片", field="file")


# --- employees ---------------------------------------------------------------------------------


async def staff_message(request: web.Request) -> web.Response:
    """POST {id, text}: what the person types in their chat with the bot."""
    adapter = require_adapter(request)
    person = person_of(request)
    body = await json_body(request)
    msg_id = client_id(body.get("id"), "id")
    text = text_of(body.get("text"), "text")
    event = _message(adapter, request, person, msg_id, "text", text=text)
    return await feed_and_show(
        request, adapter, event, chat=f"user:{person}", echo=("text", {"id": msg_id, "text": text})
    )


async def staff_click(request: web.Request) -> web.Response:
    """POST {id, card_ref, action, selections: {key: id|[ids]}, inputs: {key: text}}."""
    adapter = require_adapter(request)
    person = person_of(request)
    body = await json_body(request)
    click_id = client_id(body.get("id"), "id")
    ref = body.get("card_ref")
    if not isinstance(ref, str) or not ref or len(ref) > 128:
        raise PlaygroundError(400, "缺少卡片编号 card_ref", field="card_ref")
    action = body.get("action")
    if action not in {a.value for a in ActionKind} | set(CARD_ONLY_ACTIONS):
        raise PlaygroundError(400, f"不认识的操作“{str(action)[:40]}”", field="action")
    async with request.app[DATABASE].read() as session:
        held = await session.scalar(
            select(CardMessage.id).where(
                CardMessage.channel == adapter.name,
                CardMessage.card_ref == ref,
                CardMessage.person_id == person,
            )
        )
    if held is None:
        raise PlaygroundError(404, "没有找到这张卡片（可能不是发给此人的）", field="card_ref")
    event = CardClick(
        channel=adapter.name,
        dedupe_key=f"click:{person}:{click_id}",
        sender=person,
        card_ref=ref,
        action=action,
        sent_at=request.app[SERVICE].rt.now(),
        selections=_selections(body.get("selections")),
        inputs=_inputs(body.get("inputs")),
    )
    return await feed_and_show(request, adapter, event, chat=None, echo=None)


def _selections(raw: Any) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PlaygroundError(400, "selections 应为 {选择项: 选项}", field="selections")
    out: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        if key not in SELECT_KEYS:
            raise PlaygroundError(400, f"卡片上没有选择项“{str(key)[:40]}”", field="selections")
        values = value if isinstance(value, list) else [value]
        ids = tuple(str(v)[:128] for v in values if isinstance(v, str) and v)
        if ids:
            out[key] = ids
    return out


def _inputs(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > MAX_INPUTS:
        raise PlaygroundError(400, "inputs 应为 {字段: 文字}", field="inputs")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str) or len(str(key)) > 64:
            raise PlaygroundError(400, "inputs 的每一项都应是文字", field="inputs")
        if len(value) > INPUT_LIMIT:
            raise PlaygroundError(400, f"“{key}”太长了，最多 {INPUT_LIMIT} 个字", field="inputs")
        if value.strip():
            out[str(key)] = value
    return out
