"""The WeCom server API as the adapter uses it: tokens, app messages, card updates, media, robots.

Every call returns WeCom's JSON answer; `outcome` turns an answer into a SendResult. Transport
trouble (timeouts, connection errors, HTTP 5xx, errcode -1 "system busy") is raised so the relay
retries with backoff; HTTP 429 raises `WecomRateLimited`. A token WeCom calls invalid (40001,
40014, 42001) is dropped from the cache and the call is repeated once with a fresh token, never
more.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.channels.base import SendResult
from bot.delivery.tokens import AccessTokenCache
from bot.errors import ChannelError

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential / token, token expired
RATE_LIMIT_ERRORS = frozenset({45009, 45033})  # over the call limit / too many concurrent calls
SYSTEM_BUSY = -1
DUPLICATE_TASK_ID = 42014  # "任务卡片消息的task_id不合法": a task_id already used (or malformed)
INVALID_RESPONSE_CODE = 60140  # "无效的response_code，可能是response_code已经过期" (or used)
ALL_RECIPIENTS_INVALID = 81013  # "UserID、部门ID、标签ID全部非法或无权限"

RATE_LIMIT_BACKOFF_SECONDS = 60.0  # limits are per minute
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)

ROBOT_IMAGE_BYTES = 2 * 1024 * 1024  # group robot image: JPG/PNG ≤ 2 MB
APP_IMAGE_BYTES = 10 * 1024 * 1024  # media/upload type=image: ≤ 10 MB
TEXT_BYTES = 2048  # text content (app and robot)
APP_MARKDOWN_BYTES = 2048  # app markdown content
ROBOT_MARKDOWN_BYTES = 4096  # robot markdown content


class WecomRateLimited(ChannelError):
    """WeCom answered HTTP 429; `retry_after` is its Retry-After in seconds."""

    def __init__(self, channel: str, retry_after: float):
        self.retry_after = retry_after
        super().__init__(channel, 429, f"rate limited, retry after {retry_after:g} s")


class ImageRefused(ValueError):
    """An image file that WeCom would refuse (type, size, outside the data dir)."""


@dataclass(frozen=True)
class Image:
    data: bytes
    kind: str  # "png" | "jpg"

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()

    @property
    def filename(self) -> str:
        return f"image.{self.kind}"

    @property
    def content_type(self) -> str:
        return "image/png" if self.kind == "png" else "image/jpeg"


class WecomApi:
    """One WeCom app's server API (corp id + agent id + secret) over a shared aiohttp session."""

    def __init__(
        self,
        *,
        channel: str,
        api_base: str,
        corp_id: str,
        agent_id: int,
        secret: str,
        tokens: AccessTokenCache,
        session: Callable[[], aiohttp.ClientSession],
    ):
        self.channel = channel
        self.api_base = api_base.rstrip("/")
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._secret = secret
        self._tokens = tokens
        self._session = session
        self.token_key = f"wecom:{corp_id}:{agent_id}"

    async def send_message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /cgi-bin/message/send."""
        return await self._call("/cgi-bin/message/send", json_body=body)

    async def update_template_card(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /cgi-bin/message/update_template_card."""
        return await self._call("/cgi-bin/message/update_template_card", json_body=body)

    async def upload_image(self, image: Image) -> dict[str, Any]:
        """POST /cgi-bin/media/upload?type=image (multipart field `media`)."""

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field(
                "media", image.data, filename=image.filename, content_type=image.content_type
            )
            return data

        return await self._call("/cgi-bin/media/upload", form=form, params={"type": "image"})

    async def robot_send(self, key: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /cgi-bin/webhook/send?key=KEY (group robots need no access token)."""
        answer = await self._request("/cgi-bin/webhook/send", params={"key": key}, json_body=body)
        _raise_if_busy(self.channel, answer)
        return answer

    async def fetch_token(self) -> tuple[str, float]:
        """GET /cgi-bin/gettoken; raises ChannelError when WeCom refuses."""
        session = self._session()
        params = {"corpid": self.corp_id, "corpsecret": self._secret}
        async with session.get(
            f"{self.api_base}/cgi-bin/gettoken", params=params, timeout=REQUEST_TIMEOUT
        ) as response:
            answer = await _json(self.channel, response)
        if answer.get("errcode", 0) != 0 or not answer.get("access_token"):
            raise ChannelError(
                self.channel, answer.get("errcode", "?"), f"gettoken: {answer.get('errmsg', '')}"
            )
        return str(answer["access_token"]), float(answer.get("expires_in", 7200))

    async def _call(
        self,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        token = await self._tokens.get(self.token_key, self.fetch_token)
        answer = await self._request(
            path, params=params, json_body=json_body, form=form, token=token
        )
        if answer.get("errcode") in TOKEN_ERRORS:
            log.info(
                "wecom %s: token refused (%s), refreshing once", self.channel, answer["errcode"]
            )
            await self._tokens.invalidate(self.token_key, token)
            token = await self._tokens.get(self.token_key, self.fetch_token)
            answer = await self._request(
                path, params=params, json_body=json_body, form=form, token=token
            )
        _raise_if_busy(self.channel, answer)
        return answer

    async def _request(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        session = self._session()
        async with session.post(
            f"{self.api_base}{path}",
            params=query,
            json=json_body if form is None else None,
            data=form() if form is not None else None,
            timeout=REQUEST_TIMEOUT,
        ) as response:
            if response.status == 429:
                raise WecomRateLimited(self.channel, _retry_after(response.headers))
            return await _json(self.channel, response)


def outcome(answer: Mapping[str, Any], *, what: str, **receipt: Any) -> SendResult:
    """The SendResult for WeCom's answer to a send; `receipt` is kept when it succeeded."""
    code = answer.get("errcode", 0)
    message = str(answer.get("errmsg", ""))
    if code == 0:
        return SendResult.delivered(**{k: v for k, v in receipt.items() if v is not None})
    if code in RATE_LIMIT_ERRORS:
        return SendResult.later(RATE_LIMIT_BACKOFF_SECONDS, f"{what}: WeCom {code} {message}")
    if code in TOKEN_ERRORS:  # still refused after one fresh token: try again later, not now
        return SendResult.failed(f"{what}: access token refused twice ({code} {message})")
    return SendResult.failed(f"{what}: WeCom error {code} {message}", permanent=True)


def invalid_users(answer: Mapping[str, Any]) -> list[str]:
    """The recipients WeCom could not reach although it answered errcode 0."""
    raw = answer.get("invaliduser") or ""
    if isinstance(raw, list):
        return [str(u) for u in raw if u]
    return [u for u in str(raw).split("|") if u]


async def load_image(data_dir: Path, path: str, limit: int) -> Image:
    """A JPG/PNG file under `data_dir`, at most `limit` bytes; ImageRefused otherwise."""
    try:
        data = await asyncio.to_thread(_read_inside, data_dir, path)
    except OSError as exc:
        raise ImageRefused(f"cannot read image {path!r}: {type(exc).__name__}") from exc
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "png"
    elif data.startswith(b"\xff\xd8\xff"):
        kind = "jpg"
    else:
        raise ImageRefused(f"image {path!r} is neither PNG nor JPG")
    if len(data) > limit:
        raise ImageRefused(f"image {path!r} is {len(data)} bytes, over WeCom's {limit}")
    return Image(data=data, kind=kind)


def _read_inside(data_dir: Path, path: str) -> bytes:
    root = data_dir.resolve()
    file = (root / path).resolve()
    if not file.is_relative_to(root):
        raise ImageRefused(f"image path {path!r} is outside the data dir")
    return file.read_bytes()


async def _json(channel: str, response: aiohttp.ClientResponse) -> dict[str, Any]:
    if response.status >= 500:
        raise ChannelError(channel, response.status, "WeCom server error")
    try:
        answer = await response.json(content_type=None)
    except ValueError as exc:
        raise ChannelError(channel, response.status, "answer is not JSON") from exc
    if not isinstance(answer, dict):
        raise ChannelError(channel, response.status, "answer is not a JSON object")
    return answer


def _raise_if_busy(channel: str, answer: Mapping[str, Any]) -> None:
    if answer.get("errcode") == SYSTEM_BUSY:
        raise ChannelError(channel, SYSTEM_BUSY, str(answer.get("errmsg", "system busy")))


def _retry_after(headers: Mapping[str, str]) -> float:
    try:
        return max(float(headers.get("Retry-After", "")), 1.0)
    except ValueError:
        return RATE_LIMIT_BACKOFF_SECONDS
