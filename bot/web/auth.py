"""Console sign-in: who may open the console and the playground (the guard middleware).

The rule (the guard is registered in bot/app.py by install_console_auth):

- `/console/**`, `/playground/**` and `POST /api/v1/config/validate` need a signed-in session
  (the validate endpoint also takes an API token with the admin scope), except when the service
  is bound to loopback (HOST 127.0.0.1, ::1 or localhost) AND the request comes from loopback AND
  its Host header names loopback AND it carries no forwarding header: then they are open, for the
  first run on one's own machine. The Host check stops a DNS-rebinding page; the forwarding check
  stops a reverse proxy on the same machine from turning every visitor into "loopback".
- `/console/login` and `/console/static/**` are always open (the sign-in page needs its CSS).
- A POST (PUT, PATCH, DELETE) to a guarded path whose Origin names another site is refused.
- Everything else (`/callbacks/**`, `/healthz`, `/readyz`, `/metrics`, `/c/**`, `/api/v1/**`)
  is not behind the console sign-in; the API has its own tokens.

Without `console.accounts` a random admin token is logged once at start
("控制台一次性管理员令牌: …") and signs in instead. Sessions, hashes and throttling are in
console_session.py. `python -m bot.web.auth NAME [--person ID]` prints a `console.accounts`
entry for a password read from the prompt.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web
from yarl import URL

from bot.appkeys import CONFIG, DATABASE, SETTINGS
from bot.config.model import ConsoleConfig
from bot.web.console_session import (
    SESSION_COOKIE,
    ConsoleAuth,
    ConsoleUser,
    _b64,
    hash_password,
)

__all__ = [
    "CONSOLE_AUTH",
    "CONSOLE_USER",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "LOGIN_PATH",
    "SESSION_COOKIE",
    "ConsoleAuth",
    "ConsoleUser",
    "console_guard",
    "current_user",
    "install_console_auth",
    "safe_next",
]

log = logging.getLogger(__name__)

LOGIN_COOKIE = "cb_console_login"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/console/login"
HOME_PATH = "/console"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
GUARDED_PREFIXES = ("/console", "/playground")
GUARDED_PATHS = frozenset({"/api/v1/config/validate"})
# Route (canonical path) -> the URL prefix it must be asked by.
OPEN_ROUTES = {"/console/login": "/console/login", "/console/static/{name}": "/console/static/"}

NOT_SIGNED_IN = "请先登录控制台"
OTHER_ORIGIN = "请求来自其他网站，已拒绝"


CONSOLE_AUTH: web.AppKey[ConsoleAuth] = web.AppKey("console_auth", ConsoleAuth)
CONSOLE_USER: web.RequestKey[ConsoleUser] = web.RequestKey("console_user", ConsoleUser)


# --- the access rule -----------------------------------------------------------------------------


def _is_guarded(path: str) -> bool:
    return path in GUARDED_PATHS or any(
        path == prefix or path.startswith(prefix + "/") for prefix in GUARDED_PREFIXES
    )


def _route_path(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else ""


def guarded(request: web.Request) -> bool:
    """Whether the console sign-in applies: by the URL and by the route that will answer."""
    path = re.sub(r"/{2,}", "/", request.path)
    return _is_guarded(path) or _is_guarded(_route_path(request))


def always_open(request: web.Request) -> bool:
    """The sign-in page and the console's static files (the URL and the route must agree)."""
    prefix = OPEN_ROUTES.get(_route_path(request))
    return prefix is not None and request.path.startswith(prefix)


def wants_html(request: web.Request) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    accept = request.headers.get("Accept", "*/*")
    return "text/html" in accept or not ("json" in accept or "event-stream" in accept)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console or playground path on this site, else home."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return HOME_PATH
    return value if _is_guarded(URL(value).path) else HOME_PATH


def refuse(request: web.Request, status: int, message: str) -> web.Response:
    """A JSON refusal for scripts, or the sign-in page's address for people."""
    if status == 401 and wants_html(request):
        raise web.HTTPFound(f"{LOGIN_PATH}?next={quote(request.path_qs, safe='')}")
    return web.json_response({"error": message, "login": LOGIN_PATH}, status=status)


