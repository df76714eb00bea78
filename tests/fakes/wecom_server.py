"""A fake WeCom (企业微信) server on 127.0.0.1 that speaks the real protocol, for adapter tests.

Endpoints (paths and error codes as qyapi.weixin.qq.com; codes from WeCom's global error list):
- GET  /cgi-bin/gettoken?corpid&corpsecret: a token valid `token_lifetime` seconds (the same one
  while valid); 40013 bad corp id, 40001 bad secret. `revoke_tokens(errcode)` kills live tokens
  early; a dead token answers 40014 (unknown/revoked) or 42001 (expired) on every API below.
- POST /cgi-bin/message/send: text, markdown, image (media_id from upload), template_card. Cards
  are checked against WeCom's limits (`template_card_problems`, 40058/42045), a repeated task_id
  answers 42014, and button/vote/multiple cards get a `response_code` (72 h, single use) recorded
  per recipient. Over 30 messages a minute for one member, WeCom answers ok and drops the message
  silently: it lands in `dropped`, not in `delivered`.
- POST /cgi-bin/message/update_template_card: takes a response_code once; a used, unknown or
  expired (72 h) code answers 60140 "invalid response_code".
- POST /cgi-bin/webhook/send?key=: group robots (text, markdown ≤ 4096 bytes, image base64 + md5
  ≤ 2 MB), 20 messages a minute per robot (then 45009), 93000 for an unknown key, 301019 for a
  wrong md5.
- POST /cgi-bin/media/upload?type=image: multipart `media` → media_id.
Everything runs on an injectable `tests.fakes.clock.FakeClock`; `requests` logs every call;
`fail_next` injects an HTTP status or errcode for the next calls to a path (429 with
Retry-After, 500, -1 …).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.clock import FakeClock

CODE_LIFETIME = 72 * 3600
MEMBER_PER_MINUTE = 30
ROBOT_PER_MINUTE = 20
ROBOT_IMAGE_BYTES = 2 * 1024 * 1024
ROBOT_MARKDOWN_BYTES = 4096
TEXT_BYTES = 2048

OK = {"errcode": 0, "errmsg": "ok"}
BODY = web.RequestKey("wecom_fake_body", object)  # the parsed body, read once by the middleware


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, or {"media": bytes} for uploads
    at: float
    answer: dict[str, Any] | None = None


@dataclass
class ResponseCode:
    code: str
    users: tuple[str, ...]
    task_id: str
    issued_at: float
    source: str  # "send" | "click"
    used: bool = False


@dataclass
class CardRecord:
    """One template card as a member sees it: the sent body, then each update."""

    user: str
    task_id: str
    sent: dict[str, Any]
    updates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any]:
        return self.updates[-1] if self.updates else self.sent


@dataclass
class _Fault:
    status: int
    errcode: int | None
    errmsg: str
    headers: dict[str, str]
    times: int


class FakeWecom:
    """The fake server: start() to listen, then point the channel's api_base at `base_url`."""

    def __init__(
        self,
        *,
        corp_id: str = "ww-fake-corp",
        secret: str = "fake-secret",
        agent_id: int = 1000002,
        robot_keys: tuple[str, ...] = ("robot-key-1",),
        users: tuple[str, ...] | None = None,
        token_lifetime: float = 7200,
        clock: FakeClock | None = None,
    ):
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.robot_keys = set(robot_keys)
        self.users = set(users) if users is not None else None  # None: everyone exists
        self.token_lifetime = token_lifetime
        self.clock = clock or FakeClock()
        self.requests: list[RecordedRequest] = []
        self.delivered: list[dict[str, Any]] = []  # message/send bodies a member received
        self.dropped: list[dict[str, Any]] = []  # bodies WeCom accepted and silently dropped
        self.cards: dict[tuple[str, str], CardRecord] = {}  # (userid, task_id) -> card
        self.codes: dict[str, ResponseCode] = {}
        self.robot_messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.robot_images: dict[str, list[bytes]] = defaultdict(list)
        self.media: dict[str, bytes] = {}
        self.tokens_issued = 0
        self._tokens: dict[str, float] = {}  # token -> expires at
        self._revoked: dict[str, int] = {}  # token -> errcode it now answers
        self._task_ids: set[str] = set()
        self._member_sends: dict[str, deque[float]] = defaultdict(deque)
        self._robot_sends: dict[str, deque[float]] = defaultdict(deque)
        self._faults: dict[str, list[_Fault]] = defaultdict(list)
        self._ids = itertools.count(1)
        self.app = web.Application(middlewares=[self._record])
        self.app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        self.app.router.add_post("/cgi-bin/message/send", self._message_send)
        self.app.router.add_post("/cgi-bin/message/update_template_card", self._update_card)
        self.app.router.add_post("/cgi-bin/webhook/send", self._webhook_send)
        self.app.router.add_post("/cgi-bin/media/upload", self._media_upload)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle and test controls ----------------------------------------------------------

    async def start(self) -> str:
        """Listen on 127.0.0.1 on a free port; returns the base URL."""
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def revoke_tokens(self, errcode: int = 40014) -> None:
        """Kill every live token early; calls with one answer `errcode` (40014 or 42001)."""
        for token in self._tokens:
            self._revoked[token] = errcode

    def fail_next(
        self,
        path: str,
        *,
        status: int = 200,
        errcode: int | None = None,
        errmsg: str = "injected",
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls to `path` with this status / errcode instead."""
        self._faults[path].append(_Fault(status, errcode, errmsg, dict(headers or {}), times))

    def click_code(self, user: str, task_id: str) -> str:
        """A fresh ResponseCode for a click by `user` on card `task_id` (what WeCom puts in the
        template_card_event)."""
        return self._issue_code((user,), task_id, "click")

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def card(self, user: str, task_id: str) -> CardRecord:
        return self.cards[(user, task_id)]

    # --- middleware -----------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Any = None
        if request.path == "/cgi-bin/media/upload":
            form = await request.post()
            media = form.get("media")
            body = {"media": media.file.read() if isinstance(media, web.FileField) else None}
        elif request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw
        record = RecordedRequest(
            request.method, request.path, dict(request.query), body, self.clock.time()
        )
        self.requests.append(record)
        request[BODY] = body
        faults = self._faults.get(request.path)
        if faults:
            fault = faults[0]
            fault.times -= 1
            if fault.times <= 0:
                faults.pop(0)
            answer = {"errcode": fault.errcode, "errmsg": fault.errmsg}
            if fault.errcode is None:
                answer = {"errcode": 0 if fault.status < 400 else fault.status, "errmsg": "fault"}
            record.answer = answer
            return web.json_response(answer, status=fault.status, headers=fault.headers)
        response = await handler(request)
        if isinstance(response, web.Response) and response.body is not None:
            try:
                record.answer = json.loads(response.body)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                pass
        return response

    # --- token --------------------------------------------------------------------------------

    async def _gettoken(self, request: web.Request) -> web.Response:
        if request.query.get("corpid") != self.corp_id:
            return _error(40013, "invalid corpid")
        if request.query.get("corpsecret") != self.secret:
            return _error(40001, "invalid credential")
        now = self.clock.time()
        for token, expires_at in self._tokens.items():
            if expires_at > now and token not in self._revoked:
                return web.json_response(
                    {**OK, "access_token": token, "expires_in": int(expires_at - now)}
                )
        self.tokens_issued += 1
        token = f"token-{self.tokens_issued}-{hashlib.sha1(str(now).encode()).hexdigest()[:8]}"
        self._tokens[token] = now + self.token_lifetime
        return web.json_response(
            {**OK, "access_token": token, "expires_in": int(self.token_lifetime)}
        )

    def _token_error(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token", "")
        if not token:
            return _error(41001, "access_token missing")
        if token in self._revoked:
            return _error(self._revoked[token], "access_token revoked")
        expires_at = self._tokens.get(token)
        if expires_at is None:
            return _error(40014, "invalid access_token")
        if expires_at <= self.clock.time():
            return _error(42001, "access_token expired")
        return None

    # --- app messages ---------------------------------------------------------------------------

    async def _message_send(self, request: web.Request) -> web.Response:
        refused = self._token_error(request)
        if refused:
            return refused
        body = request[BODY]
        if not isinstance(body, dict):
            return _error(40058, "body is not JSON")
        if body.get("agentid") != self.agent_id:
            return _error(40056, "invalid agentid")
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        valid = [u for u in users if self.users is None or u in self.users]
        invalid = [u for u in users if u not in valid]
        if not valid:
            return _error(81013, "user & party & tag all invalid")
        msgtype = body.get("msgtype")
        problem = self._message_problem(msgtype, body)
        if problem:
            return _error(*problem)
        answer: dict[str, Any] = {**OK, "invaliduser": "|".join(invalid)}
        answer["msgid"] = f"msg-{next(self._ids)}"
        if msgtype == "template_card":
            card = body["template_card"]
            task_id = card.get("task_id")
            if task_id:
                if task_id in self._task_ids:
                    return _error(42014, "task_id already exists")
                self._task_ids.add(task_id)
            if card.get("card_type") in _INTERACTIVE:
                answer["response_code"] = self._issue_code(tuple(valid), task_id or "", "send")
        for user in valid:
            if not self._member_allows(user):
                self.dropped.append({**body, "touser": user})
                continue
            self.delivered.append({**body, "touser": user})
            if msgtype == "template_card" and body["template_card"].get("task_id"):
                task_id = body["template_card"]["task_id"]
                self.cards[(user, task_id)] = CardRecord(user, task_id, body["template_card"])
        return web.json_response(answer)

    def _member_allows(self, user: str) -> bool:
        """Count one message for `user`; False when it is over 30 in the last minute (dropped)."""
        return _window_allows(self._member_sends[user], self.clock.time(), MEMBER_PER_MINUTE)

    def _message_problem(self, msgtype: Any, body: Mapping[str, Any]) -> tuple[int, str] | None:
        if msgtype == "text":
            content = (body.get("text") or {}).get("content", "")
            if not content:
                return 44004, "empty content"
            if len(content.encode()) > TEXT_BYTES:
                return 40058, "text content over 2048 bytes"
            return None
        if msgtype == "markdown":
            content = (body.get("markdown") or {}).get("content", "")
            if not content:
                return 44004, "empty content"
            if len(content.encode()) > TEXT_BYTES:
                return 40058, "markdown content over 2048 bytes"
            return None
        if msgtype == "image":
            if (body.get("image") or {}).get("media_id") not in self.media:
                return 40007, "invalid media_id"
            return None
        if msgtype == "template_card":
            problems = template_card_problems(body.get("template_card") or {})
            if problems:
                code = 42045 if any("card_action" in p for p in problems) else 40058
                return code, "; ".join(problems)
            return None
        return 40008, f"invalid message type {msgtype!r}"

    def _issue_code(self, users: tuple[str, ...], task_id: str, source: str) -> str:
        code = f"rc-{source}-{next(self._ids)}-{hashlib.sha1(task_id.encode()).hexdigest()[:6]}"
        self.codes[code] = ResponseCode(code, users, task_id, self.clock.time(), source)
        return code

    async def _update_card(self, request: web.Request) -> web.Response:
        refused = self._token_error(request)
        if refused:
            return refused
        body = request[BODY]
        if not isinstance(body, dict):
            return _error(40058, "body is not JSON")
        if body.get("agentid") != self.agent_id:
            return _error(40056, "invalid agentid")
        record = self.codes.get(str(body.get("response_code", "")))
        if record is None or record.used or self.clock.time() - record.issued_at > CODE_LIFETIME:
            return _error(60140, "invalid response_code")
        if "template_card" in body:
            problems = template_card_problems(body["template_card"], update=True)
            if problems:
                return _error(40058, "; ".join(problems))
            new = body["template_card"]
        elif "button" in body:
            new = {"replace_name": (body["button"] or {}).get("replace_name", "")}
        else:
            return _error(40058, "template_card or button required")
        record.used = True
        targets = body.get("userids") or list(record.users)
        for user in targets:
            card = self.cards.get((user, record.task_id))
            if card is not None:
                card.updates.append(new)
        return web.json_response({**OK, "invaliduser": []})

    # --- group robots ---------------------------------------------------------------------------

    async def _webhook_send(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        if key not in self.robot_keys:
            return _error(93000, "invalid webhook url")
        body = request[BODY]
        if not isinstance(body, dict):
            return _error(40058, "body is not JSON")
        if not _window_allows(self._robot_sends[key], self.clock.time(), ROBOT_PER_MINUTE):
            return _error(45009, "api freq out of limit")
        msgtype = body.get("msgtype")
        if msgtype == "text":
            content = (body.get("text") or {}).get("content", "")
            if not content or len(content.encode()) > TEXT_BYTES:
                return _error(40058, "text content empty or over 2048 bytes")
        elif msgtype == "markdown":
            content = (body.get("markdown") or {}).get("content", "")
            if not content or len(content.encode()) > ROBOT_MARKDOWN_BYTES:
                return _error(40058, "markdown content empty or over 4096 bytes")
        elif msgtype == "image":
            image = body.get("image") or {}
            try:
                data = base64.b64decode(image.get("base64", ""), validate=True)
            except ValueError:
                return _error(40058, "image base64 invalid")
            if len(data) > ROBOT_IMAGE_BYTES:
                return _error(40009, "invalid image size")
            if not (data.startswith(b"\x89PNG") or data.startswith(b"\xff\xd8\xff")):
                return _error(40004, "invalid media type")
            if hashlib.md5(data).hexdigest() != image.get("md5"):
                return _error(301019, "invalid md5")
            self.robot_images[key].append(data)
        else:
            return _error(40008, f"invalid message type {msgtype!r}")
        self.robot_messages[key].append(body)
        return web.json_response(OK)

    # --- media ----------------------------------------------------------------------------------

    async def _media_upload(self, request: web.Request) -> web.Response:
        refused = self._token_error(request)
        if refused:
            return refused
        if request.query.get("type") != "image":
            return _error(40005, "invalid type")
        data = (request[BODY] or {}).get("media")
        if not data or len(data) < 5:
            return _error(40006, "invalid file size")
        if len(data) > 10 * 1024 * 1024:
            return _error(40009, "invalid image size")
        media_id = f"media-{next(self._ids)}"
        self.media[media_id] = data
        return web.json_response(
            {
                **OK,
                "type": "image",
                "media_id": media_id,
                "created_at": str(int(self.clock.time())),
            }
        )


def _error(errcode: int, errmsg: str) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg})


def _window_allows(times: deque[float], now: float, limit: int) -> bool:
    while times and now - times[0] >= 60:
        times.popleft()
    if len(times) >= limit:
        return False
    times.append(now)
    return True


# --- template_card limits, checked independently of the renderer --------------------------------

_TASK_ID = re.compile(r"^[A-Za-z0-9_@-]{1,128}$")
_CARD_TYPES = {
    "text_notice",
    "news_notice",
    "button_interaction",
    "vote_interaction",
    "multiple_interaction",
}
_INTERACTIVE = {"button_interaction", "vote_interaction", "multiple_interaction"}


def template_card_problems(card: Mapping[str, Any], *, update: bool = False) -> list[str]:
    """What WeCom (docs 90236/94888, recommended lengths) would refuse in a template_card."""
    out: list[str] = []

    def text(path: str, value: Any, limit: int, *, required: bool = False) -> None:
        if value is None or value == "":
            if required:
                out.append(f"{path} is required")
            return
        if not isinstance(value, str):
            out.append(f"{path} is not a string")
        elif len(value) > limit:
            out.append(f"{path} is {len(value)} characters, over {limit}")

    def key(path: str, value: Any, limit: int = 1024) -> None:
        if not isinstance(value, str) or not value:
            out.append(f"{path} is required")
        elif len(value.encode()) > limit:
            out.append(f"{path} is over {limit} bytes")

    def options(path: str, items: Any, maximum: int) -> list[str]:
        if not isinstance(items, list) or not 1 <= len(items) <= maximum:
            out.append(f"{path} must hold 1–{maximum} options")
            return []
        ids = []
        for i, option in enumerate(items):
            key(f"{path}[{i}].id", option.get("id"), 128)
            text(f"{path}[{i}].text", option.get("text"), 16, required=True)
            ids.append(option.get("id"))
        if len(set(ids)) != len(ids):
            out.append(f"{path} has repeated option ids")
        return ids

    def selection(path: str, select: Any) -> str | None:
        if not isinstance(select, dict):
            out.append(f"{path} is not an object")
            return None
        key(f"{path}.question_key", select.get("question_key"))
        text(f"{path}.title", select.get("title"), 13)
        ids = options(f"{path}.option_list", select.get("option_list"), 10)
        selected = select.get("selected_id")
        if selected is not None and selected not in ids:
            out.append(f"{path}.selected_id {selected!r} is not an option")
        return select.get("question_key")

    card_type = card.get("card_type")
    if card_type not in _CARD_TYPES:
        return [f"card_type {card_type!r} is unknown"]
    task_id = card.get("task_id")
    if task_id is not None and not (isinstance(task_id, str) and _TASK_ID.match(task_id)):
        out.append("task_id must be 1–128 bytes of [A-Za-z0-9_-@]")
    if task_id is None and card_type in _INTERACTIVE and not update:
        out.append("task_id is required for interactive cards")
    source = card.get("source")
    if source is not None:
        text("source.desc", source.get("desc"), 13)
        if source.get("desc_color", 0) not in (0, 1, 2, 3):
            out.append("source.desc_color must be 0–3")
    main_title = card.get("main_title") or {}
    text("main_title.title", main_title.get("title"), 26)
    text("main_title.desc", main_title.get("desc"), 30)
    text("sub_title_text", card.get("sub_title_text"), 112)
    if not main_title.get("title") and not card.get("sub_title_text"):
        out.append("main_title.title or sub_title_text is required")
    quote = card.get("quote_area")
    if quote is not None:
        text("quote_area.quote_text", quote.get("quote_text"), 112)
    contents = card.get("horizontal_content_list") or []
    if len(contents) > 6:
        out.append("horizontal_content_list holds more than 6 entries")
    for i, item in enumerate(contents):
        text(f"horizontal_content_list[{i}].keyname", item.get("keyname"), 5, required=True)
        text(f"horizontal_content_list[{i}].value", item.get("value"), 26)
    jumps = card.get("jump_list") or []
    if len(jumps) > 3:
        out.append("jump_list holds more than 3 entries")
    for i, item in enumerate(jumps):
        text(f"jump_list[{i}].title", item.get("title"), 18, required=True)
        if item.get("type") == 1 and not item.get("url"):
            out.append(f"jump_list[{i}].url is required for type 1")
    action = card.get("card_action")
    if card_type in ("text_notice", "news_notice"):
        if not isinstance(action, dict) or action.get("type") not in (1, 2):
            out.append("card_action with type 1 or 2 is required for text_notice")
        elif action.get("type") == 1 and not action.get("url"):
            out.append("card_action.url is required for type 1")
    if card_type == "button_interaction":
        buttons = card.get("button_list")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 6:
            out.append("button_list must hold 1–6 buttons")
            buttons = []
        keys = []
        for i, button in enumerate(buttons):
            text(f"button_list[{i}].text", button.get("text"), 10, required=True)
            if button.get("style", 1) not in (1, 2, 3, 4):
                out.append(f"button_list[{i}].style must be 1–4")
            if button.get("type", 0) == 1:
                if not button.get("url"):
                    out.append(f"button_list[{i}].url is required for type 1")
            else:
                key(f"button_list[{i}].key", button.get("key"))
                keys.append(button.get("key"))
        if len(set(keys)) != len(keys):
            out.append("button_list has repeated keys")
        if card.get("button_selection") is not None:
            selection("button_selection", card["button_selection"])
    if card_type == "multiple_interaction":
        selects = card.get("select_list")
        if not isinstance(selects, list) or not 1 <= len(selects) <= 3:
            out.append("select_list must hold 1–3 selects")
            selects = []
        questions = [selection(f"select_list[{i}]", s) for i, s in enumerate(selects)]
        if len(set(questions)) != len(questions):
            out.append("select_list has repeated question keys")
    if card_type == "vote_interaction":
        checkbox = card.get("checkbox") or {}
        key("checkbox.question_key", checkbox.get("question_key"))
        options("checkbox.option_list", checkbox.get("option_list"), 20)
    if card_type in ("vote_interaction", "multiple_interaction"):
        submit = card.get("submit_button") or {}
        text("submit_button.text", submit.get("text"), 10)
        key("submit_button.key", submit.get("key"))
    return out
