"""The WeCom (企业微信) app as a ChannelAdapter: callbacks in, app messages and robot notices out.

Inbound: `GET/POST /callbacks/wecom/{name}`. GET answers WeCom's URL check with the decrypted
echostr (pure crypto, well inside its 1 s). POST is capped, verified, decrypted, parsed and handed
to `feed`; the answer is the stored Reply (a passive text reply for messages), or 503 when the
service could not store the event, so WeCom retries. Nothing slow happens before the answer.

Outbound kinds, for targets "user:<UserID>" (app messages) and "group:<group id>" (the group's
robot webhook from the config's `groups:`):
- text, markdown: app message or robot message, cut cleanly to WeCom's byte limits;
- card: a template_card whose task_id is the card ref; the receipt keeps the send's
  `response_code` and `task_id`. A repeated task_id (42014) counts as delivered (a retry).
  To a group, a card is sent as robot markdown (robots cannot carry our buttons);
- card_update: `update_template_card` with the payload's `response_code` (single-use, 72 h). A
  used or expired code (60140) is a permanent failure naming the reason: WeCom cannot edit that
  card any more. With `response_code` None the card cannot be edited, so a fresh card is sent
  (task_id `<ref>@<hash of the idempotency key>`, receipt `fresh: True`) — but only for a ref
  this channel sent before (or whose `task_id` the payload names); otherwise a permanent failure;
- image: robot `image{base64, md5}` (JPG/PNG ≤ 2 MB) or, for a member, media upload + image;
- news, template: WeChat OA concepts, refused permanently.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from hashlib import sha256
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from bot.cards.model import Card
from bot.channels.base import (
    AdapterContext,
    FeedEvent,
    InboundMessage,
    OutboundMessage,
    Pace,
    SendResult,
)
from bot.channels.callbacks import CallbackRejected, read_capped_body, rejected_response
from bot.channels.wecom.cards import (
    WecomCardError,
    card_as_markdown,
    clip_bytes,
    fresh_task_id,
    render_wecom_card,
    wecom_task_id,
)
from bot.channels.wecom.inbound import (
    CallbackCrypto,
    open_message,
    open_url_verification,
    parse_event,
    passive_text_reply,
)
from bot.channels.wecom.outbound import (
    APP_IMAGE_BYTES,
    APP_MARKDOWN_BYTES,
    DUPLICATE_TASK_ID,
    INVALID_RESPONSE_CODE,
    REQUEST_TIMEOUT,
    ROBOT_IMAGE_BYTES,
    ROBOT_MARKDOWN_BYTES,
    TEXT_BYTES,
    ImageRefused,
    WecomApi,
    WecomRateLimited,
    invalid_users,
    load_image,
    outcome,
)
from bot.config.channels import GroupConfig, WecomChannel
from bot.errors import BotError

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

MEMBER_MESSAGES_PER_MINUTE = 30  # app messages per member; WeCom silently drops the excess
ROBOT_MESSAGES_PER_MINUTE = 20  # per group robot; the excess is refused with 45009
SENT_CARD_TTL_SECONDS = 90 * 24 * 3600


class WecomSetupError(BotError):
    """The channel config cannot run a WeCom app (missing credentials, bad agent id)."""


class SentCards:
    """Card refs this channel has sent, so a code-less update can tell 'replace' from 'never sent'.

    Kept in the process and, when Redis is configured, in Redis (shared by workers, survives
    restarts). Without Redis a restart forgets; the service can then name the original send's
    `task_id` in the card_update payload.
    """

    def __init__(self, channel: str, redis: Redis | None):
        self._local: set[str] = set()
        self._redis = redis
        self._prefix = f"complaint-bot:wecom:{channel}:sent-card:"

    async def add(self, ref: str) -> None:
        self._local.add(ref)
        if self._redis is not None:
            try:
                await self._redis.set(self._prefix + ref, "1", ex=SENT_CARD_TTL_SECONDS)
            except Exception as exc:  # Redis only speeds things up; never fail a send for it
                log.warning("wecom sent-card record: Redis unavailable (%s)", type(exc).__name__)

    async def seen(self, ref: str) -> bool:
        if ref in self._local:
            return True
        if self._redis is None:
            return False
        try:
            return bool(await self._redis.exists(self._prefix + ref))
        except Exception as exc:
            log.warning("wecom sent-card lookup: Redis unavailable (%s)", type(exc).__name__)
            return False


class WecomAdapter:
    """One WeCom self-built app (corp id + agent id) and the group robots of its groups."""

    platform = "wecom"
    passive_replies = True

    def __init__(self, config: WecomChannel, context: AdapterContext):
        missing = config.missing_credentials()
        if missing:
            raise WecomSetupError(f"wecom channel {config.name!r} lacks {', '.join(missing)}")
        assert config.corp_id and config.secret and config.token and config.encoding_aes_key
        agent = str(config.agent_id).strip()
        if not agent.isdigit():
            raise WecomSetupError(
                f"wecom channel {config.name!r}: agent_id {config.agent_id!r} is not a number"
            )
        self.name = config.name
        self.agent_id = int(agent)
        self.corp_id = config.corp_id
        self._context = context
        self._link = context.public_base_url
        try:
            self.crypto = CallbackCrypto(config.token, config.encoding_aes_key, config.corp_id)
        except Exception as exc:  # wechatpy asserts on a key that is not 43 base64 characters
            raise WecomSetupError(
                f"wecom channel {config.name!r}: encoding_aes_key is not a 43-character key"
            ) from exc
        self.api = WecomApi(
            channel=config.name,
            api_base=config.api_base or "https://qyapi.weixin.qq.com",
            corp_id=config.corp_id,
            agent_id=self.agent_id,
            secret=config.secret,
            tokens=context.tokens,
            session=self._http,
        )
        self._session: aiohttp.ClientSession | None = None
        self._feed: FeedEvent | None = None
        self.sent_cards = SentCards(config.name, context.redis)

    # --- lifecycle ---------------------------------------------------------------------------

    def routes(self) -> Sequence[web.RouteDef]:
        path = f"/callbacks/wecom/{self.name}"
        return [web.get(path, self.verify_url), web.post(path, self.receive)]

    async def start(self, feed: FeedEvent) -> None:
        self._feed = feed
        self._http()

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=REQUEST_TIMEOUT)
        return self._session

    def _now(self) -> datetime:
        return self._context.clock()

    # --- inbound -----------------------------------------------------------------------------

    async def verify_url(self, request: web.Request) -> web.Response:
        """WeCom's URL check: answer the decrypted echostr as plain text."""
        try:
            echo = open_url_verification(self.crypto, request.query, self._now())
        except CallbackRejected as exc:
            return rejected_response(self.name, exc)
        return web.Response(text=echo, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """An encrypted message or event: verify, parse, feed, answer."""
        try:
            body = await read_capped_body(request)
            fields = open_message(self.crypto, request.query, body, self._now())
            agent = fields.get("AgentID", "")
            if agent and agent != str(self.agent_id):
                raise CallbackRejected(403, f"AgentID {agent} is not this app's")
            event = parse_event(self.name, fields)
        except CallbackRejected as exc:
            return rejected_response(self.name, exc)
        if event is None:
            return web.Response(text="")
        if self._feed is None:
            return web.Response(status=503, text="not started")
        try:
            reply = await self._feed(event)
        except Exception:
            log.exception("wecom %s: feed failed; asking WeCom to retry", self.name)
            return web.Response(status=503, text="not stored")
        if not reply.accepted:
            return web.Response(status=503, text="not stored")
        # WeCom takes passive text replies to messages; a card event only takes a card update,
        # which the service sends through the outbox instead.
        if reply.text and isinstance(event, InboundMessage):
            xml = passive_text_reply(
                self.crypto,
                to_user=event.sender,
                text=reply.text,
                timestamp=str(int(self._now().timestamp())),
            )
            return web.Response(text=xml, content_type="application/xml")
        return web.Response(text="")

    # --- outbound ----------------------------------------------------------------------------

    def render_card(self, card: Card) -> Mapping[str, Any]:
        return render_wecom_card(card, agent_id=self.agent_id, link=self._link)

    def pace(self, message: OutboundMessage) -> Pace | None:
        if message.target_kind == "group":
            group = self._context.groups.get(message.target_id)
            if group is None or not group.webhook_key:
                return None
            digest = sha256(group.webhook_key.encode()).hexdigest()[:16]
            return Pace(key=f"wecom-robot:{digest}", per_minute=ROBOT_MESSAGES_PER_MINUTE)
        if message.target_kind == "user" and message.target_id:
            return Pace(
                key=f"wecom-member:{self.corp_id}:{message.target_id}",
                per_minute=MEMBER_MESSAGES_PER_MINUTE,
            )
        return None

    async def send(self, message: OutboundMessage) -> SendResult:
        if message.kind in ("news", "template"):
            return SendResult.failed(
                f"{message.kind} is a WeChat Official Account message; WeCom has none",
                permanent=True,
            )
        try:
            if message.target_kind == "group":
                return await self._send_to_group(message)
            if message.target_kind == "user" and message.target_id:
                return await self._send_to_member(message)
        except WecomRateLimited as exc:
            return SendResult.later(exc.retry_after, str(exc))
        except (WecomCardError, ImageRefused) as exc:
            return SendResult.failed(str(exc), permanent=True)
        return SendResult.failed(f"unknown target {message.target!r}", permanent=True)

    async def _send_to_member(self, message: OutboundMessage) -> SendResult:
        user = message.target_id
        payload = message.payload
        if message.kind == "text":
            body = {
                "msgtype": "text",
                "text": {"content": clip_bytes(payload["text"], TEXT_BYTES)},
            }
            return await self._app_message(user, body, what="text")
        if message.kind == "markdown":
            content = clip_bytes(_markdown(payload), APP_MARKDOWN_BYTES, at_line=True)
            return await self._app_message(
                user, {"msgtype": "markdown", "markdown": {"content": content}}, what="markdown"
            )
        if message.kind == "card":
            card = message.card
            return await self._send_card(user, card, wecom_task_id(card.ref))
        if message.kind == "card_update":
            return await self._update_card(message)
        if message.kind == "image":
            image = await load_image(self._context.data_dir, payload["path"], APP_IMAGE_BYTES)
            uploaded = await self.api.upload_image(image)
            if uploaded.get("errcode", 0) != 0 or not uploaded.get("media_id"):
                return outcome(uploaded, what="image upload")
            body = {"msgtype": "image", "image": {"media_id": uploaded["media_id"]}}
            return await self._app_message(user, body, what="image")
        return SendResult.failed(f"kind {message.kind!r} is not supported", permanent=True)

    async def _app_message(
        self, user: str, body: Mapping[str, Any], *, what: str, **receipt: Any
    ) -> SendResult:
        answer = await self.api.send_message({"touser": user, "agentid": self.agent_id, **body})
        if answer.get("errcode", 0) == 0 and user in invalid_users(answer):
            return SendResult.failed(f"{what}: WeCom cannot reach member {user!r}", permanent=True)
        return outcome(answer, what=what, msgid=answer.get("msgid"), **receipt)

    async def _send_card(self, user: str, card: Card, task_id: str, **receipt: Any) -> SendResult:
        body = render_wecom_card(card, agent_id=self.agent_id, task_id=task_id, link=self._link)
        answer = await self.api.send_message({"touser": user, **body})
        if answer.get("errcode") == DUPLICATE_TASK_ID:
            # Our task ids are well-formed, so 42014 means this task_id went out before (a retry
            # after a lost answer): delivered, but WeCom does not repeat the response_code.
            await self.sent_cards.add(card.ref)
            return SendResult.delivered(task_id=task_id, duplicate=True, **receipt)
        if answer.get("errcode", 0) == 0:
            if user in invalid_users(answer):
                return SendResult.failed(
                    f"card: WeCom cannot reach member {user!r}", permanent=True
                )
            await self.sent_cards.add(card.ref)
        return outcome(
            answer,
            what="card",
            task_id=task_id,
            response_code=answer.get("response_code"),
            msgid=answer.get("msgid"),
            **receipt,
        )

    async def _update_card(self, message: OutboundMessage) -> SendResult:
        card = message.card
        user = message.target_id
        code = message.payload.get("response_code")
        if not code:
            known = message.payload.get("task_id") or await self.sent_cards.seen(card.ref)
            if not known:
                return SendResult.failed(
                    f"card {card.ref!r} was never sent on channel {self.name!r}: there is no "
                    "card to update and no response_code to update it with",
                    permanent=True,
                )
            # No usable code: WeCom cannot edit the old card, so the member gets a fresh one.
            task_id = fresh_task_id(card.ref, message.idempotency_key)
            return await self._send_card(user, card, task_id, fresh=True)
        rendered = render_wecom_card(card, agent_id=self.agent_id, link=self._link)
        answer = await self.api.update_template_card(
            {
                "userids": [user],
                "agentid": self.agent_id,
                "response_code": code,
                "template_card": rendered["template_card"],
            }
        )
        if answer.get("errcode") == INVALID_RESPONSE_CODE:
            return SendResult.failed(
                f"card_update: response_code for card {card.ref!r} is already used or expired "
                f"(WeCom {INVALID_RESPONSE_CODE}); codes are single-use and last 72 h — send a "
                "card_update with response_code None for a fresh card",
                permanent=True,
            )
        return outcome(answer, what="card_update", updated=True)

    async def _send_to_group(self, message: OutboundMessage) -> SendResult:
        group = self._context.groups.get(message.target_id)
        problem = _robot_problem(self.name, message.target_id, group)
        if problem:
            return SendResult.failed(problem, permanent=True)
        assert group is not None and group.webhook_key
        payload = message.payload
        body: dict[str, Any]
        if message.kind == "text":
            body = {
                "msgtype": "text",
                "text": {"content": clip_bytes(payload["text"], TEXT_BYTES)},
            }
        elif message.kind in ("markdown", "card"):
            text = (
                _markdown(payload) if message.kind == "markdown" else card_as_markdown(message.card)
            )
            content = clip_bytes(text, ROBOT_MARKDOWN_BYTES, at_line=True)
            body = {"msgtype": "markdown", "markdown": {"content": content}}
        elif message.kind == "image":
            image = await load_image(self._context.data_dir, payload["path"], ROBOT_IMAGE_BYTES)
            encoded = base64.b64encode(image.data).decode()
            body = {"msgtype": "image", "image": {"base64": encoded, "md5": image.md5}}
        else:
            return SendResult.failed(
                f"{message.kind} cannot go to a group robot (cards are updated per member)",
                permanent=True,
            )
        answer = await self.api.robot_send(group.webhook_key, body)
        return outcome(answer, what=f"robot {message.kind}")


def _markdown(payload: Mapping[str, Any]) -> str:
    """The markdown text, with the title as a bold first line unless the text starts with it."""
    title = str(payload.get("title") or "").strip()
    text = str(payload.get("text") or "")
    if title and title not in text.split("\n", 1)[0]:
        return f"**{title}**\n{text}"
    return text


def _robot_problem(channel: str, group_id: str, group: GroupConfig | None) -> str | None:
    if group is None:
        return f"unknown group {group_id!r}"
    if group.channel != channel:
        return f"group {group_id!r} belongs to channel {group.channel!r}, not {channel!r}"
    if not group.webhook_key:
        return f"group {group_id!r} has no webhook_key for its WeCom robot"
    return None


def build_adapter(config: WecomChannel, context: AdapterContext) -> WecomAdapter:
    """The WeCom adapter for one `type: wecom` channel of the config."""
    return WecomAdapter(config, context)