@web.middleware
async def console_guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Apply the access rule (module docstring) to every request."""
    if not guarded(request):
        return await handler(request)
    auth = request.app[CONSOLE_AUTH]
    if request.method not in SAFE_METHODS and not auth.same_origin(request):
        return refuse(request, 403, OTHER_ORIGIN)
    user = auth.user_for(request)
    if user is None and request.path in GUARDED_PATHS and auth.api_token_check is not None:
        if await auth.api_token_check(request):
            user = ConsoleUser(name="api", display="API", kind="api", sid="api")
    if user is not None:
        request[CONSOLE_USER] = user
        return await handler(request)
    if always_open(request):
        return await handler(request)
    return refuse(request, 401, NOT_SIGNED_IN)


def current_user(request: web.Request) -> ConsoleUser:
    """The user the guard let through (handlers behind the guard only)."""
    user = request.get(CONSOLE_USER)
    if user is None:  # a handler reached without the guard: refuse rather than guess
        raise web.HTTPUnauthorized(text=NOT_SIGNED_IN)
    return user


# --- wiring --------------------------------------------------------------------------------------


def admin_token_for(secret: str, workers: int) -> str:
    """A random token; forked workers derive the same one from the shared secret and parent."""
    if workers > 1:
        seed = f"console-admin-token:{os.getppid()}".encode()
        return _b64(hmac.new(secret.encode(), seed, hashlib.sha256).digest())[:32]
    return secrets.token_urlsafe(24)


async def admin_api_token(request: web.Request) -> bool:
    """True when the request carries an API token with the admin scope (bot.integrations)."""
    kind, _, secret = request.headers.get("Authorization", "").strip().partition(" ")
    if kind.lower() != "bearer" or not secret.strip():
        return False
    from bot.integrations.tokens import find_token

    async with request.app[DATABASE].read() as session:
        token = await find_token(session, secret.strip())
    return token is not None and token.allows("admin")


def build_auth(settings: Any, config: Any) -> ConsoleAuth:
    """The console's auth state from settings (secret, host, public URL) and the config."""
    console: ConsoleConfig = getattr(config, "console", None) or ConsoleConfig()
    public = URL(settings.public_base_url)
    return ConsoleAuth(
        secret=settings.secret_key,
        host=settings.host,
        console=console,
        directory=config.directory,
        secure=public.scheme == "https",
        admin_token=None
        if console.accounts
        else admin_token_for(settings.secret_key, settings.workers),
        public_origin=public.raw_authority or None,
    )


async def _announce_token(app: web.Application) -> None:
    auth = app[CONSOLE_AUTH]
    if auth.admin_token:
        log.warning(
            "控制台一次性管理员令牌: %s （在 %s 用它登录；"
            "在配置 console.accounts 中添加账号后不再使用）",
            auth.admin_token,
            LOGIN_PATH,
        )


def install_console_auth(app: web.Application) -> ConsoleAuth:
    """Build the auth state, add the guard middleware, log the admin token once at start."""
    auth = build_auth(app[SETTINGS], app[CONFIG])
    auth.api_token_check = admin_api_token
    app[CONSOLE_AUTH] = auth
    app.middlewares.append(console_guard)
    app.on_startup.append(_announce_token)
    return auth


# --- python -m bot.web.auth NAME -----------------------------------------------------------------


def account_entry(name: str, password_hash: str, person: str | None = None) -> str:
    """The YAML lines of one `console.accounts` entry."""
    lines = ["console:", "  accounts:", f"    - name: {json.dumps(name, ensure_ascii=False)}"]
    if person:
        lines.append(f"      person: {json.dumps(person, ensure_ascii=False)}")
    lines.append(f'      password_hash: "{password_hash}"')
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, ask: Callable[[str], str] = getpass.getpass) -> int:
    """Print a console account entry for a password typed twice at the prompt."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.web.auth", description="make a console account entry for the config"
    )
    parser.add_argument("name", help="the name to sign in with")
    parser.add_argument("--person", help="the people: id of this account's owner")
    args = parser.parse_args(argv)
    password = ask("密码: ")
    if len(password) < 8:
        print("密码至少 8 位", file=sys.stderr)
        return 1
    if ask("再输入一次: ") != password:
        print("两次输入的密码不一致", file=sys.stderr)
        return 1
    print(account_entry(args.name, hash_password(password), args.person))
    return 0


if __name__ == "__main__":
    sys.exit(main())
