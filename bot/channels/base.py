"""The one protocol every platform adapter implements, and the neutral events that cross it.

Inbound, an adapter verifies, decrypts and parses a platform delivery into an `InboundEvent` and
hands it to `feed` (the service's single entry point, like aiogram's `feed_update`); the `Reply`
it gets back is what the platform is answered with inside its deadline. Outbound, the outbox relay
gives the adapter an `OutboundMessage` and records the `SendResult`. Adding a platform means one
folder under bot/channels/ implementing `ChannelAdapter`; nothing else imports platform code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from aiohttp import web

from bot.cards.model import Card
from bot.config.channels import GroupConfig
from bot.delivery.tokens import AccessTokenCache

if TYPE_CHECKING:
    from redis.asyncio import Redis

# --- inbound -------------------------------------------------------------------------------------

MessageKind = Literal[
    "text",
    "image",
    "voice",
    "video",
    "file",
    "location",
    "link",
    "click",
    "subscribe",
    "unsubscribe",
]


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    label: str = ""


@dataclass(frozen=True)
class InboundMessage:
    """A chat message or chat event from a customer (WeChat) or an employee (WeCom, DingTalk)."""

    channel: str  # the channel's name in the config ("service", "staff-wecom")
    # Unique per channel for one platform delivery: "msg:<MsgId>", or for events without an id
    # "evt:<FromUserName>:<CreateTime>:<Event>". A retry carries the same key.
    dedupe_key: str
    sender: str  # the platform's user id: WeChat openid, WeCom UserID, DingTalk staffId
    kind: MessageKind
    sent_at: datetime  # aware
    text: str = ""  # text content; the menu EventKey for clicks; speech recognition for voice
    media_id: str | None = None
    location: Location | None = None
    # DingTalk group chats: the conversation the message came from (None in 1:1 chats).
    conversation_id: str | None = None
    sender_name: str = ""
    raw_type: str = ""  # the platform's own MsgType/Event, for logs


@dataclass(frozen=True)
class CardClick:
    """A button press or selection on an interactive card."""

    channel: str
    dedupe_key: str
    sender: str  # platform user id of the person who clicked
    card_ref: str  # the id we gave the card: WeCom task_id, DingTalk outTrackId
    action: str  # the CardAction.id of the button
    sent_at: datetime
    selections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # select key -> ids
    inputs: Mapping[str, str] = field(default_factory=dict)  # input key -> text (DingTalk)
    response_code: str | None = None  # WeCom: single-use code to update this card (72 h)


InboundEvent = InboundMessage | CardClick


@dataclass(frozen=True)
class Reply:
    """What to answer the platform with, inside its deadline.

    `text` is a passive reply for platforms that have one (WeChat OA, WeCom app); adapters without
    passive replies ignore it (the service then sends through the outbox instead). `accepted`
    False means the event could not be stored: the adapter must make the platform retry
    (HTTP 503, or a NACK on the DingTalk stream).
    """

    text: str | None = None
    accepted: bool = True


FeedEvent = Callable[[InboundEvent], Awaitable[Reply]]

# --- outbound ------------------------------------------------------------------------------------

OutboundKind = Literal["text", "markdown", "card", "card_update", "image", "news", "template"]


@dataclass(frozen=True)
class OutboundMessage:
    """One outbox row, as the adapter sees it.

    `target` is "user:<platform user id>" (an employee or a WeChat openid) or "group:<group id>"
    (a group chat from the config's `groups:`; the adapter knows its robot webhook).
    Payloads by kind:
      text:        {"text": str}
      markdown:    {"title": str, "text": str}
      card:        {"card": Card.to_dict()}
      card_update: {"card": Card.to_dict(), "response_code": str | None}
      image:       {"path": str (file under the data dir), "title": str, "url": str | None}
      news:        {"title", "description", "url", "picurl"}   (WeChat OA article link)
      template:    {"template_id", "data": {key: value}, "url"}  (WeChat OA template message)
    """

    id: int
    kind: OutboundKind
    target: str
    payload: Mapping[str, Any]
    idempotency_key: str
    attempt: int = 1

    @property
    def card(self) -> Card:
        return Card.from_dict(self.payload["card"])

    @property
    def target_kind(self) -> str:
        return self.target.partition(":")[0]

    @property
    def target_id(self) -> str:
        return self.target.partition(":")[2]


@dataclass(frozen=True)
class SendResult:
    """The outcome of one send. Transport failures (timeouts, 5xx) are raised, not returned.

    ok: delivered (or already delivered: a duplicate the platform recognised).
    retry_after: the platform asked us to slow down; try again after this many seconds and do
      not count it as a failed attempt.
    permanent: retrying cannot help (bad target, outside the 48 h window with no fallback).
    receipt: what the platform answered that is worth keeping (WeCom response_code, msgid).
    """

    ok: bool
    retry_after: float | None = None
    permanent: bool = False
    error: str | None = None
    receipt: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def delivered(cls, **receipt: Any) -> SendResult:
        return cls(ok=True, receipt=receipt)

    @classmethod
    def later(cls, seconds: float, error: str) -> SendResult:
        return cls(ok=False, retry_after=seconds, error=error)

    @classmethod
    def failed(cls, error: str, *, permanent: bool = False) -> SendResult:
        return cls(ok=False, permanent=permanent, error=error)


@dataclass(frozen=True)
class Pace:
    """A sending limit the relay keeps for one target: at most `per_minute` sends a minute."""

    key: str  # e.g. "wecom-robot:<key hash>", "wecom-member:<corp>:<userid>"
    per_minute: int


@runtime_checkable
class ChannelAdapter(Protocol):
    """One platform account (a WeChat OA, a WeCom app, a DingTalk app, the playground)."""

    name: str  # the channel's name in the config
    platform: str  # "wechat_oa" | "wecom" | "dingtalk" | "playground"
    # True when `Reply.text` reaches the user (a passive reply); otherwise replies go via outbox.
    passive_replies: bool

    def routes(self) -> Sequence[web.RouteDef]:
        """HTTP routes for the platform's callbacks (empty for stream connections)."""
        ...

    async def start(self, feed: FeedEvent) -> None:
        """Open connections (HTTP session, stream); events are handed to `feed` from now on."""
        ...

    async def stop(self) -> None:
        """Close connections; safe to call twice."""
        ...

    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver one outbox message; raise on transport errors so the relay retries."""
        ...

    def pace(self, message: OutboundMessage) -> Pace | None:
        """The rate limit that applies to this message's target, if any."""
        ...

    def render_card(self, card: Card) -> Mapping[str, Any]:
        """The platform's own payload for a card (what `send` would post), for previews."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AdapterContext:
    """What the composition root gives every adapter it builds."""

    groups: Mapping[str, GroupConfig] = field(default_factory=dict)  # group chats by id
    tokens: AccessTokenCache = field(default_factory=AccessTokenCache)
    data_dir: Path = Path("data")
    # The service's public address, for links in cards and digest image URLs.
    public_base_url: str = "http://127.0.0.1:8080"
    redis: Redis | None = None
    clock: Callable[[], datetime] = _utc_now


# Each platform package exposes `build_adapter(config, context) -> ChannelAdapter`; bot/app.py maps
# the config's channel `type` to it explicitly.
AdapterBuilder = Callable[[Any, AdapterContext], ChannelAdapter]
