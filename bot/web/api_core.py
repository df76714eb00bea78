"""The REST API's own small framework: endpoints declared in a table, auth, validation, errors.

Each endpoint names its method, path, scope and the pydantic models of its path, query, body
and answers; the same table registers the aiohttp routes and builds the OpenAPI document
(bot/web/api_openapi.py), so the document cannot drift from what is served.

Who may call (decided here, documented in the OpenAPI description):
- `Authorization: Bearer <token>`: the token's scopes decide (admin implies every scope); an
  unknown or revoked token is 401 whatever the endpoint, a missing scope 403.
- No token: only reads (scope `read`), and only when both the peer address and the Host header
  are loopback (127.0.0.1, ::1, localhost) and `api.loopback_reads` is on - a local operator with
  curl. A reverse proxy on the same machine forwards the public Host, so it gets 401.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.appkeys import CONFIG, DATABASE, SERVICE
from bot.errors import ActionRefused, NotFound
from bot.integrations.tokens import LAST_USED_RESOLUTION, TokenInfo, find_token, touch_token
from bot.service.complaints import FormRejected
from bot.web.api_models import ErrorBody, ErrorItem
from bot.web.api_text import json_problems

log = logging.getLogger(__name__)

Scope = Literal["read", "write", "act", "admin"]
Method = Literal["GET", "POST", "PATCH"]
MAX_JSON_BODY = 1024 * 1024
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "[::1]", "localhost"})


class ApiError(Exception):
    """An answer other than success: status, field errors, extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        label: str | None = None,
        errors: list[ErrorItem] | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        self.status = status
        self.errors = errors or [ErrorItem(field=field, label=label, message=message)]
        self.headers = dict(headers or {})
        super().__init__(message)

    def response(self) -> web.Response:
        return json_response(
            ErrorBody(errors=self.errors).model_dump(mode="json"),
            status=self.status,
            headers=self.headers,
        )


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(
        data,
        status=status,
        headers=dict(headers or {}),
        dumps=lambda value: json.dumps(value, ensure_ascii=False),
    )


@dataclass(frozen=True)
class Caller:
    """Who is calling: a token, or an anonymous local reader."""

    token: TokenInfo | None

    @property
    def name(self) -> str:
        return self.token.name if self.token else "local"

    @property
    def actor(self) -> str:
        return self.token.actor if self.token else "system"


@dataclass
class ApiCall:
    """One validated request, handed to an endpoint's handler."""

    request: web.Request
    caller: Caller
    path: Any = None
    query: Any = None
    body: Any = None
    raw_body: bytes = b""

    @property
    def service(self) -> Any:
        return self.request.app[SERVICE]

    @property
    def db(self) -> Any:
        return self.request.app[DATABASE]

    @property
    def config(self) -> Any:
        return self.request.app[CONFIG]


