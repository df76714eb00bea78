"""A fake WeChat Official Account API on 127.0.0.1, speaking the real protocol with real errcodes.

Endpoints: GET /cgi-bin/token, POST /cgi-bin/stable_token, POST /cgi-bin/message/custom/send,
POST /cgi-bin/message/template/send, POST /cgi-bin/media/upload, GET /cgi-bin/media/get,
POST /cgi-bin/menu/create, GET /cgi-bin/menu/get.

What it models (time comes from an injectable clock, so tests compress time instead of sleeping):
- tokens expire after `token_lifetime` (42001); an unknown or revoked token is 40001; a missing
  one 41001. /cgi-bin/token issues a new token per call and leaves the previous one 5 minutes;
  /cgi-bin/stable_token returns the same token while it is valid (force_refresh replaces it).
- the customer-service window: after a customer's message, 5 custom messages within 48 h; after
  a menu click, follow or scan, 3 within 1 minute (45015 outside any window, 45047 when used up).
  Tell it with `customer_wrote(openid)` (WechatPhone does this for every delivery it makes).
- template messages need a registered template id (40037); a repeated client_msg_id is answered
  with the first msgid and shown once. Newer field types are length-checked (thing ≤ 20: 47003).
- `fail_next(path, errcode)` and `fail_next_http(path, status)` inject errors (45009, -1, 5xx …),
  `set_quota(path, n)` makes call n+1 answer 45009, `revoke_tokens()` makes every token 40001.
- `seen`: every message a customer would see, in order (custom, template, and the passive
  replies WechatPhone reports); `calls`: every API request with the errcode it got.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aiohttp import web

Clock = Callable[[], datetime]

ERRMSG = {
    -1: "system error",
    40002: "invalid grant_type",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40004: "invalid media type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40023: "invalid sub button size",
    40027: "invalid sub button name size",
    40037: "invalid template_id",
    40054: "invalid sub button url domain",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41005: "media data missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    46003: "menu no exist",
    47001: "data format error",
    47003: "argument invalid!",
}
FIELD_LIMITS = {"thing": 20, "name": 10, "phrase": 5, "character_string": 32, "car_number": 8}
MEDIA_LIFETIME = timedelta(days=3)
_NOT_JSON = "<not JSON>"


class FakeClock:
    """A clock tests move by hand: `now()` for datetimes, `time()` for epoch seconds."""

    def __init__(self, start: datetime = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)):
        self._now = start

    def now(self) -> datetime:
        return self._now

    def time(self) -> float:
        return self._now.timestamp()

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        self._now += timedelta(seconds=seconds, **delta)


@dataclass
class SeenMessage:
    """One message as the customer sees it in the chat."""

    openid: str
    via: Literal["passive", "custom", "template"]
    msgtype: str
    text: str  # readable: the text, "[图片 <media_id>]", an article, or "key: value" lines
    payload: dict[str, Any]
    at: datetime


@dataclass
class ApiCall:
    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, or {"media": filename} for uploads
    errcode: int
    at: datetime


@dataclass
class _Token:
    family: str  # "token" | "stable_token"
    expires_at: datetime
    revoked: bool = False


@dataclass
class _Grant:
    expires_at: datetime
    allowance: int | None
    used: int = 0


@dataclass
class _Media:
    content: bytes
    content_type: str
    filename: str
    kind: str
    created_at: datetime


@dataclass
class _Failure:
    errcode: int | None = None
    status: int | None = None


class FakeWechatServer:
    """The fake platform; `async with FakeWechatServer() as server:` then use `server.url`."""

    def __init__(
        self,
        *,
        app_id: str = "wx0123456789abcdef",
        app_secret: str = "fake-app-secret",
        token: str = "fake-callback-token",
        encoding_aes_key: str | None = None,
        clock: Clock | None = None,
        token_lifetime: float = 7200.0,
        message_allowance: int | None = 5,
        event_allowance: int | None = 3,
    ):
        self.app_id = app_id
        self.app_secret = app_secret
        self.token = token  # the callback token the account is configured with
        self.encoding_aes_key = encoding_aes_key or _new_aes_key()
        self.clock: Clock = clock or FakeClock().now
        self.token_lifetime = token_lifetime
        self.message_allowance = message_allowance
        self.event_allowance = event_allowance
        self.calls: list[ApiCall] = []
        self.seen: list[SeenMessage] = []
        self.token_fetches: Counter[str] = Counter()
        self.templates: dict[str, tuple[str, ...]] = {}
        self.menu: dict[str, Any] | None = None
        self.unfollowed: set[str] = set()
        self._tokens: dict[str, _Token] = {}
        self._stable: str | None = None
        self._latest: str | None = None
        self._grants: dict[str, dict[str, _Grant]] = {}
        self._media: dict[str, _Media] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._quota: dict[str, int] = {}
        self._template_ids: dict[tuple[str, str], int] = {}
        self._msgid = 1_000_000
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- lifecycle ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/stable_token", self._stable_token)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom_send)
        app.router.add_post("/cgi-bin/message/template/send", self._template_send)
        app.router.add_post("/cgi-bin/media/upload", self._media_upload)
        app.router.add_get("/cgi-bin/media/get", self._media_get)
        app.router.add_post("/cgi-bin/menu/create", self._menu_create)
        app.router.add_get("/cgi-bin/menu/get", self._menu_get)
        return app

    async def start(self) -> str:
        """Listen on 127.0.0.1 on a free port; returns the base URL (the channel's api_base)."""
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeWechatServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- what tests tell the platform --------------------------------------------------------

    def customer_wrote(
        self,
        openid: str,
        *,
        kind: Literal["message", "click", "subscribe", "scan"] = "message",
        at: datetime | None = None,
    ) -> None:
        """The customer interacted: opens (or renews) a customer-service window."""
        at = at or self.clock()
        if kind == "subscribe":
            self.unfollowed.discard(openid)
        grants = self._grants.setdefault(openid, {})
        if kind == "message":
            grants["message"] = _Grant(at + timedelta(hours=48), self.message_allowance)
        else:
            grants["event"] = _Grant(at + timedelta(minutes=1), self.event_allowance)

    def unfollow(self, openid: str) -> None:
        """The customer unfollowed: sends to them answer 43004 until they follow again."""
        self.unfollowed.add(openid)
        self._grants.pop(openid, None)

    def add_template(self, template_id: str, keys: tuple[str, ...] = ()) -> None:
        """Register a template the account owns (its data keys, for documentation only)."""
        self.templates[template_id] = keys

    def add_media(self, content: bytes, content_type: str, filename: str, kind: str) -> str:
        """Store media a customer sent (their photo); returns its MediaId."""
        media_id = "media_" + secrets.token_hex(12)
        self._media[media_id] = _Media(content, content_type, filename, kind, self.clock())
        return media_id

    def record_passive(self, openid: str, text: str) -> None:
        """A passive reply the customer saw (WechatPhone reports these)."""
        payload = {"msgtype": "text", "text": {"content": text}}
        self.seen.append(SeenMessage(openid, "passive", "text", text, payload, self.clock()))

    def revoke_tokens(self) -> None:
        """Every token issued so far becomes invalid (40001), as after a secret reset."""
        for state in self._tokens.values():
            state.revoked = True

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        """The next `times` calls to `path` answer with `errcode` (before any other check)."""
        self._failures.setdefault(path, []).extend(_Failure(errcode=errcode) for _ in range(times))

    def fail_next_http(self, path: str, status: int = 502, times: int = 1) -> None:
        """The next `times` calls to `path` answer with HTTP `status`."""
        self._failures.setdefault(path, []).extend(_Failure(status=status) for _ in range(times))

    def set_quota(self, path: str, remaining: int) -> None:
        """Allow `remaining` more successful calls to `path` today; then 45009."""
        self._quota[path] = remaining

    # --- what tests read ---------------------------------------------------------------------

    def messages_for(self, openid: str) -> list[SeenMessage]:
        return [m for m in self.seen if m.openid == openid]

    def texts_for(self, openid: str) -> list[str]:
        return [m.text for m in self.messages_for(openid)]

    def calls_to(self, path: str) -> list[ApiCall]:
        return [c for c in self.calls if c.path == path]

    @property
    def token_fetch_count(self) -> int:
        return sum(self.token_fetches.values())

    # --- handlers ----------------------------------------------------------------------------

    def _answer(self, request: web.Request, body: Any, data: dict[str, Any]) -> web.Response:
        errcode = int(data.get("errcode", 0))
        self.calls.append(
            ApiCall(request.method, request.path, dict(request.query), body, errcode, self.clock())
        )
        # Like the real API, JSON often comes back as text/plain: clients must not trust it.
        return web.Response(
            text=json.dumps(data, ensure_ascii=False), content_type="text/plain", charset="utf-8"
        )

    def _error(self, request: web.Request, body: Any, errcode: int) -> web.Response:
        errmsg = f"{ERRMSG.get(errcode, 'error')} rid: {secrets.token_hex(4)}"
        return self._answer(request, body, {"errcode": errcode, "errmsg": errmsg})

    def _injected(self, request: web.Request, body: Any) -> web.Response | None:
        queue = self._failures.get(request.path)
        if not queue:
            return None
        failure = queue.pop(0)
        if failure.status is not None:
            self.calls.append(
                ApiCall(request.method, request.path, dict(request.query), body, 0, self.clock())
            )
            return web.Response(status=failure.status, text="Bad Gateway")
        assert failure.errcode is not None
        return self._error(request, body, failure.errcode)

    def _auth_error(self, request: web.Request) -> int:
        """0 when the access_token is valid, else its errcode; then the daily quota."""
        token = request.query.get("access_token")
        if not token:
            return 41001
        state = self._tokens.get(token)
        if state is None or state.revoked:
            return 40001
        if state.expires_at <= self.clock():
            return 42001
        if request.path in self._quota:
            if self._quota[request.path] <= 0:
                return 45009
            self._quota[request.path] -= 1
        return 0

    async def _json_body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return _NOT_JSON

    def _issue(self, family: str) -> tuple[str, float]:
        token = f"{family}-{secrets.token_hex(16)}"
        self._tokens[token] = _Token(family, self.clock() + timedelta(seconds=self.token_lifetime))
        self.token_fetches[family] += 1
        return token, self.token_lifetime

    def _credentials_error(self, appid: str | None, secret: str | None) -> int:
        if appid != self.app_id:
            return 40013
        if secret != self.app_secret:
            return 40125
        return 0

    async def _token(self, request: web.Request) -> web.Response:
        query = request.query
        if (failed := self._injected(request, None)) is not None:
            return failed
        if query.get("grant_type") != "client_credential":
            return self._error(request, None, 40002)
        if code := self._credentials_error(query.get("appid"), query.get("secret")):
            return self._error(request, None, code)
        if self._latest in self._tokens:
            # The previous token keeps working for 5 more minutes, then dies.
            previous = self._tokens[self._latest]
            previous.expires_at = min(previous.expires_at, self.clock() + timedelta(minutes=5))
        token, lifetime = self._issue("token")
        self._latest = token
        return self._answer(request, None, {"access_token": token, "expires_in": int(lifetime)})

    async def _stable_token(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if (failed := self._injected(request, body)) is not None:
            return failed
        if not isinstance(body, dict) or body.get("grant_type") != "client_credential":
            return self._error(request, body, 47001)
        if code := self._credentials_error(body.get("appid"), body.get("secret")):
            return self._error(request, body, code)
        current = self._tokens.get(self._stable or "")
        now = self.clock()
        if (
            current is None
            or current.revoked
            or current.expires_at <= now
            or body.get("force_refresh")
        ):
            if current is not None:
                current.revoked = True
            self._stable, lifetime = self._issue("stable_token")
        else:
            self.token_fetches["stable_token"] += 1
            lifetime = (current.expires_at - now).total_seconds()
        data = {"access_token": self._stable, "expires_in": int(lifetime)}
        return self._answer(request, body, data)

    def _target_error(self, openid: Any) -> int:
        if not isinstance(openid, str) or not openid:
            return 40003
        if openid in self.unfollowed:
            return 43004
        return 0

    def _window_error(self, openid: str) -> int:
        """0 and one message used, or 45015 (no window) / 45047 (window used up)."""
        now = self.clock()
        active = [g for g in self._grants.get(openid, {}).values() if g.expires_at > now]
        if not active:
            return 45015
        usable = [g for g in active if g.allowance is None or g.used < g.allowance]
        if not usable:
            return 45047
        min(usable, key=lambda g: g.expires_at).used += 1
        return 0

    async def _custom_send(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if (failed := self._injected(request, body)) is not None:
            return failed
        if code := self._auth_error(request):
            return self._error(request, body, code)
        if body is None:
            return self._error(request, body, 44002)
        if not isinstance(body, dict):
            return self._error(request, body, 47001)
        openid = body.get("touser")
        if code := self._target_error(openid):
            return self._error(request, body, code)
        msgtype = body.get("msgtype")
        content = body.get(msgtype) if isinstance(msgtype, str) else None
        if not isinstance(content, dict):
            return self._error(request, body, 40008 if msgtype else 47001)
        text, code = self._render_custom(msgtype, content)
        if code:
            return self._error(request, body, code)
        if code := self._window_error(openid):
            return self._error(request, body, code)
        self.seen.append(SeenMessage(openid, "custom", msgtype, text, body, self.clock()))
        return self._answer(request, body, {"errcode": 0, "errmsg": "ok"})

    def _render_custom(self, msgtype: str, content: dict[str, Any]) -> tuple[str, int]:
        if msgtype == "text":
            text = content.get("content")
            return (text, 0) if isinstance(text, str) and text else ("", 47001)
        if msgtype in ("image", "voice"):
            media_id = content.get("media_id")
            if media_id not in self._media:
                return "", 40007
            return f"[{'图片' if msgtype == 'image' else '语音'} {media_id}]", 0
        if msgtype == "news":
            articles = content.get("articles")
            if not isinstance(articles, list) or len(articles) != 1:
                return "", 45008
            article = articles[0]
            parts = (article.get("title"), article.get("description"), article.get("url"))
            return "\n".join(p for p in parts if p), 0
        return "", 40008

    async def _template_send(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if (failed := self._injected(request, body)) is not None:
            return failed
        if code := self._auth_error(request):
            return self._error(request, body, code)
        if not isinstance(body, dict) or not isinstance(body.get("data", {}), dict):
            return self._error(request, body, 47001)
        openid = body.get("touser")
        if code := self._target_error(openid):
            return self._error(request, body, code)
        if body.get("template_id") not in self.templates:
            return self._error(request, body, 40037)
        lines = []
        for key, value in body.get("data", {}).items():
            if not isinstance(value, dict) or not isinstance(value.get("value"), str):
                return self._error(request, body, 47001)
            prefix = key.rstrip("0123456789")
            limit = FIELD_LIMITS.get(prefix) if prefix != key else None
            if limit is not None and len(value["value"]) > limit:
                return self._error(request, body, 47003)
            lines.append(f"{key}: {value['value']}")
        client_msg_id = body.get("client_msg_id")
        if client_msg_id and (openid, client_msg_id) in self._template_ids:
            msgid = self._template_ids[(openid, client_msg_id)]
            return self._answer(request, body, {"errcode": 0, "errmsg": "ok", "msgid": msgid})
        self._msgid += 1
        if client_msg_id:
            self._template_ids[(openid, client_msg_id)] = self._msgid
        text = "\n".join(lines)
        self.seen.append(SeenMessage(openid, "template", "template", text, body, self.clock()))
        return self._answer(request, body, {"errcode": 0, "errmsg": "ok", "msgid": self._msgid})

    async def _media_upload(self, request: web.Request) -> web.Response:
        if (failed := self._injected(request, None)) is not None:
            return failed
        if code := self._auth_error(request):
            return self._error(request, None, code)
        kind = request.query.get("type", "")
        if kind not in ("image", "voice", "video", "thumb"):
            return self._error(request, None, 40004)
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField):
            return self._error(request, None, 41005)
        content = media.file.read()
        body = {"media": media.filename, "size": len(content)}
        if kind == "image" and len(content) > 10 * 1024 * 1024:
            return self._error(request, body, 40009)
        media_id = self.add_media(content, media.content_type, media.filename, kind)
        created = int(self.clock().timestamp())
        data = {"type": kind, "media_id": media_id, "created_at": created}
        return self._answer(request, body, data)

    async def _media_get(self, request: web.Request) -> web.Response:
        if (failed := self._injected(request, None)) is not None:
            return failed
        if code := self._auth_error(request):
            return self._error(request, None, code)
        media = self._media.get(request.query.get("media_id", ""))
        if media is None or self.clock() - media.created_at > MEDIA_LIFETIME:
            return self._error(request, None, 40007)
        self._answer(request, None, {"errcode": 0})
        return web.Response(
            body=media.content,
            content_type=media.content_type,
            headers={"Content-Disposition": f'attachment; filename="{media.filename}"'},
        )

    async def _menu_create(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        if (failed := self._injected(request, body)) is not None:
            return failed
        if code := self._auth_error(request):
            return self._error(request, body, code)
        if not isinstance(body, dict):
            return self._error(request, body, 47001)
        if code := _menu_error(body.get("button")):
            return self._error(request, body, code)
        self.menu = body
        return self._answer(request, body, {"errcode": 0, "errmsg": "ok"})

    async def _menu_get(self, request: web.Request) -> web.Response:
        if (failed := self._injected(request, None)) is not None:
            return failed
        if code := self._auth_error(request):
            return self._error(request, None, code)
        if self.menu is None:
            return self._error(request, None, 46003)
        return self._answer(request, None, {"menu": self.menu})


def _menu_error(buttons: Any) -> int:
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return 40016
    for button in buttons:
        if len(str(button.get("name", "")).encode("utf-8")) > 16 or not button.get("name"):
            return 40018
        subs = button.get("sub_button")
        if subs:
            if not isinstance(subs, list) or len(subs) > 5:
                return 40023
            for sub in subs:
                if len(str(sub.get("name", "")).encode("utf-8")) > 60 or not sub.get("name"):
                    return 40027
                if code := _leaf_error(sub):
                    return code
        elif code := _leaf_error(button):
            return code
    return 0


def _leaf_error(button: dict[str, Any]) -> int:
    kind = button.get("type")
    if kind == "click":
        key = button.get("key")
        return 0 if isinstance(key, str) and 0 < len(key.encode("utf-8")) <= 128 else 40019
    if kind == "view":
        url = button.get("url")
        return 0 if isinstance(url, str) and url.startswith(("http://", "https://")) else 40054
    return 40017


def _new_aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
