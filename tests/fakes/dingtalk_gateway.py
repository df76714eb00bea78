"""A fake DingTalk (钉钉) on 127.0.0.1 that the real `dingtalk-stream` client connects to.

Stream gateway (protocol as open-dingtalk/developerpedia docs/learn/stream/protocol.md):
- POST /v1.0/gateway/connections/open {clientId, clientSecret, subscriptions, ua, localIp}:
  wrong credentials answer 401; else {endpoint: ws://127.0.0.1:<port>/connect, ticket} (a ticket
  opens one connection, within 90 s).
- GET /connect?ticket=: the WebSocket. `push_bot_message`, `push_card_callback`, `push` send
  DingTalk frames {specVersion, type, headers{appId, connectionId, contentType, messageId, time,
  topic}, data: JSON string} to one live connection subscribed to the topic. ACKs (`acks`) are
  {code, headers{messageId}, message, data}; only code 200 acknowledges. A push left unacked
  `ack_timeout` (event-loop) seconds, or NACKed, is re-pushed with the same messageId, for the
  topics in `redeliver_topics` (card callbacks by default: DingTalk documents robot messages as
  fire-and-forget). `repush` sends a duplicate even after an ACK (DingTalk may). `ping`,
  `send_disconnect` (SYSTEM frames; the socket is closed `close_after` seconds later, 10 s on the
  real gateway) and `drop_connections` (TCP closed without a close frame) exercise reconnects.
Open API (api.dingtalk.com; errors are HTTP 4xx {code, message, requestid}):
- POST /v1.0/oauth2/accessToken {appKey, appSecret} -> {accessToken, expireIn}: the same token
  while valid; `expire_tokens()` kills live tokens (then 401 InvalidAuthentication).
- POST /v1.0/robot/oToMessages/batchSend: robotCode, userIds (1..20), msgKey and the msgParam
  keys it needs (a JSON string); unknown users (when `known_users` is set) come back in
  invalidStaffIdList. Delivered messages land in `robot_messages`.
- POST /v1.0/card/instances/createAndDeliver, PUT /v1.0/card/instances: card instances in
  `cards` (public params, per-user private params), string-only cardParamMap, openSpaceId
  shapes, updateCardDataByKey / updatePrivateDataByKey merges; a repeated outTrackId is refused
  (the exact code DingTalk uses is unverified: "…outTrackId.exists").
- POST /v1.0/card/callbacks/register: recorded in `card_callback_routes`.
oapi (oapi.dingtalk.com; HTTP 200 {errcode, errmsg}):
- POST /robot/send?access_token&timestamp&sign: custom group robots (`add_group_robot`), the
  HMAC-SHA256 signature and 1 h timestamp window (310000), 20 messages a minute, then 130101
  and 10 minutes of silence; accepted messages land in `group_messages[token]`.
Time for tokens, tickets, signatures and rate limits is the injectable FakeClock. `requests`
logs every HTTP call; `fail_next` injects an HTTP status / body for the next calls to a path.
`post_callback` signs and POSTs an HTTP-mode delivery to an adapter's callback URL.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.clock import FakeClock

BOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"
TICKET_LIFETIME = 90.0
ROBOT_PER_MINUTE = 20
ROBOT_SILENCE = 600.0
SIGN_WINDOW_MS = 3600 * 1000

MSG_KEYS: dict[str, tuple[str, ...]] = {
    "sampleText": ("content",),
    "sampleMarkdown": ("title", "text"),
    "sampleImageMsg": ("photoURL",),
    "sampleLink": ("text", "title", "picUrl", "messageUrl"),
    "sampleActionCard": ("title", "text", "singleTitle", "singleURL"),
    "sampleActionCard6": (
        "title",
        "text",
        "buttonTitle1",
        "buttonUrl1",
        "buttonTitle2",
        "buttonUrl2",
    ),
    **{
        f"sampleActionCard{n}": (
            "title",
            "text",
            *(f"{k}{i}" for i in range(1, n + 1) for k in ("actionTitle", "actionURL")),
        )
        for n in range(2, 6)
    },
}
OPEN_SPACE = re.compile(r"^dtv1\.card//(IM_ROBOT|IM_GROUP)\.(.+)$")


def dingtalk_sign(secret: str, timestamp_ms: int | str) -> str:
    """DingTalk's signature, computed independently of the code under test."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class Ack:
    message_id: str
    code: int
    message: str
    data: Any
    connection_id: str


