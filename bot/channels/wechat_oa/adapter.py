"""The WeChat Official Account channel: customers write to the bot here.

Inbound: `GET /callbacks/wechat/<name>` answers URL verification, `POST` verifies and decrypts a
delivery (bot/channels/wechat_oa/inbound.py), hands it to `feed` and answers with the passive
reply inside WeChat's 5 s deadline. Outbound: the outbox relay calls `send`, which uses the
customer-service API and falls back to a template message outside the 48 h window.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.cards.model import Card, card_as_text
from bot.channels.base import (
    AdapterContext,
    FeedEvent,
    OutboundMessage,
    Pace,
    SendResult,
)
from bot.channels.callbacks import CallbackRejected, read_capped_body, rejected_response
from bot.channels.wechat_oa.inbound import (
    CallbackSecrets,
    encrypt_reply,
    open_delivery,
    parse_message,
    render_text_reply,
    verify_url,
)
from bot.channels.wechat_oa.outbound import TOKEN_ERRORS, WechatOAClient
from bot.channels.wechat_oa.templates import template_data
from bot.config.channels import WechatOAChannel
from bot.errors import ChannelError

log = logging.getLogger(__name__)

# The customer has not written within 48 h (45015), or used up the messages it allows (45047).
WINDOW_ERRORS = frozenset({45015, 45047})
QUOTA_ERRORS = frozenset({45009})
# Errors no retry can fix: bad openid, not following, bad template or media, malformed message.
PERMANENT_ERRORS = frozenset(
    {40003, 40007, 40008, 40037, 41028, 43004, 43019, 43101, 44002, 45002, 45008, 47001, 47003}
)
# Raised for the relay's backoff: token refused twice, credentials or IP whitelist refused.
RAISED_ERRORS = TOKEN_ERRORS | {40013, 40125, 40164}
_REQUIRED = {
    "text": ("text",),
    "image": ("path",),
    "card": ("card",),
    "template": ("template_id",),
}
_QUOTA_RETRY_CAP = 3600.0  # quotas reset at midnight Beijing time, or when an admin clears them
_MEDIA_REUSE = timedelta(days=2, hours=12)  # temporary media lives 3 days
_BEIJING = ZoneInfo("Asia/Shanghai")
_SLOW_FEED_SECONDS = 4.0
_DESCRIPTION_CHARS = 120


class WechatOAAdapter:
    """One Official Account: its callback routes, its API client, its sends."""

    platform = "wechat_oa"
    passive_replies = True

    def __init__(self, config: WechatOAChannel, context: AdapterContext):
        self.name = config.name
        self.config = config
        self.context = context
        self.secrets = CallbackSecrets(
            token=config.token or "",
            app_id=config.app_id or "",
            encoding_aes_key=config.encoding_aes_key,
            mode=config.mode,
            timestamp_window=config.timestamp_window,
        )
        self.client = WechatOAClient.from_config(config, context.tokens)
        self._feed: FeedEvent | None = None
        self._timezone = ZoneInfo(config.timezone)
        # (resolved path, size, mtime_ns) -> (media_id, uploaded at): retries reuse the upload.
        self._uploads: dict[tuple[str, int, int], tuple[str, datetime]] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    def routes(self) -> Sequence[web.RouteDef]:
        """GET (URL verification) and POST (deliveries) on /callbacks/wechat/<name>."""
        path = f"/callbacks/wechat/{self.name}"
        return [web.get(path, self.handle_verification), web.post(path, self.handle_delivery)]

    async def start(self, feed: FeedEvent) -> None:
        """Open the HTTP session; deliveries go to `feed` from now on."""
        self._feed = feed
        await self.client.open()

    async def stop(self) -> None:
        """Close the HTTP session; safe to call twice."""
        self._feed = None
        await self.client.close()

    # --- inbound -----------------------------------------------------------------------------

    async def handle_verification(self, request: web.Request) -> web.Response:
        """Answer WeChat's URL check with `echostr` when the signature is ours."""
        try:
            echostr = verify_url(request.query, self.secrets, self.context.clock())
        except CallbackRejected as exc:
            return rejected_response(self.name, exc)
        return web.Response(text=echostr, content_type="text/plain")

    async def handle_delivery(self, request: web.Request) -> web.Response:
        """Verify, decrypt and parse a delivery, feed it, answer with the passive reply."""
        now = self.context.clock()
        try:
            body = await read_capped_body(request)
            delivery = open_delivery(body, request.query, self.secrets, now)
            event = parse_message(delivery.fields, self.name)
        except CallbackRejected as exc:
            return rejected_response(self.name, exc)
        if event is None:  # a type we do not handle (LOCATION reports, job receipts): stop retries
            return _success()
        if self._feed is None:
            return web.Response(status=503, text="channel not started")
        started = time.monotonic()
        try:
            reply = await self._feed(event)
        except Exception:
            log.exception("%s: feed failed for %s; WeChat will retry", self.name, event.dedupe_key)
            return web.Response(status=503, text="not stored")
        if time.monotonic() - started > _SLOW_FEED_SECONDS:
            log.warning("%s: feed took over %ss; WeChat may retry", self.name, _SLOW_FEED_SECONDS)
        if not reply.accepted:
            return web.Response(status=503, text="not stored")
        if not reply.text:  # None or "": nothing to say now (an empty passive text shows blank)
            return _success()
        xml = render_text_reply(
            to_user=event.sender,
            from_user=delivery.fields.get("ToUserName", ""),
            text=reply.text,
            now=self.context.clock(),
        )
        if delivery.encrypted:
            xml = encrypt_reply(xml, self.secrets, self.context.clock())
        return web.Response(text=xml, content_type="application/xml")

    # --- outbound ----------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver one outbox message to a customer; raise on transport errors."""
        if message.target_kind != "user" or not message.target_id:
            return SendResult.failed(
                f"WeChat OA sends to customers (user:<openid>), not {message.target!r}",
                permanent=True,
            )
        missing = [key for key in _REQUIRED.get(message.kind, ()) if key not in message.payload]
        if missing:
            return SendResult.failed(
                f"{message.kind} payload without {', '.join(missing)}", permanent=True
            )
        try:
            return await self._send(message, message.target_id)
        except ChannelError as exc:
            return self._outcome(exc)

    async def _send(self, message: OutboundMessage, openid: str) -> SendResult:
        payload = message.payload
        if message.kind == "text":
            text = str(payload["text"])
            return await self._custom(message, openid, "text", {"content": text}, text, None)
        if message.kind == "markdown":
            text = "\n".join(p for p in (payload.get("title"), payload.get("text")) if p)
            return await self._custom(message, openid, "text", {"content": text}, text, None)
        if message.kind == "news":
            article = {k: str(payload.get(k) or "") for k in ("title", "description", "url")}
            article["picurl"] = str(payload.get("picurl") or "")
            text = "\n".join(p for p in (article["title"], article["description"]) if p)
            news = {"articles": [article]}
            return await self._custom(message, openid, "news", news, text, article["url"])
        if message.kind == "card":
            rendered = self.render_card(message.card)
            msgtype = rendered["msgtype"]
            url = message.card.url
            return await self._custom(
                message, openid, msgtype, rendered[msgtype], rendered["text_fallback"], url
            )
        if message.kind == "image":
            return await self._send_image(message, openid)
        if message.kind == "template":
            data = await self.client.send_template(
                openid,
                str(payload["template_id"]),
                payload.get("data") or {},
                url=payload.get("url"),
                client_msg_id=_client_msg_id(message),
            )
            return SendResult.delivered(via="template", msgid=data.get("msgid"))
        return SendResult.failed(
            f"WeChat OA cannot send a {message.kind!r} message (no editable cards)",
            permanent=True,
        )

    async def _custom(
        self,
        message: OutboundMessage,
        openid: str,
        msgtype: str,
        content: Mapping[str, Any],
        fallback_text: str,
        url: str | None,
    ) -> SendResult:
        try:
            await self.client.send_custom(openid, msgtype, content)
        except ChannelError as exc:
            if exc.errcode not in WINDOW_ERRORS:
                raise
            return await self._fallback(message, openid, fallback_text, url, exc)
        return SendResult.delivered(via="custom")

    async def _fallback(
        self,
        message: OutboundMessage,
        openid: str,
        text: str,
        url: str | None,
        cause: ChannelError,
    ) -> SendResult:
        template_id = self.config.fallback_template
        if not template_id:
            return SendResult.failed(
                f"outside the customer-service window ({cause.errcode} {cause.errmsg}) and "
                f"channel {self.name} has no fallback_template",
                permanent=True,
            )
        data = template_data(
            self.config.fallback_fields, text, self.context.clock(), self._timezone
        )
        result = await self.client.send_template(
            openid,
            template_id,
            data,
            url=url or self.config.fallback_url,
            client_msg_id=_client_msg_id(message),
        )
        return SendResult.delivered(
            via="template", msgid=result.get("msgid"), custom_error=cause.errcode
        )

    async def _send_image(self, message: OutboundMessage, openid: str) -> SendResult:
        payload = message.payload
        path = await asyncio.to_thread(self._data_file, str(payload["path"]))
        if path is None:
            return SendResult.failed(
                f"image {payload['path']!r} is not a file under the data directory",
                permanent=True,
            )
        media_id = await self._uploaded(path)
        title = str(payload.get("title") or "")
        url = payload.get("url")
        text = "\n".join(p for p in (title, url) if p)
        return await self._custom(
            message, openid, "image", {"media_id": media_id}, text or "图片", url
        )

    def _data_file(self, name: str) -> Path | None:
        root = self.context.data_dir.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    async def _uploaded(self, path: Path) -> str:
        """The media_id of `path`, uploading it unless a recent upload can be reused."""
        stat = await asyncio.to_thread(path.stat)
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        now = self.context.clock()
        cached = self._uploads.get(key)
        if cached and now - cached[1] < _MEDIA_REUSE:
            return cached[0]
        content = await asyncio.to_thread(path.read_bytes)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = await self.client.upload_media("image", path.name, content, content_type)
        media_id = str(data["media_id"])
        self._uploads[key] = (media_id, now)
        return media_id

    def _outcome(self, exc: ChannelError) -> SendResult:
        """Map a platform error to a SendResult, or re-raise it for the relay's backoff."""
        if exc.errcode in QUOTA_ERRORS:
            return SendResult.later(self._until_quota_reset(), f"{exc.errcode} {exc.errmsg}")
        if exc.errcode in PERMANENT_ERRORS:
            return SendResult.failed(f"{exc.errcode} {exc.errmsg}", permanent=True)
        if isinstance(exc.errcode, int) and exc.errcode > 0 and exc.errcode not in RAISED_ERRORS:
            return SendResult.failed(f"{exc.errcode} {exc.errmsg}")
        # -1 busy, transport, HTTP 5xx, a second token error, refused credentials: the relay
        # retries with backoff (credentials may be fixed meanwhile; the row is kept).
        raise exc

    def _until_quota_reset(self) -> float:
        now = self.context.clock().astimezone(_BEIJING)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), _BEIJING)
        return min(_QUOTA_RETRY_CAP, max(1.0, (midnight - now).total_seconds()))

    async def download_media(self, media_id: str) -> bytes:
        """A customer's image or voice file by MediaId (temporary media, kept 3 days)."""
        return (await self.client.download_media(media_id)).content

    def pace(self, message: OutboundMessage) -> Pace | None:
        """None: WeChat limits customer-service messages per 48 h window (5 after a message),
        not per minute, and answers 45047/45015 when they run out, which `send` handles."""
        return None

    def render_card(self, card: Card) -> Mapping[str, Any]:
        """Customers get no interactive cards: a news (图文) link to card.url, plus the text."""
        text = card_as_text(card)
        if not card.url:
            return {"msgtype": "text", "text": {"content": text}, "text_fallback": text}
        lines = [card.subtitle, *(f"{f.label}：{f.value}" for f in card.fields), card.outcome]
        description = "\n".join(line for line in lines if line)
        if len(description) > _DESCRIPTION_CHARS:
            description = description[: _DESCRIPTION_CHARS - 1] + "…"
        article = {"title": f"【{card.badge}】{card.title}", "description": description}
        article["url"] = card.url
        return {"msgtype": "news", "news": {"articles": [article]}, "text_fallback": text}


def _success() -> web.Response:
    return web.Response(text="success", content_type="text/plain")


def _client_msg_id(message: OutboundMessage) -> str:
    # WeChat sends a template once per (openid, client_msg_id) for a while: the outbox's
    # idempotency key makes a relay retry harmless. Kept short and ASCII.
    return hashlib.sha1(message.idempotency_key.encode("utf-8")).hexdigest()[:32]
