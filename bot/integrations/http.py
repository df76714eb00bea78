"""One configured HTTP call to another system: build it, send it, say plainly what went wrong."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.integrations.config import HttpCall
from bot.integrations.templating import placeholders, render, render_json

# Answers larger than this are not read (a misconfigured URL pointing at a download).
MAX_ANSWER_BYTES = 2 * 1024 * 1024


class CallFailed(Exception):
    """The other system did not answer usefully; `reason` is short Chinese for the timeline."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None):
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(reason)


@dataclass(frozen=True)
class PreparedCall:
    method: str
    url: str
    headers: Mapping[str, str]
    query: tuple[tuple[str, str], ...]  # parameters that came out empty are left out
    body: bytes | None
    timeout: float
    # True when every placeholder in url, query and body came out empty: nothing to ask about.
    empty: bool

    def cache_key(self) -> str:
        """What identifies the question (headers carry credentials, not the question)."""
        body = self.body.decode() if self.body else ""
        return json.dumps([self.method, self.url, list(self.query), body], ensure_ascii=False)


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any  # the parsed JSON, or None for an empty body


def prepare(
    call: HttpCall, env: Mapping[str, Any], *, headers: Mapping[str, str] = {}
) -> PreparedCall:
    """Fill the call's templates from `env` (values in the URL percent-encoded)."""
    names = placeholders(call.url) + [n for v in call.query.values() for n in placeholders(v)]
    names += _json_names(call.body)
    filled = [env.get(n) for n in names]
    empty = bool(names) and all(v is None or v == "" or v == [] for v in filled)
    body = None
    all_headers = {k: render(v, env) for k, v in call.headers.items() if v is not None}
    if call.body is not None:
        body = json.dumps(render_json(call.body, env), ensure_ascii=False).encode()
        all_headers.setdefault("Content-Type", "application/json")
    all_headers.update(headers)
    return PreparedCall(
        method=call.method,
        url=render(call.url, env, encode=True),
        headers=all_headers,
        query=tuple((k, text) for k, v in call.query.items() if (text := render(v, env))),
        body=body,
        timeout=call.timeout.total_seconds(),
        empty=empty,
    )


def _json_names(value: Any) -> list[str]:
    if isinstance(value, str):
        return placeholders(value)
    if isinstance(value, dict):
        return [n for v in value.values() for n in _json_names(v)]
    if isinstance(value, list):
        return [n for v in value for n in _json_names(v)]
    return []


async def perform(session: aiohttp.ClientSession, call: PreparedCall) -> Answer:
    """Send the call; 2xx and 404 are answers, everything else raises CallFailed."""
    seconds = f"{call.timeout:g}"
    try:
        async with session.request(
            call.method,
            call.url,
            params=list(call.query) or None,
            data=call.body,
            headers=dict(call.headers),
            timeout=aiohttp.ClientTimeout(total=call.timeout),
            allow_redirects=False,
        ) as response:
            status = response.status
            if status == 429:
                raise CallFailed(
                    "对方限流（HTTP 429）",
                    retryable=True,
                    retry_after=_retry_after(response.headers.get("Retry-After")),
                )
            if status >= 500:
                raise CallFailed(f"对方服务器错误（HTTP {status}）", retryable=True)
            if status == 404:
                return Answer(404, None)
            if status >= 300:
                raise CallFailed(f"请求被拒绝（HTTP {status}）", retryable=False)
            raw = await response.content.read(MAX_ANSWER_BYTES + 1)
    except TimeoutError:
        raise CallFailed(f"超时（{seconds}秒未响应）", retryable=True) from None
    except aiohttp.ClientError as exc:
        raise CallFailed(f"无法连接（{type(exc).__name__}）", retryable=True) from None
    except asyncio.CancelledError:
        raise
    if len(raw) > MAX_ANSWER_BYTES:
        raise CallFailed("返回内容过大", retryable=False)
    if not raw.strip():
        return Answer(status, None)
    try:
        return Answer(status, json.loads(raw))
    except (ValueError, UnicodeDecodeError):
        raise CallFailed("返回的内容不是 JSON", retryable=False) from None


def _retry_after(value: str | None) -> float:
    try:
        return max(1.0, min(float(value or 60), 3600.0))
    except ValueError:
        return 60.0
