"""Signing in to the console and out again (the rules themselves live in auth.py)."""

from __future__ import annotations

import logging
import secrets

from aiohttp import web

from bot.appkeys import CONFIG
from bot.web.auth import (
    CONSOLE_AUTH,
    CONSOLE_USER,
    CSRF_FIELD,
    LOGIN_COOKIE,
    LOGIN_PATH,
    SESSION_COOKIE,
    current_user,
    safe_next,
)
from bot.web.jinja import render

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

WRONG_PASSWORD = "账号或密码不正确"
WRONG_TOKEN = "管理员令牌不正确"
FORM_EXPIRED = "登录页面已过期，请重新输入后再提交"
TOO_MANY = "登录失败次数过多，请 {minutes} 分钟后再试"
LOGIN_COOKIE_AGE = 3600


def _form(
    request: web.Request,
    *,
    next_path: str,
    error: str | None = None,
    status: int = 200,
    name: str = "",
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The sign-in page; its CSRF token is bound to a random nonce in a cookie of its own."""
    auth = request.app[CONSOLE_AUTH]
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(18)
    response = render(
        "login.html",
        {
            "organization": request.app[CONFIG].organization.name,
            "token_mode": auth.token_mode,
            "csrf": auth.login_token(nonce),
            "next": next_path,
            "error": error,
            "name": name,
        },
        status=status,
        headers=headers,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        httponly=True,
        samesite="Lax",
        secure=auth.secure,
        path=LOGIN_PATH,
        max_age=LOGIN_COOKIE_AGE,
    )
    return response


@routes.get(LOGIN_PATH)
async def login_page(request: web.Request) -> web.Response:
    """The sign-in form (already signed in: straight on to where the visitor was going)."""
    next_path = safe_next(request.query.get("next"))
    user = request.get(CONSOLE_USER)
    if user is not None and user.signed_in:
        raise web.HTTPFound(next_path)
    return _form(request, next_path=next_path)


@routes.post(LOGIN_PATH)
async def login(request: web.Request) -> web.Response:
    """Check the name and password (or the admin token); throttled per address."""
    auth = request.app[CONSOLE_AUTH]
    address = request.remote or "unknown"
    form = await request.post()
    next_path = safe_next(str(form.get("next") or ""))
    name = str(form.get("name") or "").strip()
    wait = auth.throttle.retry_after(address)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        return _form(
            request,
            next_path=next_path,
            name=name,
            status=429,
            error=TOO_MANY.format(minutes=minutes),
            headers={"Retry-After": f"{wait:.0f}"},
        )
    token = form.get(CSRF_FIELD)
    if not auth.login_token_ok(request.cookies.get(LOGIN_COOKIE), str(token) if token else None):
        return _form(request, next_path=next_path, name=name, status=403, error=FORM_EXPIRED)
    if auth.token_mode:
        user = auth.sign_in_token(str(form.get("token") or "").strip())
    else:
        user = await auth.sign_in(name, str(form.get("password") or ""))
    if user is None:
        auth.throttle.failed(address)
        log.warning("console sign-in failed for %r from %s", name or "(token)", address)
        error = WRONG_TOKEN if auth.token_mode else WRONG_PASSWORD
        return _form(request, next_path=next_path, name=name, status=401, error=error)
    auth.throttle.clear(address)
    log.info("console sign-in: %s from %s", user.name, address)
    response = web.HTTPSeeOther(next_path)
    response.set_cookie(SESSION_COOKIE, auth.issue(user), **auth.cookie_options())
    response.del_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    raise response


@routes.post("/console/logout")
async def logout(request: web.Request) -> web.Response:
    """End the session (the form carries the session's CSRF token)."""
    auth = request.app[CONSOLE_AUTH]
    user = current_user(request)
    form = await request.post()
    token = form.get(CSRF_FIELD)
    if not auth.csrf_ok(user, str(token) if token else None):
        return web.json_response({"error": FORM_EXPIRED}, status=403)
    response = web.HTTPSeeOther(LOGIN_PATH)
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
