"""The DingTalk channel: inbound over the Stream SDK (or signed HTTP callbacks), outbound through
the app robot, interactive cards and custom group robot webhooks.

Outbound by target and kind:
  user:<staffId>   text/markdown/image/news -> robot batchSend (sampleText/Markdown/Link)
                   card        -> card createAndDeliver (template) or batchSend sampleActionCard*
                   card_update -> PUT card instance, the notice privately for that user
  group:<group id> card        -> createAndDeliver in the group when `group_conversations` knows
                                  its openConversationId, else markdown through the group webhook
                   card_update -> PUT card instance (public data only)
                   others      -> custom group robot webhook (signed; paced 20/min per robot)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from aiohttp import web
from dingtalk_stream import CallbackMessage

from bot.cards.model import Card
from bot.channels.base import (
    AdapterContext,
    FeedEvent,
    InboundEvent,
    OutboundMessage,
    Pace,
    SendResult,
)
from bot.channels.callbacks import CallbackRejected, read_capped_body, rejected_response
from bot.channels.dingtalk.cards import (
    CardSpace,
    render_action_card,
    render_card_update,
    render_dingtalk_card,
)
from bot.channels.dingtalk.inbound import (
    BOT_MESSAGE_TOPIC,
    CARD_CALLBACK_TOPIC,
    DingtalkPayloadError,
    from_millis,
    parse_bot_message,
    parse_card_callback,
    parse_http_callback,
    verify_signature,
)
from bot.channels.dingtalk.outbound import (
    DEFAULT_API_BASE,
    DEFAULT_OAPI_BASE,
    ERR_ROBOT_FLOW_CONTROL,
    ERR_ROBOT_TOO_FAST,
    ROBOT_PER_MINUTE,
    ROBOT_SILENCE_SECONDS,
    DingtalkApi,
    DingtalkApiError,
    RobotSilence,
    is_duplicate_card,
    is_token_error,
    robot_message,
    webhook_body,
)
from bot.channels.dingtalk.stream import DEFAULT_RECONNECT_DELAYS, StreamRunner
from bot.config.channels import DingtalkChannel, GroupConfig

log = logging.getLogger(__name__)

_WEBHOOK_KINDS = {"text", "markdown", "image", "news", "card"}


def robot_key(webhook_token: str) -> str:
    """A custom robot's name in pace keys, Redis and logs (a hash: the token is a credential)."""
    return "dingtalk-robot:" + hashlib.sha256(webhook_token.encode()).hexdigest()[:16]


def _first(items: Any) -> Sequence[Any]:
    return items if isinstance(items, list) else []