@dataclass
class Push:
    message_id: str
    type: str
    topic: str
    data: dict[str, Any]
    attempts: int = 0
    acked: bool = False
    due: float = 0.0  # event-loop time of the next re-push, if not acked by then


@dataclass
class CardInstance:
    out_track_id: str
    template_id: str
    open_space_id: str
    callback_type: str
    params: dict[str, str]
    private: dict[str, dict[str, str]] = field(default_factory=dict)
    updates: int = 0

    def view(self, user: str) -> dict[str, str]:
        """What `user` sees: the public params overlaid with their private ones."""
        return {**self.params, **self.private.get(user, {})}


@dataclass
class _Connection:
    id: str
    ws: web.WebSocketResponse
    request: web.Request
    topics: frozenset[str]
    closing: bool = False


@dataclass
class _Fault:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


class FakeDingtalk:
    """The fake; `async with FakeDingtalk(...) as fake:` serves it on 127.0.0.1 port 0."""

    def __init__(
        self,
        *,
        client_id: str = "dingclientid",
        client_secret: str = "dingclientsecret",
        robot_code: str | None = None,
        clock: FakeClock | None = None,
        token_lifetime: float = 7200.0,
        ack_timeout: float = 0.5,
        redeliver_topics: frozenset[str] = frozenset({CARD_TOPIC}),
        max_attempts: int = 5,
        known_users: set[str] | None = None,
        app_id: str = "fake-app-id",
    ):
        self.client_id = client_id
        self.client_secret = client_secret
        self.robot_code = robot_code or client_id
        self.clock = clock or FakeClock()
        self.token_lifetime = token_lifetime
        self.ack_timeout = ack_timeout
        self.redeliver_topics = redeliver_topics
        self.max_attempts = max_attempts
        self.known_users = known_users
        self.app_id = app_id
        self.requests: list[RecordedRequest] = []
        self.acks: list[Ack] = []
        self.pushes: dict[str, Push] = {}
        self.connections_opened = 0
        self.robot_messages: list[dict[str, Any]] = []
        self.cards: dict[str, CardInstance] = {}
        self.card_callback_routes: list[dict[str, Any]] = []
        self.group_messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.robot_silenced_until: dict[str, float] = {}
        self._robots: dict[str, str | None] = {}
        self._robot_sends: dict[str, deque[float]] = defaultdict(deque)
        self._tokens: dict[str, float] = {}  # token -> expires at (clock seconds)
        self._tickets: dict[str, float] = {}  # ticket -> issued at
        self._ticket_topics: dict[str, frozenset[str]] = {}
        self._connections: dict[str, _Connection] = {}
        self._faults: dict[str, list[_Fault]] = defaultdict(list)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._redeliverer: asyncio.Task[None] | None = None
        self._closers: set[asyncio.Task[None]] = set()
        self.base_url = ""
        self.wait_timeout = 10.0  # for wait_for and friends (an event-loop timeout)
        self._changed = asyncio.Event()

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDingtalk:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> str:
        app = web.Application(middlewares=[self._record])
        app.router.add_post("/v1.0/gateway/connections/open", self._open_connection)
        app.router.add_get("/connect", self._websocket)
        app.router.add_post("/v1.0/oauth2/accessToken", self._access_token)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._batch_send)
        app.router.add_post("/v1.0/card/instances/createAndDeliver", self._create_and_deliver)
        app.router.add_put("/v1.0/card/instances", self._update_card)
        app.router.add_post("/v1.0/card/callbacks/register", self._register_callback)
        app.router.add_post("/robot/send", self._robot_send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        self._redeliverer = asyncio.create_task(self._redeliver_loop())
        return self.base_url

    async def close(self) -> None:
        if self._redeliverer is not None:
            self._redeliverer.cancel()
        for conn in list(self._connections.values()):
            await conn.ws.close()
        for task in list(self._closers):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- test controls -------------------------------------------------------------------------

    def add_group_robot(self, access_token: str, secret: str | None = None) -> None:
        self._robots[access_token] = secret

    def expire_tokens(self) -> None:
        for token in self._tokens:
            self._tokens[token] = 0.0

    def fail_next(
        self,
        path: str,
        *,
        status: int,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls to `path` with this status and JSON body instead."""
        answer = dict(body or {"code": "Injected", "message": "injected", "requestid": "inj"})
        self._faults[path].append(_Fault(status, answer, dict(headers or {}), times))

    def calls(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path and method in (None, r.method)]

    @property
    def live_connections(self) -> list[str]:
        return [c.id for c in self._connections.values() if not c.closing and not c.ws.closed]

    def acks_for(self, message_id: str) -> list[Ack]:
        return [a for a in self.acks if a.message_id == message_id]

    def _notify(self) -> None:
        """Wake every `wait_for`: the gateway's state changed."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Until `condition()` holds (checked at each change); TimeoutError after wait_timeout."""
        async with asyncio.timeout(self.wait_timeout):
            while not condition():
                await self._changed.wait()

    async def wait_connected(self, opened: int = 1) -> None:
        """Until `opened` connections were made in all and one of them is live."""
        await self.wait_for(
            lambda: self.connections_opened >= opened and bool(self.live_connections)
        )

    async def wait_acked(self, message_id: str) -> Ack:
        """Until the push is acknowledged (code 200); returns that ACK."""
        await self.wait_for(lambda: self.pushes[message_id].acked)
        return next(a for a in self.acks_for(message_id) if a.code == 200)

    async def push(self, topic: str, data: Mapping[str, Any], *, type: str = "CALLBACK") -> str:
        """Push one event to a live connection subscribed to `topic`; returns its messageId."""
        message_id = f"{uuid.uuid4().hex[:8]}_{next(self._ids)}"
        push = Push(message_id, type, topic, dict(data))
        self.pushes[message_id] = push
        await self.wait_for(lambda: self._target(topic) is not None)
        await self._send_push(push)
        return message_id

    async def repush(self, message_id: str) -> None:
        """Push an event again, ACKed or not (DingTalk may send duplicates after an ACK)."""
        push = self.pushes[message_id]
        await self.wait_for(lambda: self._target(push.topic) is not None)
        await self._send_push(push)

    async def push_bot_message(
        self,
        text: str,
        *,
        sender_staff_id: str = "0101",
        sender_nick: str = "张三",
        msg_id: str | None = None,
        conversation_type: str = "1",
        conversation_id: str = "cidp2p0101",
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        now_ms = int(self.clock.time() * 1000)
        data = {
            "msgId": msg_id or f"msg{uuid.uuid4().hex[:12]}",
            "msgtype": "text",
            "text": {"content": text},
            "conversationId": conversation_id,
            "conversationType": conversation_type,
            "senderStaffId": sender_staff_id,
            "senderNick": sender_nick,
            "senderId": f"$:LWCP_v1:${sender_staff_id}",
            "chatbotUserId": "$:LWCP_v1:$bot",
            "robotCode": self.robot_code,
            "createAt": now_ms,
            "isAdmin": False,
            "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=fake",
            "sessionWebhookExpiredTime": now_ms + 3600_000,
            **dict(extra or {}),
        }
        return await self.push(BOT_TOPIC, data)

    async def push_card_callback(
        self,
        out_track_id: str,
        user_id: str,
        *,
        action: str | None = None,
        params: Mapping[str, Any] | None = None,
        action_ids: list[str] | None = None,
    ) -> str:
        """A button press as DingTalk frames it: `content` is a JSON string."""
        all_params = {**({"action": action} if action else {}), **dict(params or {})}
        content = {"cardPrivateData": {"actionIds": action_ids or ["submit"], "params": all_params}}
        data = {
            "outTrackId": out_track_id,
            "corpId": "dingcorp",
            "userId": user_id,
            "type": "actionCallback",
            "content": json.dumps(content, ensure_ascii=False),
            "extension": "{}",
        }
        return await self.push(CARD_TOPIC, data)

    async def ping(self) -> str:
        return await self._system("ping", {"opaque": uuid.uuid4().hex})

    async def send_disconnect(self, close_after: float = 0.2) -> None:
        """The gateway's graceful disconnect: a SYSTEM frame, then the socket closes."""
        for conn in [c for c in self._connections.values() if not c.closing]:
            conn.closing = True
            frame = self._frame(conn, "SYSTEM", "disconnect", f"sys_{next(self._ids)}", {})
            frame["data"] = json.dumps({"reason": "connection is expired"})
            await conn.ws.send_str(json.dumps(frame))
            task = asyncio.create_task(self._close_later(conn, close_after))
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)

    async def drop_connections(self) -> None:
        """Cut every socket without a close frame, as a network failure would."""
        for conn in list(self._connections.values()):
            conn.closing = True
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
        self._notify()

    async def post_callback(
        self,
        url: str,
        data: Mapping[str, Any],
        *,
        secret: str | None = None,
        timestamp_ms: int | None = None,
        sign: str | None = None,
    ) -> tuple[int, str]:
        """An HTTP-mode delivery (robot message or card click), signed as DingTalk signs it."""
        stamp = timestamp_ms if timestamp_ms is not None else int(self.clock.time() * 1000)
        signature = sign if sign is not None else dingtalk_sign(secret or self.client_secret, stamp)
        headers = {"timestamp": str(stamp), "sign": signature}
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=dict(data), headers=headers) as resp:
                return resp.status, await resp.text()

    # --- stream internals ----------------------------------------------------------------------

    def _frame(
        self, conn: _Connection, type: str, topic: str, message_id: str, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "specVersion": "1.0",
            "type": type,
            "headers": {
                "appId": self.app_id,
                "connectionId": conn.id,
                "contentType": "application/json",
                "messageId": message_id,
                "time": str(int(self.clock.time() * 1000)),
                "topic": topic,
            },
            "data": json.dumps(data, ensure_ascii=False),
        }

    def _target(self, topic: str) -> _Connection | None:
        live = [
            c
            for c in self._connections.values()
            if not c.closing and not c.ws.closed and topic in c.topics
        ]
        return live[-1] if live else None

    async def _send_push(self, push: Push) -> None:
        conn = self._target(push.topic)
        if conn is None:
            return
        push.attempts += 1
        push.due = asyncio.get_running_loop().time() + self.ack_timeout
        frame = self._frame(conn, push.type, push.topic, push.message_id, push.data)
        try:
            await conn.ws.send_str(json.dumps(frame, ensure_ascii=False))
        except ConnectionError:
            conn.closing = True
        self._notify()

    async def _system(self, topic: str, data: Mapping[str, Any]) -> str:
        message_id = f"sys_{next(self._ids)}"
        await self.wait_for(lambda: bool(self.live_connections))
        for conn in [c for c in self._connections.values() if not c.closing]:
            frame = self._frame(conn, "SYSTEM", topic, message_id, data)
            await conn.ws.send_str(json.dumps(frame))
        return message_id

    async def _close_later(self, conn: _Connection, delay: float) -> None:
        await asyncio.sleep(delay)
        await conn.ws.close()

    async def _redeliver_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.02)
            now = loop.time()
            for push in list(self.pushes.values()):
                if (
                    not push.acked
                    and push.topic in self.redeliver_topics
                    and push.attempts < self.max_attempts
                    and push.due <= now
                    and self._target(push.topic) is not None
                ):
                    await self._send_push(push)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        issued = self._tickets.pop(ticket, None)
        if issued is None or self.clock.time() - issued > TICKET_LIFETIME:
            return web.json_response({"code": "InvalidTicket", "message": "ticket"}, status=401)
        topics = self._ticket_topics.pop(ticket, frozenset())
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Connection(f"conn{next(self._ids)}", ws, request, topics)
        self._connections[conn.id] = conn
        self.connections_opened += 1
        self._notify()
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._on_ack(conn, message.data)
        finally:
            self._connections.pop(conn.id, None)
            self._notify()
        return ws

    def _on_ack(self, conn: _Connection, raw: str) -> None:
        try:
            ack = json.loads(raw)
            message_id = ack["headers"]["messageId"]
            code = int(ack["code"])
        except (ValueError, KeyError, TypeError):
            return
        data = ack.get("data")
        try:
            data = json.loads(data) if isinstance(data, str) else data
        except ValueError:
            pass
        self.acks.append(Ack(message_id, code, str(ack.get("message", "")), data, conn.id))
        self._notify()
        push = self.pushes.get(message_id)
        if push is None:
            return
        if code == 200:
            push.acked = True
        else:  # a NACK: re-push soon rather than after the full timeout
            push.due = asyncio.get_running_loop().time() + 0.05

    # --- HTTP ----------------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Any = None
        if request.path != "/connect":  # the WebSocket upgrade has no body to read
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                body,
                self.clock.time(),
            )
        )
        self._notify()
        faults = self._faults.get(request.path)
        if faults:
            fault = faults[0]
            fault.times -= 1
            if fault.times <= 0:
                faults.pop(0)
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        return await handler(request)

    async def _open_connection(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            return _api_error(401, "InvalidAuthentication", "clientId 或 clientSecret 不正确")
        topics = frozenset(
            s.get("topic", "")
            for s in body.get("subscriptions") or []
            if s.get("type") == "CALLBACK"
        )
        ticket = uuid.uuid4().hex
        self._tickets[ticket] = self.clock.time()
        self._ticket_topics[ticket] = topics
        endpoint = self.base_url.replace("http://", "ws://") + "/connect"
        return web.json_response({"endpoint": endpoint, "ticket": ticket})

    async def _access_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.client_secret:
            return _api_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        now = self.clock.time()
        live = [(t, exp) for t, exp in self._tokens.items() if exp > now]
        if live:
            token, expires = live[-1]
        else:
            token, expires = f"tok{next(self._ids)}", now + self.token_lifetime
            self._tokens[token] = expires
        return web.json_response({"accessToken": token, "expireIn": int(expires - now)})

    def _token_error(self, request: web.Request) -> web.Response | None:
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        if self._tokens.get(token, 0.0) <= self.clock.time():
            return _api_error(401, "InvalidAuthentication", "不合法的access_token")
        return None

    async def _batch_send(self, request: web.Request) -> web.Response:
        if (error := self._token_error(request)) is not None:
            return error
        body = await request.json()
        if body.get("robotCode") != self.robot_code:
            return _api_error(400, "resource.not.found", "robotCode 不存在")
        users = body.get("userIds")
        if not isinstance(users, list) or not 1 <= len(users) <= 20:
            return _api_error(400, "invalidParameter.userIds", "userIds 须为 1 到 20 个")
        required = MSG_KEYS.get(body.get("msgKey", ""))
        if required is None:
            return _api_error(400, "invalidParameter.msgKey", "msgKey 不支持")
        raw = body.get("msgParam")
        try:
            param = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            param = None
        if not isinstance(param, dict) or any(not isinstance(param.get(k), str) for k in required):
            return _api_error(400, "invalidParameter.msgParam", "msgParam 与 msgKey 不符")
        invalid = [u for u in users if self.known_users is not None and u not in self.known_users]
        for user in users:
            if user not in invalid:
                self.robot_messages.append(
                    {"userId": user, "msgKey": body["msgKey"], "msgParam": param}
                )
        return web.json_response(
            {
                "processQueryKey": f"pqk{next(self._ids)}",
                "invalidStaffIdList": invalid,
                "flowControlledStaffIdList": [],
            }
        )

    async def _create_and_deliver(self, request: web.Request) -> web.Response:
        if (error := self._token_error(request)) is not None:
            return error
        body = await request.json()
        out_track_id = body.get("outTrackId")
        if not body.get("cardTemplateId") or not out_track_id:
            return _api_error(400, "invalidParameter", "cardTemplateId 和 outTrackId 必填")
        if out_track_id in self.cards:
            return _api_error(400, "invalidParameter.outTrackId.exists", "outTrackId 已存在")
        params = (body.get("cardData") or {}).get("cardParamMap")
        problem = _param_map_problem(params) or _private_problem(body.get("privateData"))
        if problem:
            return _api_error(400, "invalidParameter.cardParamMap", problem)
        callback_type = body.get("callbackType", "STREAM")
        if callback_type not in ("STREAM", "HTTP") or (
            callback_type == "HTTP" and not body.get("callbackRouteKey")
        ):
            return _api_error(400, "invalidParameter.callbackType", "callbackType 不合法")
        match = OPEN_SPACE.match(body.get("openSpaceId") or "")
        if match is None:
            return _api_error(400, "invalidParameter.openSpaceId", "openSpaceId 不合法")
        space_type, space_id = match.groups()
        if (
            space_type == "IM_ROBOT"
            and (body.get("imRobotOpenDeliverModel") or {}).get("spaceType") != "IM_ROBOT"
        ):
            return _api_error(400, "invalidParameter.deliverModel", "缺少 imRobotOpenDeliverModel")
        if space_type == "IM_GROUP" and not (body.get("imGroupOpenDeliverModel") or {}).get(
            "robotCode"
        ):
            return _api_error(400, "invalidParameter.deliverModel", "缺少 imGroupOpenDeliverModel")
        unknown = (
            space_type == "IM_ROBOT"
            and self.known_users is not None
            and space_id not in self.known_users
        )
        if not unknown:
            self.cards[out_track_id] = CardInstance(
                out_track_id,
                body["cardTemplateId"],
                body["openSpaceId"],
                callback_type,
                dict(params),
                {u: dict(v["cardParamMap"]) for u, v in (body.get("privateData") or {}).items()},
            )
        result = {"spaceType": space_type, "spaceId": space_id, "success": not unknown}
        if unknown:
            result["errorMsg"] = "用户不存在"
        else:
            result["carrierId"] = f"carrier{next(self._ids)}"
        return web.json_response(
            {"success": True, "result": {"outTrackId": out_track_id, "deliverResults": [result]}}
        )

    async def _update_card(self, request: web.Request) -> web.Response:
        if (error := self._token_error(request)) is not None:
            return error
        body = await request.json()
        card = self.cards.get(body.get("outTrackId", ""))
        if card is None:
            return _api_error(400, "invalidParameter.outTrackId.notFound", "卡片实例不存在")
        options = body.get("cardUpdateOptions") or {}
        params = (body.get("cardData") or {}).get("cardParamMap")
        if params is not None:
            if problem := _param_map_problem(params):
                return _api_error(400, "invalidParameter.cardParamMap", problem)
            card.params = (
                {**card.params, **params} if options.get("updateCardDataByKey") else dict(params)
            )
        private = body.get("privateData")
        if private is not None:
            if problem := _private_problem(private):
                return _api_error(400, "invalidParameter.privateData", problem)
            for user, value in private.items():
                mine = value["cardParamMap"]
                merged = {**card.private.get(user, {}), **mine}
                card.private[user] = merged if options.get("updatePrivateDataByKey") else mine
        card.updates += 1
        return web.json_response({"success": True, "result": True})

    async def _register_callback(self, request: web.Request) -> web.Response:
        if (error := self._token_error(request)) is not None:
            return error
        body = await request.json()
        self.card_callback_routes.append(body)
        return web.json_response({"success": True, "result": {"callbackUrl": body["callbackUrl"]}})

    async def _robot_send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        if token not in self._robots:
            return web.json_response({"errcode": 300001, "errmsg": "token is not exist"})
        now = self.clock.time()
        secret = self._robots[token]
        if secret is not None:
            stamp = request.query.get("timestamp", "")
            if not stamp.isdigit() or abs(now * 1000 - int(stamp)) > SIGN_WINDOW_MS:
                return web.json_response({"errcode": 310000, "errmsg": "invalid timestamp"})
            if not hmac.compare_digest(dingtalk_sign(secret, stamp), request.query.get("sign", "")):
                return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
        if self.robot_silenced_until.get(token, 0.0) > now:
            return _too_fast()
        sent = self._robot_sends[token]
        while sent and sent[0] <= now - 60:
            sent.popleft()
        if len(sent) >= ROBOT_PER_MINUTE:
            self.robot_silenced_until[token] = now + ROBOT_SILENCE
            return _too_fast()
        body = await request.json()
        if not _robot_body_ok(body):
            return web.json_response({"errcode": 40035, "errmsg": "缺少参数 json"})
        sent.append(now)
        self.group_messages[token].append({**body, "at": now})
        return web.json_response({"errcode": 0, "errmsg": "ok"})


def _api_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"code": code, "message": message, "requestid": uuid.uuid4().hex}, status=status
    )


def _too_fast() -> web.Response:
    return web.json_response(
        {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
    )


def _param_map_problem(params: Any) -> str | None:
    if not isinstance(params, dict):
        return "cardParamMap 必填"
    bad = [k for k, v in params.items() if not isinstance(v, str)]
    return f"cardParamMap 的值须为字符串: {bad}" if bad else None


def _private_problem(private: Any) -> str | None:
    if private is None:
        return None
    if not isinstance(private, dict):
        return "privateData 不合法"
    for value in private.values():
        if not isinstance(value, dict) or (
            problem := _param_map_problem(value.get("cardParamMap"))
        ):
            return problem or "privateData 不合法"
    return None


def _robot_body_ok(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    kind = body.get("msgtype")
    content = body.get(kind) if isinstance(kind, str) else None
    if not isinstance(content, dict):
        return False
    needed = {
        "text": ("content",),
        "markdown": ("title", "text"),
        "link": ("title", "text", "messageUrl"),
        "actionCard": ("title", "text"),
        "feedCard": ("links",),
    }.get(kind)
    return needed is not None and all(content.get(k) for k in needed)
