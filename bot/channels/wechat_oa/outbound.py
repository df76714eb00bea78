"""The WeChat Official Account API client: access tokens, sends, media and menu, over aiohttp.

Every call goes through `call`, which adds the access token, turns a non-zero errcode into a
ChannelError (errcode, errmsg, as wechatpy's WeChatClientException does) and, on a token error
(40001, 42001, 40014), forgets that token, fetches one fresh token and retries exactly once.
Transport failures (timeouts, connection errors, HTTP 5xx) are ChannelErrors too, with errcode
"transport" or "http_<status>", so the outbox relay retries them with backoff.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import aiohttp

from bot.config.channels import WechatOAChannel
from bot.delivery.tokens import REFRESH_MARGIN_SECONDS, AccessTokenCache
from bot.errors import ChannelError

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
TOKEN_ERRORS = frozenset({40001, 42001, 40014})

TokenEndpoint = Literal["stable_token", "token"]
BodyFactory = Callable[[], Any]  # builds a fresh request body per attempt (FormData is single-use)


@dataclass(frozen=True)
class MediaFile:
    """A downloaded temporary media file."""

    content: bytes
    content_type: str
    filename: str | None = None


class WechatOAClient:
    """One Official Account's API, with tokens from the shared AccessTokenCache."""

    def __init__(
        self,
        channel: str,
        *,
        app_id: str,
        app_secret: str,
        tokens: AccessTokenCache,
        api_base: str | None = None,
        token_endpoint: TokenEndpoint = "stable_token",
        timeout: float = 10.0,
    ):
        self.channel = channel
        self.app_id = app_id
        self._app_secret = app_secret
        self._tokens = tokens
        self._api_base = (api_base or DEFAULT_API_BASE).rstrip("/")
        self._token_endpoint = token_endpoint
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, config: WechatOAChannel, tokens: AccessTokenCache) -> WechatOAClient:
        """A client for a configured channel (credentials must be present)."""
        return cls(
            config.name,
            app_id=config.app_id or "",
            app_secret=config.app_secret or "",
            tokens=tokens,
            api_base=config.api_base,
            token_endpoint=config.token_endpoint,
            timeout=config.http_timeout,
        )

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._session is not None and not self._session.closed

    async def open(self) -> None:
        """Create the HTTP session (one per client)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        """Close the HTTP session; safe to call twice."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> WechatOAClient:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- tokens ------------------------------------------------------------------------------

    @property
    def token_key(self) -> str:
        """The cache key: tokens from the two endpoints are separate families."""
        return f"wechat_oa:{self.app_id}:{self._token_endpoint}"

    async def fetch_token(self) -> tuple[str, float]:
        """Ask the platform for a token: (access_token, expires_in seconds)."""
        if self._token_endpoint == "stable_token":
            # force_refresh stays false: it is limited to 20 a day and knocks out the token every
            # other worker holds; a normal call already returns the current valid token.
            body = {
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self._app_secret,
                "force_refresh": False,
            }
            data = await self._request("POST", "/cgi-bin/stable_token", json_body=lambda: body)
        else:
            params = {
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self._app_secret,
            }
            data = await self._request("GET", "/cgi-bin/token", params=params)
        assert isinstance(data, dict)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise ChannelError(self.channel, "token", "token endpoint answered without a token")
        expires_in = float(data.get("expires_in", 7200))
        if expires_in <= REFRESH_MARGIN_SECONDS:
            # stable_token returns the same token until it expires, so in its last minutes the
            # cache would refetch it on every send; keep it until the real expiry instead.
            expires_in += REFRESH_MARGIN_SECONDS
        return token, expires_in

    async def access_token(self) -> str:
        """A valid token, fetched by one caller at a time."""
        return await self._tokens.get(self.token_key, self.fetch_token)

    # --- the one way to call the API ---------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        form: BodyFactory | None = None,
        binary: bool = False,
    ) -> dict[str, Any] | MediaFile:
        """Call an authenticated endpoint; one token refresh and one retry on a token error."""
        body = (lambda: json_body) if json_body is not None else None
        token = await self.access_token()
        try:
            return await self._request(
                method, path, token=token, json_body=body, params=params, form=form, binary=binary
            )
        except ChannelError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.info("%s: token refused (%s); refreshing once", self.channel, exc.errcode)
            await self._tokens.invalidate(self.token_key, token)
        token = await self.access_token()
        return await self._request(
            method, path, token=token, json_body=body, params=params, form=form, binary=binary
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: BodyFactory | None = None,
        params: Mapping[str, str] | None = None,
        form: BodyFactory | None = None,
        binary: bool = False,
    ) -> dict[str, Any] | MediaFile:
        if self._session is None or self._session.closed:
            raise ChannelError(self.channel, "closed", "the client is not started")
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        kwargs: dict[str, Any] = {"params": query}
        if json_body is not None:
            # ensure_ascii=False: WeChat shows "\u6295" escapes literally in some message types.
            kwargs["data"] = json.dumps(json_body(), ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        elif form is not None:
            kwargs["data"] = form()
        try:
            async with self._session.request(method, self._api_base + path, **kwargs) as resp:
                raw = await resp.read()
                status = resp.status
                content_type = resp.content_type
                disposition = resp.headers.get("Content-Disposition", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Never the exception text: aiohttp puts the URL, with the token, into it.
            raise ChannelError(
                self.channel, "transport", f"{method} {path}: {type(exc).__name__}"
            ) from None
        if status >= 400:
            raise ChannelError(self.channel, f"http_{status}", f"{method} {path}")
        if binary and content_type not in ("application/json", "text/plain"):
            return MediaFile(raw, content_type, _filename(disposition))
        try:
            data = json.loads(raw)
        except ValueError:
            raise ChannelError(self.channel, "bad_json", f"{method} {path}: not JSON") from None
        if not isinstance(data, dict):
            raise ChannelError(self.channel, "bad_json", f"{method} {path}: not an object")
        errcode = data.get("errcode", 0)
        if errcode not in (0, None):
            raise ChannelError(self.channel, errcode, str(data.get("errmsg", "")))
        return data

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data = await self.call(method, path, **kwargs)
        assert isinstance(data, dict)
        return data

    # --- messages ----------------------------------------------------------------------------

    async def send_custom(
        self, openid: str, msgtype: str, content: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A customer-service message; only inside the 48 h window after the customer wrote."""
        body = {"touser": openid, "msgtype": msgtype, msgtype: dict(content)}
        return await self._json("POST", "/cgi-bin/message/custom/send", json_body=body)

    async def send_text(self, openid: str, text: str) -> dict[str, Any]:
        """A customer-service text message."""
        return await self.send_custom(openid, "text", {"content": text})

    async def send_image(self, openid: str, media_id: str) -> dict[str, Any]:
        """A customer-service image message for an uploaded media_id."""
        return await self.send_custom(openid, "image", {"media_id": media_id})

    async def send_news(
        self, openid: str, title: str, description: str = "", url: str = "", picurl: str = ""
    ) -> dict[str, Any]:
        """A customer-service news (图文) message with one article (the platform allows one)."""
        article = {"title": title, "description": description, "url": url, "picurl": picurl}
        return await self.send_custom(openid, "news", {"articles": [article]})

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, Any],
        *,
        url: str | None = None,
        client_msg_id: str | None = None,
    ) -> dict[str, Any]:
        """A template message; `data` values may be strings or {"value", "color"} objects."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {
                key: dict(value) if isinstance(value, Mapping) else {"value": str(value)}
                for key, value in data.items()
            },
        }
        if url:
            body["url"] = url
        if client_msg_id:
            body["client_msg_id"] = client_msg_id
        return await self._json("POST", "/cgi-bin/message/template/send", json_body=body)

    # --- media -------------------------------------------------------------------------------

    async def upload_media(
        self, kind: str, filename: str, content: bytes, content_type: str
    ) -> dict[str, Any]:
        """Upload temporary media (valid 3 days): {"type", "media_id", "created_at"}."""

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("media", content, filename=filename, content_type=content_type)
            return data

        return await self._json("POST", "/cgi-bin/media/upload", params={"type": kind}, form=form)

    async def download_media(self, media_id: str) -> MediaFile:
        """Download temporary media (a customer's photo or voice) by media_id."""
        result = await self.call(
            "GET", "/cgi-bin/media/get", params={"media_id": media_id}, binary=True
        )
        if not isinstance(result, MediaFile):
            # Videos answer with JSON carrying a download URL instead of the bytes.
            raise ChannelError(self.channel, "media", f"media {media_id} is not a file download")
        return result

    # --- menu --------------------------------------------------------------------------------

    async def create_menu(self, menu: Mapping[str, Any]) -> None:
        """Replace the custom menu with `menu` ({"button": [...]})."""
        await self._json("POST", "/cgi-bin/menu/create", json_body=menu)

    async def get_menu(self) -> dict[str, Any]:
        """The custom menu as the platform holds it."""
        return await self._json("GET", "/cgi-bin/menu/get")


def _filename(disposition: str) -> str | None:
    for part in disposition.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "filename":
            return value.strip('"') or None
    return None
