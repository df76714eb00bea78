"""The DingTalk APIs the adapter calls: the new API (token, robot batchSend, card instances) and
the old oapi custom group robot webhook, with their error shapes mapped to exceptions.

New API errors are HTTP 4xx/5xx with `{code, message, requestid}`; the robot webhook answers
HTTP 200 with `{errcode, errmsg}`. Server errors and transport failures raise (the relay retries
with backoff); the adapter turns `DingtalkApiError` and webhook errcodes into a SendResult.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import aiohttp

from bot.channels.base import OutboundMessage
from bot.channels.dingtalk.cards import card_markdown
from bot.channels.dingtalk.inbound import sign
from bot.delivery.tokens import AccessTokenCache
from bot.errors import ChannelError

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.dingtalk.com"
DEFAULT_OAPI_BASE = "https://oapi.dingtalk.com"
TOKEN_HEADER = "x-acs-dingtalk-access-token"

# The custom group robot: 20 messages a minute; one more silences it for 10 minutes (130101).
ROBOT_PER_MINUTE = 20
ROBOT_SILENCE_SECONDS = 600.0
ERR_ROBOT_TOO_FAST = 130101
ERR_ROBOT_FLOW_CONTROL = 410100  # "发送速度太快而限流": a short slow-down, no long silence


class DingtalkApiError(ChannelError):
    """The new API refused a request (HTTP 4xx): `status`, DingTalk's `code` and `message`."""

    def __init__(
        self, channel: str, status: int, code: str, message: str, retry_after: float | None
    ):
        self.status = status
        self.retry_after = retry_after
        super().__init__(channel, code, message)


class DingtalkServerError(ChannelError):
    """DingTalk answered with HTTP 5xx or an unreadable body: worth retrying later."""


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


def is_token_error(exc: DingtalkApiError) -> bool:
    """The access token was refused (expired early or revoked): refresh once and retry once."""
    return exc.status == 401 or exc.errcode in {"InvalidAuthentication", "invalidAccessToken"}


def is_duplicate_card(exc: DingtalkApiError) -> bool:
    """createAndDeliver refused an outTrackId it already has: the card is out, count it sent."""
    text = f"{exc.errcode} {exc.errmsg}".lower()
    return "outtrackid" in text and any(w in text for w in ("exist", "duplicat", "重复", "已存在"))


def robot_message(message: OutboundMessage) -> tuple[str, dict[str, str]] | None:
    """(msgKey, msgParam) of a text, markdown, image or news message; None for other kinds.

    Images are shown by URL (DingTalk markdown cannot embed bytes): the payload's "url" is served
    by the service.
    """
    payload = message.payload
    if message.kind == "text":
        return "sampleText", {"content": payload["text"]}
    if message.kind == "markdown":
        return "sampleMarkdown", {"title": payload["title"], "text": payload["text"]}
    if message.kind == "image" and payload.get("url"):
        title = payload.get("title") or "图片"
        return "sampleMarkdown", {
            "title": title,
            "text": f"#### {title}\n\n![{title}]({payload['url']})",
        }
    if message.kind == "news":
        return "sampleLink", {
            "title": payload["title"],
            "text": payload.get("description") or payload["title"],
            "messageUrl": payload["url"],
            "picUrl": payload.get("picurl") or "",
        }
    return None


_WEBHOOK_MSGTYPES = {"sampleText": "text", "sampleMarkdown": "markdown", "sampleLink": "link"}


def webhook_body(message: OutboundMessage) -> dict[str, Any] | None:
    """The custom group robot's body: the same content, as {msgtype, <msgtype>: {...}}."""
    if message.kind == "card":  # no buttons: a group robot's taps cannot reach the bot
        card = message.card
        markdown = {"title": f"{card.title} {card.badge}", "text": card_markdown(card)}
        return {"msgtype": "markdown", "markdown": markdown}
    converted = robot_message(message)
    if converted is None:
        return None
    msgtype = _WEBHOOK_MSGTYPES[converted[0]]
    return {"msgtype": msgtype, msgtype: converted[1]}


def signed_webhook_url(
    oapi_base: str, access_token: str, secret: str | None, timestamp_ms: int
) -> str:
    """The custom robot URL; with a secret, also `timestamp` and the url-encoded `sign`."""
    url = f"{oapi_base.rstrip('/')}/robot/send?access_token={quote_plus(access_token)}"
    if secret:
        url += f"&timestamp={timestamp_ms}&sign={quote_plus(sign(secret, timestamp_ms))}"
    return url


