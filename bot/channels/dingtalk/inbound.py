"""DingTalk deliveries as neutral events: robot messages, card clicks, and the callback signature.

The same payloads arrive over the Stream connection (a frame's `data`) and, in HTTP mode, as the
body of a signed POST, so parsing is shared and knows nothing of the transport.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.channels.base import CardClick, InboundEvent, InboundMessage, MessageKind
from bot.channels.callbacks import CallbackRejected
from bot.errors import BotError

BOT_MESSAGE_TOPIC = "/v1.0/im/bot/messages/get"
CARD_CALLBACK_TOPIC = "/v1.0/card/instances/callback"

# DingTalk refuses a signed request whose timestamp is more than an hour off; so do we.
SIGNATURE_MAX_SKEW_MS = 3600 * 1000

# Card buttons send their CardAction id as `action`; text inputs and selects send one param per
# control, prefixed so a form field key can never be mistaken for a select (see cards.py).
ACTION_PARAM = "action"
INPUT_PREFIX = "input_"
SELECT_PREFIX = "select_"

_MEDIA_KINDS: dict[str, MessageKind] = {
    "picture": "image",
    "audio": "voice",
    "video": "video",
    "file": "file",
}


class DingtalkPayloadError(BotError):
    """A delivery that is not what DingTalk sends (a field missing or of the wrong type)."""


def sign(secret: str, timestamp_ms: int | str) -> str:
    """base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")): callbacks and robot webhooks."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature(
    timestamp: str | None, signature: str | None, secret: str, now: datetime
) -> None:
    """Refuse (403) a callback whose `sign` header is wrong or whose timestamp is over 1 h off."""
    if not timestamp or not signature:
        raise CallbackRejected(403, "missing timestamp or sign header")
    try:
        stamp = int(timestamp)
    except ValueError as exc:
        raise CallbackRejected(403, "timestamp header is not a number") from exc
    if abs(int(now.timestamp() * 1000) - stamp) > SIGNATURE_MAX_SKEW_MS:
        raise CallbackRejected(403, "timestamp is more than an hour off")
    if not hmac.compare_digest(sign(secret, stamp), signature):
        raise CallbackRejected(403, "signature does not match")


def from_millis(value: Any, default: datetime) -> datetime:
    """An aware datetime from DingTalk's millisecond timestamps (int or string)."""
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError):
        return default


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    """A JSON object that DingTalk may send either inline or as a JSON string."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value else {}
        except json.JSONDecodeError as exc:
            raise DingtalkPayloadError(f"{what} is not JSON") from exc
    if not isinstance(value, Mapping):
        raise DingtalkPayloadError(f"{what} is not an object")
    return value


def parse_bot_message(
    channel: str, data: Mapping[str, Any], *, received_at: datetime
) -> InboundMessage | None:
    """A message to the robot (1:1 or @ in a group); None for kinds the bot does not read."""
    msg_id = data.get("msgId")
    if not isinstance(msg_id, str) or not msg_id:
        raise DingtalkPayloadError("robot message without msgId")
    sender = data.get("senderStaffId")
    if not isinstance(sender, str) or not sender:
        return None  # someone outside the organisation: there is no staff id to act for
    msgtype = str(data.get("msgtype") or "")
    text = ""
    media_id: str | None = None
    kind: MessageKind
    if msgtype == "text":
        kind = "text"
        text = str(_mapping(data.get("text") or {}, "text").get("content") or "").strip()
    elif msgtype == "richText":
        kind = "text"
        items = _mapping(data.get("content") or {}, "content").get("richText") or []
        text = "".join(str(i.get("text", "")) for i in items if isinstance(i, Mapping)).strip()
    elif msgtype in _MEDIA_KINDS:
        kind = _MEDIA_KINDS[msgtype]
        content = _mapping(data.get("content") or {}, "content")
        media_id = str(content.get("downloadCode") or "") or None
        text = str(content.get("recognition") or content.get("fileName") or "")
    else:
        return None
    conversation_id = None
    if str(data.get("conversationType") or "") == "2":  # "1" is a 1:1 chat with the robot
        conversation_id = str(data.get("conversationId") or "") or None
    return InboundMessage(
        channel=channel,
        dedupe_key=f"msg:{msg_id}",
        sender=sender,
        kind=kind,
        sent_at=from_millis(data.get("createAt"), received_at),
        text=text,
        media_id=media_id,
        conversation_id=conversation_id,
        sender_name=str(data.get("senderNick") or ""),
        raw_type=msgtype,
    )


def _selection(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) and value.startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if v not in (None, ""))
    if value in (None, ""):
        return ()
    return (str(value),)


def parse_card_callback(
    channel: str, data: Mapping[str, Any], *, dedupe_key: str, sent_at: datetime
) -> CardClick:
    """A button press on an interactive card: action, text inputs and selections from params."""
    out_track_id = data.get("outTrackId")
    user_id = data.get("userId")
    if not isinstance(out_track_id, str) or not out_track_id:
        raise DingtalkPayloadError("card callback without outTrackId")
    if not isinstance(user_id, str) or not user_id:
        raise DingtalkPayloadError("card callback without userId")
    content = _mapping(data.get("content") or {}, "content")
    private = _mapping(content.get("cardPrivateData") or {}, "cardPrivateData")
    params = _mapping(private.get("params") or {}, "params")
    action_ids = private.get("actionIds") or []
    action = params.get(ACTION_PARAM)
    if not isinstance(action, str) or not action:
        action = action_ids[0] if isinstance(action_ids, list) and action_ids else None
    if not isinstance(action, str) or not action:
        raise DingtalkPayloadError("card callback without an action")
    inputs: dict[str, str] = {}
    selections: dict[str, tuple[str, ...]] = {}
    for name, value in params.items():
        if name.startswith(INPUT_PREFIX) and len(name) > len(INPUT_PREFIX) and value is not None:
            inputs[name[len(INPUT_PREFIX) :]] = value if isinstance(value, str) else str(value)
        elif name.startswith(SELECT_PREFIX) and len(name) > len(SELECT_PREFIX):
            chosen = _selection(value)
            if chosen:
                selections[name[len(SELECT_PREFIX) :]] = chosen
    return CardClick(
        channel=channel,
        dedupe_key=dedupe_key,
        sender=user_id,
        card_ref=out_track_id,
        action=action,
        sent_at=sent_at,
        selections=selections,
        inputs=inputs,
    )


def http_card_dedupe_key(data: Mapping[str, Any], timestamp: str) -> str:
    """HTTP card callbacks carry no delivery id: the click's content plus its signed timestamp.

    A retry of the same delivery replays the same body and timestamp, so it gets the same key.
    """
    content = data.get("content")
    canonical = content if isinstance(content, str) else json.dumps(content, sort_keys=True)
    digest = hashlib.sha256(f"{canonical}\n{timestamp}".encode()).hexdigest()[:24]
    return f"card:{data.get('outTrackId')}:{data.get('userId')}:{digest}"


def parse_http_callback(
    channel: str, data: Mapping[str, Any], *, timestamp: str, received_at: datetime
) -> InboundEvent | None:
    """An HTTP-mode delivery: a card click (it has outTrackId) or a robot message."""
    if "outTrackId" in data:
        return parse_card_callback(
            channel,
            data,
            dedupe_key=http_card_dedupe_key(data, timestamp),
            sent_at=from_millis(timestamp, received_at),
        )
    return parse_bot_message(channel, data, received_at=received_at)
