"""WeChat Official Account callbacks: verify, decrypt, parse into InboundMessage, render replies.

Order of checks for a message delivery (each refusal is a CallbackRejected, answered with a 4xx):
the body is already capped by the caller; then the timestamp window (replays), the `signature`
over (token, timestamp, nonce), the outer XML with DTDs and entities refused, in AES modes the
`msg_signature` over (token, timestamp, nonce, Encrypt), decryption (wechatpy, which also checks
the AppID inside the payload) and the decrypted XML parsed by the same safe parser. wechatpy's
own `parse_message` and `decrypt_message(str)` use xmltodict, so they never see untrusted XML.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from bot.channels.base import InboundMessage, Location, MessageKind
from bot.channels.callbacks import CallbackRejected, parse_flat_xml

EncryptMode = Literal["plaintext", "compatible", "safe"]

# A passive text reply may carry at most this many bytes of Content.
PASSIVE_TEXT_LIMIT = 2048
_ELLIPSIS = "…"


@dataclass(frozen=True)
class CallbackSecrets:
    """What one account needs to check its callbacks."""

    token: str
    app_id: str
    encoding_aes_key: str | None
    mode: EncryptMode
    timestamp_window: float = 300.0

    def crypto(self) -> WeChatCrypto:
        if not self.encoding_aes_key:
            raise CallbackRejected(500, "encoding_aes_key is not configured")
        return WeChatCrypto(self.token, self.encoding_aes_key, self.app_id)


@dataclass(frozen=True)
class Delivery:
    """A verified delivery: its fields, and whether the reply must be encrypted."""

    fields: Mapping[str, str]
    encrypted: bool


def check_timestamp(timestamp: str | None, now: datetime, window: float) -> None:
    """Refuse a timestamp that is missing (400) or more than `window` seconds away (403)."""
    try:
        sent = int(timestamp or "")
    except ValueError:
        raise CallbackRejected(400, "missing or non-numeric timestamp") from None
    if abs(now.timestamp() - sent) > window:
        raise CallbackRejected(403, f"timestamp {sent} is outside the {window:g} s window")


def check_plain_signature(query: Mapping[str, str], secrets_: CallbackSecrets) -> None:
    """Refuse (403) a `signature` other than sha1 of the sorted (token, timestamp, nonce)."""
    signature = query.get("signature", "")
    try:
        check_signature(
            secrets_.token, signature, query.get("timestamp", ""), query.get("nonce", "")
        )
    except InvalidSignatureException:
        raise CallbackRejected(403, "signature does not match") from None


def verify_url(query: Mapping[str, str], secrets_: CallbackSecrets, now: datetime) -> str:
    """The `echostr` to answer WeChat's URL verification with, after checking the signature."""
    check_timestamp(query.get("timestamp"), now, secrets_.timestamp_window)
    check_plain_signature(query, secrets_)
    echostr = query.get("echostr")
    if not echostr:
        raise CallbackRejected(400, "URL verification without echostr")
    return echostr


def open_delivery(
    body: bytes, query: Mapping[str, str], secrets_: CallbackSecrets, now: datetime
) -> Delivery:
    """Verify and (in AES modes) decrypt one POSTed delivery into its flat XML fields."""
    check_timestamp(query.get("timestamp"), now, secrets_.timestamp_window)
    check_plain_signature(query, secrets_)
    outer = parse_flat_xml(body)
    if secrets_.mode == "plaintext":
        if "Encrypt" in outer and "MsgType" not in outer:
            raise CallbackRejected(400, "encrypted delivery but the channel is in plaintext mode")
        return Delivery(fields=outer, encrypted=False)
    # compatible and safe: trust only the encrypted part.
    encrypt = outer.get("Encrypt")
    if not encrypt:
        raise CallbackRejected(400, f"no Encrypt element in {secrets_.mode} mode")
    if query.get("encrypt_type", "aes") != "aes":
        raise CallbackRejected(400, f"unsupported encrypt_type {query.get('encrypt_type')!r}")
    msg_signature = query.get("msg_signature")
    if not msg_signature:
        raise CallbackRejected(403, "missing msg_signature")
    _check_ciphertext_shape(encrypt)
    try:
        plaintext = secrets_.crypto().decrypt_message(
            {"Encrypt": encrypt}, msg_signature, query["timestamp"], query.get("nonce", "")
        )
    except InvalidSignatureException:
        raise CallbackRejected(403, "msg_signature does not match") from None
    except InvalidAppIdException:
        raise CallbackRejected(403, "AppID inside the encrypted payload is not ours") from None
    except Exception as exc:  # bad base64, wrong block size, garbage after decryption
        raise CallbackRejected(400, f"undecryptable payload: {type(exc).__name__}") from None
    return Delivery(fields=parse_flat_xml(plaintext), encrypted=True)