class DingtalkAdapter:
    """One DingTalk app (client_id) as a ChannelAdapter."""

    platform = "dingtalk"
    passive_replies = False  # robot messages are answered through the outbox, never a webhook

    def __init__(
        self,
        config: DingtalkChannel,
        context: AdapterContext,
        *,
        reconnect_delays: Sequence[float] = DEFAULT_RECONNECT_DELAYS,
        silence: RobotSilence | None = None,
    ):
        self.name = config.name
        self.config = config
        self._context = context
        self._api_base = config.api_base or DEFAULT_API_BASE
        self._oapi_base = config.oapi_base or DEFAULT_OAPI_BASE
        self._robot_code = config.robot_code or config.client_id or ""
        self._reconnect_delays = reconnect_delays
        self._silence = silence or RobotSilence(context.redis, lambda: context.clock().timestamp())
        self._session: aiohttp.ClientSession | None = None
        self._api: DingtalkApi | None = None
        self._feed: FeedEvent | None = None
        self.stream: StreamRunner | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def routes(self) -> Sequence[web.RouteDef]:
        if self.config.mode != "http":
            return []
        return [web.post(f"/callbacks/dingtalk/{self.name}", self._on_http_callback)]

    async def start(self, feed: FeedEvent) -> None:
        self._feed = feed
        api = self._ensure_api()
        if self.config.mode == "stream" and self.stream is None:
            self.stream = StreamRunner(
                channel=self.name,
                client_id=self.config.client_id or "",
                client_secret=self.config.client_secret or "",
                api_base=self._api_base,
                parsers={
                    BOT_MESSAGE_TOPIC: self._bot_event,
                    CARD_CALLBACK_TOPIC: self._card_event,
                },
                reconnect_delays=self._reconnect_delays,
            )
            self.stream.start(feed, asyncio.get_running_loop())
        elif self.config.mode == "http" and self.config.card_template_id:
            url = f"{self._context.public_base_url.rstrip('/')}/callbacks/dingtalk/{self.name}"
            try:
                await api.register_card_callback(self.name, url, self.config.client_secret or "")
            except Exception as exc:  # clicks fail until it works; messages still flow
                log.warning("dingtalk %s: card callback registration failed: %s", self.name, exc)

    async def stop(self) -> None:
        if self.stream is not None:
            await self.stream.stop()
            self.stream = None
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._api = None
        self._feed = None

    def _ensure_api(self) -> DingtalkApi:
        if self._api is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
            self._api = DingtalkApi(
                channel=self.name,
                client_id=self.config.client_id or "",
                client_secret=self.config.client_secret or "",
                api_base=self._api_base,
                oapi_base=self._oapi_base,
                tokens=self._context.tokens,
                session=self._session,
            )
        return self._api

    # --- inbound -----------------------------------------------------------------------------

    def _bot_event(self, message: CallbackMessage) -> InboundEvent | None:
        """A Stream robot message frame (runs on the SDK thread: pure parsing only)."""
        if not isinstance(message.data, Mapping):
            raise DingtalkPayloadError("robot message data is not an object")
        return parse_bot_message(self.name, message.data, received_at=self._context.clock())

    def _card_event(self, message: CallbackMessage) -> InboundEvent | None:
        """A Stream card click; a re-push carries the same messageId, hence the same key."""
        if not isinstance(message.data, Mapping):
            raise DingtalkPayloadError("card callback data is not an object")
        if not message.headers.message_id:
            raise DingtalkPayloadError("card callback frame without messageId")
        return parse_card_callback(
            self.name,
            message.data,
            dedupe_key=f"card:{message.headers.message_id}",
            sent_at=from_millis(message.headers.time, self._context.clock()),
        )

    async def _on_http_callback(self, request: web.Request) -> web.StreamResponse:
        now = self._context.clock()
        timestamp = request.headers.get("timestamp", "")
        try:
            # The signature covers the timestamp and the secret, not the body: check it before
            # reading a byte of the body.
            verify_signature(
                timestamp, request.headers.get("sign"), self.config.client_secret or "", now
            )
            body = await read_capped_body(request)
            try:
                data = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CallbackRejected(400, "body is not JSON") from exc
            if not isinstance(data, dict):
                raise CallbackRejected(400, "body is not a JSON object")
            try:
                event = parse_http_callback(self.name, data, timestamp=timestamp, received_at=now)
            except DingtalkPayloadError as exc:
                raise CallbackRejected(400, str(exc)) from exc
        except CallbackRejected as exc:
            return rejected_response(self.name, exc)
        answer = web.json_response({}) if "outTrackId" in data else web.Response()
        if event is None:
            return answer
        feed = self._feed
        if feed is None:
            return web.Response(status=503, text="not started")
        try:
            reply = await feed(event)
        except Exception as exc:
            log.warning("dingtalk %s: feed failed (%s); asking for a retry", self.name, exc)
            return web.Response(status=503, text="retry later")
        return answer if reply.accepted else web.Response(status=503, text="retry later")

    # --- outbound ----------------------------------------------------------------------------

    def pace(self, message: OutboundMessage) -> Pace | None:
        """Group robot webhooks: 20 a minute per robot (a burst silences it for 10 minutes)."""
        if message.target_kind != "group" or not self._via_webhook(message):
            return None
        group = self._context.groups.get(message.target_id)
        if group is None or not group.webhook_token:
            return None
        return Pace(key=robot_key(group.webhook_token), per_minute=ROBOT_PER_MINUTE)

    def _via_webhook(self, message: OutboundMessage) -> bool:
        if message.kind not in _WEBHOOK_KINDS:
            return False
        if message.kind == "card":
            return not (
                self.config.card_template_id
                and message.target_id in self.config.group_conversations
            )
        return True

    def render_card(self, card: Card) -> Mapping[str, Any]:
        if self.config.card_template_id:
            return render_dingtalk_card(
                card,
                template_id=self.config.card_template_id,
                robot_code=self._robot_code,
                **self._callback_options(),
            )
        msg_key, msg_param = render_action_card(card)
        return {"robotCode": self._robot_code, "msgKey": msg_key, "msgParam": msg_param}

    def _callback_options(self) -> dict[str, Any]:
        if self.config.mode == "http":
            return {"callback_type": "HTTP", "callback_route_key": self.name}
        return {"callback_type": "STREAM"}

    async def send(self, message: OutboundMessage) -> SendResult:
        api = self._ensure_api()
        if message.kind == "image" and not message.payload.get("url"):
            # DingTalk markdown shows images by URL only; the service serves the file.
            return SendResult.failed("image payload without a url", permanent=True)
        try:
            if message.target_kind == "user" and message.target_id:
                return await self._send_to_user(api, message)
            if message.target_kind == "group":
                group = self._context.groups.get(message.target_id)
                if group is None:
                    return SendResult.failed(f"unknown group {message.target_id!r}", permanent=True)
                return await self._send_to_group(api, message, group)
        except DingtalkApiError as exc:
            return self._refused(message, exc)
        return SendResult.failed(f"unknown target {message.target!r}", permanent=True)

    def _refused(self, message: OutboundMessage, exc: DingtalkApiError) -> SendResult:
        why = f"DingTalk {exc.status} {exc.errcode}: {exc.errmsg}"
        if exc.status == 429:
            return SendResult.later(exc.retry_after or 5.0, why)
        if message.kind == "card" and is_duplicate_card(exc):
            return SendResult.delivered(outTrackId=message.card.ref, duplicate=True)
        if is_token_error(exc):  # refused again with a fresh token: credentials or permissions
            return SendResult.failed(why)
        return SendResult.failed(why, permanent=True)

    async def _batch_send(
        self, api: DingtalkApi, user_id: str, msg_key: str, msg_param: Mapping[str, Any]
    ) -> SendResult:
        data = await api.robot_send_to_users(self._robot_code, [user_id], msg_key, msg_param)
        if user_id in _first(data.get("invalidStaffIdList")):
            return SendResult.failed(f"DingTalk does not know user {user_id!r}", permanent=True)
        if user_id in _first(data.get("flowControlledStaffIdList")):
            return SendResult.later(60.0, f"DingTalk flow control for user {user_id!r}")
        return SendResult.delivered(processQueryKey=data.get("processQueryKey"))

    async def _deliver_card(self, api: DingtalkApi, card: Card, space: CardSpace) -> SendResult:
        assert self.config.card_template_id
        body = render_dingtalk_card(
            card,
            template_id=self.config.card_template_id,
            robot_code=self._robot_code,
            space=space,
            **self._callback_options(),
        )
        data = await api.create_and_deliver_card(body)
        result = data.get("result") if isinstance(data.get("result"), Mapping) else {}
        deliveries = [d for d in _first(result.get("deliverResults")) if isinstance(d, Mapping)]
        if deliveries and not any(d.get("success") for d in deliveries):
            errors = "; ".join(str(d.get("errorMsg") or "failed") for d in deliveries)
            return SendResult.failed(f"card not delivered: {errors}", permanent=True)
        if data.get("success") is False and not deliveries:
            return SendResult.failed("card not delivered", permanent=True)
        carrier = next((d.get("carrierId") for d in deliveries if d.get("success")), None)
        return SendResult.delivered(outTrackId=card.ref, carrierId=carrier)

    async def _update_card(self, api: DingtalkApi, card: Card, viewer: str | None) -> SendResult:
        if not self.config.card_template_id:
            # ActionCard messages cannot change; clicks there are typed commands, answered as text.
            return SendResult.delivered(skipped="no card template: nothing to update")
        await api.update_card(render_card_update(card, viewer=viewer))
        return SendResult.delivered(outTrackId=card.ref)

    async def _send_to_user(self, api: DingtalkApi, message: OutboundMessage) -> SendResult:
        user_id = message.target_id
        if message.kind == "card":
            if self.config.card_template_id:
                return await self._deliver_card(api, message.card, CardSpace("user", user_id))
            msg_key, msg_param = render_action_card(message.card)
            return await self._batch_send(api, user_id, msg_key, msg_param)
        if message.kind == "card_update":
            return await self._update_card(api, message.card, viewer=user_id)
        converted = robot_message(message)
        if converted is not None:
            return await self._batch_send(api, user_id, *converted)
        return SendResult.failed(f"DingTalk cannot send {message.kind!r}", permanent=True)

    async def _send_to_group(
        self, api: DingtalkApi, message: OutboundMessage, group: GroupConfig
    ) -> SendResult:
        if message.kind == "card_update":
            return await self._update_card(api, message.card, viewer=None)
        conversation = self.config.group_conversations.get(group.id)
        if message.kind == "card" and self.config.card_template_id and conversation:
            return await self._deliver_card(api, message.card, CardSpace("group", conversation))
        body = webhook_body(message)
        if body is None:
            return SendResult.failed(
                f"DingTalk groups cannot show {message.kind!r}", permanent=True
            )
        if not group.webhook_token:
            return SendResult.failed(f"group {group.id!r} has no robot webhook", permanent=True)
        return await self._post_webhook(api, group, body)

    async def _post_webhook(
        self, api: DingtalkApi, group: GroupConfig, body: Mapping[str, Any]
    ) -> SendResult:
        assert group.webhook_token
        robot = robot_key(group.webhook_token)
        remaining = await self._silence.remaining(robot)
        if remaining > 0:
            return SendResult.later(remaining, "DingTalk silenced this robot (130101)")
        status, data, retry_after = await api.webhook_send(
            group.webhook_token, group.webhook_secret, body, self._context.clock()
        )
        if status == 429:
            return SendResult.later(retry_after or 60.0, "robot webhook rate limited (429)")
        errcode = data.get("errcode")
        errmsg = str(data.get("errmsg", ""))
        if status == 200 and errcode == 0:
            return SendResult.delivered()
        if errcode == ERR_ROBOT_TOO_FAST:
            await self._silence.silence(robot, ROBOT_SILENCE_SECONDS)
            log.warning("dingtalk %s: %s silenced for 10 minutes (130101)", self.name, robot)
            return SendResult.later(ROBOT_SILENCE_SECONDS, f"130101: {errmsg}")
        if errcode == ERR_ROBOT_FLOW_CONTROL:
            return SendResult.later(60.0, f"{ERR_ROBOT_FLOW_CONTROL}: {errmsg}")
        return SendResult.failed(f"robot webhook {status} {errcode}: {errmsg}", permanent=True)