Handler = Callable[[ApiCall], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Answer:
    """One documented answer: a JSON model, or another media type (CSV, PNG, files)."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    media_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # header -> description


@dataclass(frozen=True)
class Endpoint:
    method: Method
    path: str
    handler: Handler
    summary: str
    scope: Scope | None
    tag: str
    path_model: type[BaseModel] | None = None
    query_model: type[BaseModel] | None = None
    body_model: type[BaseModel] | None = None
    # The body as documented (a config-shaped model) when it is more precise than body_model.
    body_doc: Callable[[Any], type[BaseModel]] | None = None
    body_media: str = "application/json"
    answers: tuple[Answer, ...] = ()
    idempotent: bool = False  # accepts Idempotency-Key

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


class ApiTable:
    """The endpoints of one module; `routes()` turns them into aiohttp routes."""

    def __init__(self, tag: str):
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def add(
        self, method: Method, path: str, *, summary: str, scope: Scope | None, **options: Any
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(method, path, handler, summary, scope, self.tag, **options)
            )
            return handler

        return register


def is_loopback(request: web.Request) -> bool:
    """Peer and Host both loopback (see the module docstring)."""
    try:
        peer = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        return False
    return peer.is_loopback and _host_name(request.host or "").lower() in LOOPBACK_HOSTS


def _host_name(host: str) -> str:
    """The Host header without its port: "[::1]:8080" -> "[::1]", "localhost:80" -> "localhost"."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def authenticate(request: web.Request, scope: Scope | None) -> Caller:
    """The caller, or ApiError 401/403 (see the module docstring)."""
    header = request.headers.get("Authorization")
    challenge = {"WWW-Authenticate": 'Bearer realm="complaint-bot"'}
    if header is not None:
        kind, _, secret = header.strip().partition(" ")
        if kind.lower() != "bearer" or not secret.strip():
            raise ApiError(401, "use Authorization: Bearer <token>", headers=challenge)
        db = request.app[DATABASE]
        async with db.read() as session:
            token = await find_token(session, secret.strip())
        if token is None:
            raise ApiError(401, "the token is unknown or revoked", headers=challenge)
        if scope is not None and not token.allows(scope):
            raise ApiError(403, f"this token lacks the '{scope}' scope")
        now = request.app[SERVICE].rt.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            async with db.write() as session:
                await touch_token(session, token, now=now)
        return Caller(token)
    if scope is None:
        return Caller(None)
    if scope == "read" and request.app[CONFIG].api.loopback_reads and is_loopback(request):
        return Caller(None)
    raise ApiError(401, "a token is required (Authorization: Bearer <token>)", headers=challenge)


def _errors(exc: ValidationError, prefix: str = "") -> list[ErrorItem]:
    out = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(part) for part in error["loc"] if part != "__root__")
        where = f"{prefix}.{loc}" if prefix and loc else (loc or prefix or None)
        out.append(ErrorItem(field=where, message=str(error["msg"]).removeprefix("Value error, ")))
    return out


def _query_data(request: web.Request) -> dict[str, str]:
    """First value of each parameter; empty values count as absent."""
    out: dict[str, str] = {}
    for key in request.query:
        if key not in out:
            value = request.query.getone(key)
            if value != "":
                out[key] = value
    return out


async def read_json(request: web.Request) -> tuple[Any, bytes]:
    """The JSON body, or ApiError 400 (not JSON, too large) / 422 (text that cannot be stored)."""
    raw = await request.read()
    if len(raw) > MAX_JSON_BODY:
        raise ApiError(413, f"the body is larger than {MAX_JSON_BODY // 1024} KiB")
    try:
        data = json.loads(raw or b"null", parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {type(exc).__name__}") from None
    problems = json_problems(data)
    if problems:
        raise ApiError(
            422, "invalid text", errors=[ErrorItem(field=f, message=m) for f, m in problems]
        )
    return data, raw


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def wrap(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler: authenticate, validate, run, and turn known errors into answers."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            call = ApiCall(request, await authenticate(request, endpoint.scope))
            if endpoint.path_model is not None:
                try:
                    call.path = endpoint.path_model.model_validate(dict(request.match_info))
                except ValidationError:
                    raise ApiError(404, "no such resource") from None
            if endpoint.query_model is not None:
                try:
                    call.query = endpoint.query_model.model_validate(_query_data(request))
                except ValidationError as exc:
                    raise ApiError(400, "invalid query", errors=_errors(exc)) from None
            if endpoint.body_model is not None:
                data, call.raw_body = await read_json(request)
                try:
                    call.body = endpoint.body_model.model_validate(data)
                except ValidationError as exc:
                    raise ApiError(422, "invalid body", errors=_errors(exc)) from None
            return await endpoint.handler(call)
        except ApiError as exc:
            return exc.response()
        except FormRejected as exc:
            return ApiError(422, str(exc), errors=form_errors(exc)).response()
        except ActionRefused as exc:
            return ApiError(409, exc.reason).response()
        except NotFound as exc:
            return ApiError(404, str(exc)).response()

    handle.__name__ = endpoint.operation_id
    return handle


def form_errors(exc: FormRejected) -> list[ErrorItem]:
    return [ErrorItem(field=p.key, label=p.label, message=p.message) for p in exc.problems]
