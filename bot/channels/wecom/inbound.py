"""WeCom app callbacks: verify, decrypt and parse into neutral events; build passive replies.

WeCom's callback crypto is the WeChat OA safe mode with the CorpID as receiveid (wechatpy's
`enterprise.crypto`). Nothing is trusted before the signature matches, the timestamp is fresh
and the decrypted receiveid is our CorpID; XML is parsed entity-free before and after decryption.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException

from bot.channels.base import CardClick, InboundEvent, InboundMessage, Location
from bot.channels.callbacks import CallbackRejected, parse_flat_xml, parse_xml_element
from bot.channels.wecom.cards import (
    CHOICE_QUESTION_KEY,
    CHOICE_SUBMIT_KEY,
    action_from_event_key,
    card_ref_from_task_id,
    clip_bytes,
)

# WeCom retries within seconds; a signed request older than this is a replay.
TIMESTAMP_TOLERANCE_SECONDS = 300
PASSIVE_TEXT_BYTES = 2048  # "文本消息内容，最长不超过2048个字节"

CARD_EVENTS = ("template_card_event", "template_card_menu_event")


@dataclass(frozen=True)
class SignedQuery:
    """The signature parameters WeCom puts in the callback URL."""

    msg_signature: str
    timestamp: str
    nonce: str

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> SignedQuery:
        """Read msg_signature/timestamp/nonce, refusing (400) a request without them."""
        values = [query.get(name, "") for name in ("msg_signature", "timestamp", "nonce")]
        if not all(values):
            raise CallbackRejected(400, "msg_signature, timestamp or nonce missing")
        if not values[1].isdigit():
            raise CallbackRejected(400, "timestamp is not a number")
        return cls(*values)


class CallbackCrypto:
    """Signature, timestamp and AES checks for one WeCom app (token, key, CorpID)."""

    def __init__(self, token: str, encoding_aes_key: str, corp_id: str):
        self._crypto = WeChatCrypto(token, encoding_aes_key, corp_id)
        self._token = token
        self.corp_id = corp_id

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """SHA1 over the sorted token, timestamp, nonce and ciphertext (WeCom's msg_signature)."""
        parts = sorted([self._token, timestamp, nonce, encrypted])
        return hashlib.sha1("".join(parts).encode()).hexdigest()

    def open(self, query: SignedQuery, encrypted: str, now: datetime) -> str:
        """The plaintext of `encrypted` after every check; CallbackRejected otherwise."""
        expected = self.signature(query.timestamp, query.nonce, encrypted)
        if not hmac.compare_digest(expected, query.msg_signature.lower()):
            raise CallbackRejected(403, "msg_signature does not match")
        age = abs(now.timestamp() - int(query.timestamp))
        if age > TIMESTAMP_TOLERANCE_SECONDS:
            raise CallbackRejected(403, f"timestamp is {int(age)} s away from now")
        try:
            return PrpCrypto(self._crypto.key).decrypt(encrypted, self.corp_id)
        except InvalidCorpIdException as exc:
            raise CallbackRejected(403, "receiveid is not our CorpID") from exc
        except Exception as exc:  # bad base64, padding or length: not WeCom's ciphertext
            raise CallbackRejected(400, f"cannot decrypt: {type(exc).__name__}") from exc

    def seal(self, plain_xml: str, timestamp: str) -> str:
        """`plain_xml` encrypted and signed as WeCom expects a passive reply."""
        return self._crypto.encrypt_message(plain_xml, secrets.token_hex(8), timestamp)


def open_url_verification(crypto: CallbackCrypto, query: Mapping[str, str], now: datetime) -> str:
    """The decrypted echostr of WeCom's GET URL check (answer it as the plain body)."""
    signed = SignedQuery.from_query(query)
    echostr = query.get("echostr", "")
    if not echostr:
        raise CallbackRejected(400, "echostr missing")
    return crypto.open(signed, echostr, now)


def open_message(
    crypto: CallbackCrypto, query: Mapping[str, str], body: bytes, now: datetime
) -> dict[str, str]:
    """The decrypted callback as flat {tag: text} (nested SelectedItems kept as raw XML)."""
    signed = SignedQuery.from_query(query)
    envelope = parse_flat_xml(body)
    encrypted = envelope.get("Encrypt", "")
    if not encrypted:
        raise CallbackRejected(400, "Encrypt element missing")
    to_user = envelope.get("ToUserName")
    if to_user and to_user != crypto.corp_id:
        raise CallbackRejected(403, "ToUserName is not our CorpID")
    return parse_flat_xml(crypto.open(signed, encrypted, now))


def parse_event(channel: str, fields: Mapping[str, str]) -> InboundEvent | None:
    """The neutral event for a decrypted callback, or None for events the service ignores."""
    sender = fields.get("FromUserName", "")
    if not sender:
        raise CallbackRejected(400, "FromUserName missing")
    created = fields.get("CreateTime", "0")
    sent_at = datetime.fromtimestamp(int(created) if created.isdigit() else 0, UTC)
    msg_type = fields.get("MsgType", "")
    if msg_type == "event":
        return _parse_event_kind(channel, fields, sender, created, sent_at)
    msg_id = fields.get("MsgId") or ""
    dedupe = f"msg:{msg_id}" if msg_id else f"evt:{sender}:{created}:{msg_type}"
    common = dict(channel=channel, dedupe_key=dedupe, sender=sender, sent_at=sent_at)
    if msg_type == "text":
        return InboundMessage(
            **common, kind="text", text=fields.get("Content", ""), raw_type="text"
        )
    if msg_type in ("image", "voice", "video"):
        text = fields.get("Recognition", "") if msg_type == "voice" else ""
        return InboundMessage(
            **common,
            kind=msg_type,  # type: ignore[arg-type]
            text=text,
            media_id=fields.get("MediaId") or None,
            raw_type=msg_type,
        )
    if msg_type == "location":
        location = Location(
            latitude=_float(fields.get("Location_X")),
            longitude=_float(fields.get("Location_Y")),
            label=fields.get("Label", ""),
        )
        return InboundMessage(**common, kind="location", location=location, raw_type=msg_type)
    if msg_type == "link":
        return InboundMessage(**common, kind="link", text=fields.get("Url", ""), raw_type="link")
    return None


def _parse_event_kind(
    channel: str, fields: Mapping[str, str], sender: str, created: str, sent_at: datetime
) -> InboundEvent | None:
    event = fields.get("Event", "")
    key = fields.get("EventKey", "")
    if event in CARD_EVENTS:
        task_id = fields.get("TaskId", "")
        if not task_id:
            raise CallbackRejected(400, "card event without TaskId")
        selections = parse_selected_items(fields.get("SelectedItems", ""))
        action = action_from_event_key(key)
        if key == CHOICE_SUBMIT_KEY:
            chosen = selections.pop(CHOICE_QUESTION_KEY, ())
            action = chosen[0] if chosen else ""
        return CardClick(
            channel=channel,
            dedupe_key=f"evt:{sender}:{created}:{event}:{task_id}:{key}",
            sender=sender,
            card_ref=card_ref_from_task_id(task_id),
            action=action,
            sent_at=sent_at,
            selections=selections,
            response_code=fields.get("ResponseCode") or None,
        )
    dedupe = f"evt:{sender}:{created}:{event}"
    if event == "click":
        return InboundMessage(
            channel=channel,
            dedupe_key=dedupe,
            sender=sender,
            kind="click",
            sent_at=sent_at,
            text=key,
            raw_type=event,
        )
    if event in ("subscribe", "unsubscribe"):
        return InboundMessage(
            channel=channel,
            dedupe_key=dedupe,
            sender=sender,
            kind=event,  # type: ignore[arg-type]
            sent_at=sent_at,
            raw_type=event,
        )
    return None  # enter_agent, view, LOCATION reports…: nothing for the service


def parse_selected_items(raw: str) -> dict[str, tuple[str, ...]]:
    """SelectedItems/SelectedItem/{QuestionKey, OptionIds/OptionId} as {question key: ids}."""
    if not raw:
        return {}
    root: Element = parse_xml_element(raw)
    out: dict[str, tuple[str, ...]] = {}
    for item in root.iter("SelectedItem"):
        question = (item.findtext("QuestionKey") or "").strip()
        if not question:
            continue
        ids = tuple((o.text or "").strip() for o in item.iter("OptionId") if (o.text or "").strip())
        out[question] = ids
    return out


def passive_text_reply(crypto: CallbackCrypto, *, to_user: str, text: str, timestamp: str) -> str:
    """An encrypted passive text reply to `to_user` (content cut to 2048 bytes)."""
    content = _cdata(clip_bytes(text, PASSIVE_TEXT_BYTES))
    plain = (
        "<xml>"
        f"<ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(crypto.corp_id)}</FromUserName>"
        f"<CreateTime>{timestamp}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{content}</Content>"
        "</xml>"
    )
    return crypto.seal(plain, timestamp)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _float(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0