class DingtalkApi:
    """One DingTalk app's API client over a shared aiohttp session (service loop only)."""

    def __init__(
        self,
        *,
        channel: str,
        client_id: str,
        client_secret: str,
        api_base: str,
        oapi_base: str,
        tokens: AccessTokenCache,
        session: aiohttp.ClientSession,
    ):
        self.channel = channel
        self._client_id = client_id
        self._client_secret = client_secret
        self._api = api_base.rstrip("/")
        self._oapi = oapi_base.rstrip("/")
        self._tokens = tokens
        self._session = session

    @property
    def token_key(self) -> str:
        """One token per app (client_id), shared by every worker through the cache."""
        return f"dingtalk:{self._client_id}"

    async def _fetch_token(self) -> tuple[str, float]:
        body = {"appKey": self._client_id, "appSecret": self._client_secret}
        data = await self._exchange("POST", f"{self._api}/v1.0/oauth2/accessToken", body, {})
        try:
            return str(data["accessToken"]), float(data["expireIn"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DingtalkServerError(self.channel, "token", "no accessToken in answer") from exc

    async def _exchange(
        self, method: str, url: str, body: Mapping[str, Any] | None, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        async with self._session.request(method, url, json=body, headers=dict(headers)) as resp:
            raw = await resp.read()
            try:
                data = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                data = None
            if resp.status >= 500 or not isinstance(data, dict):
                raise DingtalkServerError(self.channel, resp.status, "server error")
            if resp.status >= 400:
                raise DingtalkApiError(
                    self.channel,
                    resp.status,
                    str(data.get("code", resp.status)),
                    str(data.get("message", "")),
                    _retry_after(resp.headers),
                )
            return data

    async def call(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new-API request with the app's token; a refused token is refreshed once, no loop."""
        for attempt in (1, 2):
            token = await self._tokens.get(self.token_key, self._fetch_token)
            try:
                return await self._exchange(
                    method, f"{self._api}{path}", body, {TOKEN_HEADER: token}
                )
            except DingtalkApiError as exc:
                if attempt == 1 and is_token_error(exc):
                    await self._tokens.invalidate(self.token_key, token)
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def robot_send_to_users(
        self, robot_code: str, user_ids: list[str], msg_key: str, msg_param: Mapping[str, Any]
    ) -> dict[str, Any]:
        """POST /v1.0/robot/oToMessages/batchSend: the app robot's 1:1 message."""
        body = {
            "robotCode": robot_code,
            "userIds": user_ids,
            "msgKey": msg_key,
            "msgParam": json.dumps(msg_param, ensure_ascii=False),
        }
        return await self.call("POST", "/v1.0/robot/oToMessages/batchSend", body)

    async def create_and_deliver_card(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.call("POST", "/v1.0/card/instances/createAndDeliver", body)

    async def update_card(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.call("PUT", "/v1.0/card/instances", body)

    async def register_card_callback(
        self, route_key: str, url: str, api_secret: str
    ) -> dict[str, Any]:
        """HTTP mode: tell DingTalk where card clicks for `route_key` go."""
        body = {
            "callbackRouteKey": route_key,
            "callbackUrl": url,
            "apiSecret": api_secret,
            "forceUpdate": True,
        }
        return await self.call("POST", "/v1.0/card/callbacks/register", body)

    async def webhook_send(
        self, access_token: str, secret: str | None, body: Mapping[str, Any], now: datetime
    ) -> tuple[int, dict[str, Any], float | None]:
        """POST {oapi}/robot/send: (HTTP status, {errcode, errmsg}, Retry-After) as answered."""
        url = signed_webhook_url(self._oapi, access_token, secret, int(now.timestamp() * 1000))
        async with self._session.post(url, json=dict(body)) as resp:
            raw = await resp.read()
            if resp.status >= 500:
                raise DingtalkServerError(self.channel, resp.status, "robot webhook server error")
            try:
                data = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                data = {}
            return resp.status, data if isinstance(data, dict) else {}, _retry_after(resp.headers)


class RobotSilence:
    """Robots DingTalk silenced (130101), until when: in Redis when configured, else in-process.

    Every worker must stop calling a silenced robot: each refused call during the silence is a
    wasted request, and the relay keeps the rows until `until` passes.
    """

    def __init__(
        self,
        redis: Redis | None,
        clock: Callable[[], float] = time.time,
        *,
        prefix: str = "complaint-bot:dingtalk:silence:",
    ):
        self._redis = redis
        self._clock = clock
        self._prefix = prefix
        self._local: dict[str, float] = {}

    async def remaining(self, robot: str) -> float:
        """Seconds of silence left for `robot` (0 when it may send)."""
        until = self._local.get(robot, 0.0)
        if self._redis is not None:
            try:
                raw = await self._redis.get(self._prefix + robot)
                if raw:
                    until = max(until, float(raw))
            except Exception as exc:  # Redis trouble: the local memory still holds
                log.warning("robot silence: Redis unavailable (%s)", type(exc).__name__)
        return max(0.0, until - self._clock())

    async def silence(self, robot: str, seconds: float) -> None:
        until = self._clock() + seconds
        self._local[robot] = max(until, self._local.get(robot, 0.0))
        if self._redis is None:
            return
        try:
            await self._redis.set(self._prefix + robot, repr(until), ex=int(seconds) + 1)
        except Exception as exc:
            log.warning("robot silence: Redis unavailable (%s)", type(exc).__name__)