def _check_ciphertext_shape(encrypt: str) -> None:
    # wechatpy decodes base64 leniently; refuse anything that is not whole AES blocks up front.
    try:
        raw = base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError):
        raise CallbackRejected(400, "Encrypt is not valid base64") from None
    if not raw or len(raw) % 16:
        raise CallbackRejected(400, f"Encrypt holds {len(raw)} bytes, not whole AES blocks")


# --- fields -> InboundMessage --------------------------------------------------------------------

_MESSAGE_KINDS: dict[str, MessageKind] = {
    "text": "text",
    "image": "image",
    "voice": "voice",
    "video": "video",
    "shortvideo": "video",
    "location": "location",
    "link": "link",
    "file": "file",
}
_EVENT_KINDS: dict[str, MessageKind] = {
    "subscribe": "subscribe",
    "unsubscribe": "unsubscribe",
    "click": "click",
    "view": "click",
}


def dedupe_key(fields: Mapping[str, str]) -> str:
    """ "msg:<MsgId>" for messages; "evt:<FromUserName>:<CreateTime>:<Event>" for events."""
    msg_id = fields.get("MsgId") or fields.get("MsgID")
    if msg_id and fields.get("MsgType") != "event":
        return f"msg:{msg_id}"
    label = fields.get("Event") or fields.get("MsgType", "")
    return f"evt:{fields.get('FromUserName', '')}:{fields.get('CreateTime', '')}:{label}"


def parse_message(fields: Mapping[str, str], channel: str) -> InboundMessage | None:
    """The neutral message for a delivery, or None for types the service does not handle.

    Where InboundMessage has no field of its own, the text carries it: an image's PicUrl, a link
    as "Title\\nDescription\\nUrl", a location's Label, a voice message's Recognition, a CLICK's
    EventKey, and a VIEW's URL (kind "click", raw_type "VIEW", so it matches no menu key).
    """
    sender = fields.get("FromUserName", "")
    if not sender:
        raise CallbackRejected(400, "delivery without FromUserName")
    try:
        sent_at = datetime.fromtimestamp(int(fields.get("CreateTime", "")), UTC)
    except (ValueError, OverflowError, OSError):
        raise CallbackRejected(400, "delivery without a valid CreateTime") from None
    msg_type = fields.get("MsgType", "")
    if msg_type == "event":
        event = fields.get("Event", "")
        kind = _EVENT_KINDS.get(event.lower())
        raw_type = event
    else:
        kind = _MESSAGE_KINDS.get(msg_type)
        raw_type = msg_type
    if kind is None:
        return None
    text = ""
    location = None
    if kind == "text":
        text = fields.get("Content", "")
    elif kind == "image":
        text = fields.get("PicUrl", "")
    elif kind == "voice":
        text = fields.get("Recognition", "")
    elif kind == "link":
        parts = (fields.get("Title", ""), fields.get("Description", ""), fields.get("Url", ""))
        text = "\n".join(part for part in parts if part)
    elif kind == "location":
        location = _location(fields)
        text = location.label
    elif kind in ("click", "subscribe"):
        text = fields.get("EventKey", "")  # subscribe via a QR code carries "qrscene_<scene>"
    return InboundMessage(
        channel=channel,
        dedupe_key=dedupe_key(fields),
        sender=sender,
        kind=kind,
        sent_at=sent_at,
        text=text,
        media_id=fields.get("MediaId") or None,
        location=location,
        raw_type=raw_type,
    )


def _location(fields: Mapping[str, str]) -> Location:
    try:
        return Location(
            latitude=float(fields["Location_X"]),
            longitude=float(fields["Location_Y"]),
            label=fields.get("Label", ""),
        )
    except (KeyError, ValueError):
        raise CallbackRejected(400, "location message without numeric Location_X/Y") from None


# --- passive replies -----------------------------------------------------------------------------


def truncate_utf8(text: str, limit: int = PASSIVE_TEXT_LIMIT) -> str:
    """`text` cut at a character boundary so its UTF-8 form fits `limit` bytes, ending in "…"."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(_ELLIPSIS.encode("utf-8"))
    cut = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return cut + _ELLIPSIS


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside CDATA: close the section between "]]" and ">".
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_text_reply(to_user: str, from_user: str, text: str, now: datetime) -> str:
    """The passive text reply XML (To/From already swapped by the caller).

    WeChat drops a passive text whose Content exceeds 2048 bytes, so longer text is cut at a
    character boundary with "…"; the service should keep replies short and send the rest
    through the outbox.
    """
    content = truncate_utf8(_xml_safe(text))
    return (
        "<xml>"
        f"<ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(now.timestamp())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )


def _xml_safe(text: str) -> str:
    # Control characters other than tab/newline/CR are not allowed in XML 1.0 at all.
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)


def encrypt_reply(xml: str, secrets_: CallbackSecrets, now: datetime) -> str:
    """The reply wrapped for AES modes: <Encrypt>, <MsgSignature>, <TimeStamp>, <Nonce>."""
    nonce = secrets.token_hex(8)
    return secrets_.crypto().encrypt_message(xml, nonce, str(int(now.timestamp())))
