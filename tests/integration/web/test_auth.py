"""Console sign-in on the running app: each branch of the access rule, sessions, CSRF, throttle."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from yarl import URL

from bot.app import create_app
from bot.config.loader import LoadedConfig, load_config_text
from bot.settings import Settings
from bot.web.auth import CONSOLE_AUTH, LOGIN_COOKIE, SESSION_COOKIE
from bot.web.console_session import ConsoleUser, hash_password
from tests.conftest import EXAMPLE_CONFIG

PASSWORD = "正确的密码 correct-horse"
HASH = hash_password(PASSWORD)
ACCOUNTS = f"""
console:
  session_hours: 8
  accounts:
    - name: zhangsan
      person: zhangsan
      password_hash: "{HASH}"
"""

Make = Callable[..., Awaitable[TestClient]]


def config_with(extra: str = "") -> LoadedConfig:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8") + extra
    return load_config_text(text, source=str(EXAMPLE_CONFIG))


@pytest.fixture
def make(aiohttp_client: Any, app_settings: Settings) -> Make:
    """A client on a whole app bound to `host`, with console accounts or in token mode."""

    async def build(host: str = "0.0.0.0", *, accounts: bool = True, **settings: Any) -> TestClient:
        config = config_with(ACCOUNTS if accounts else "")
        tuned = app_settings.model_copy(update={"host": host, **settings})
        return await aiohttp_client(create_app(tuned, config, background=False))

    return build


async def login_form(client: TestClient) -> tuple[str, str]:
    """(the form's CSRF token, the nonce cookie) from a fresh sign-in page."""
    client.session.cookie_jar.clear()
    page = await client.get("/console/login")
    assert page.status == 200
    match = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert match is not None
    return match.group(1), page.cookies[LOGIN_COOKIE].value


async def sign_in(
    client: TestClient, name: str = "zhangsan", password: str = PASSWORD, **extra: str
) -> ClientResponse:
    csrf, nonce = await login_form(client)
    data = {"csrf": csrf, "name": name, "password": password, "next": "/console/complaints"}
    data.update(extra)
    client.session.cookie_jar.clear()  # the nonce goes by hand: a Secure cookie over plain http
    return await client.post(
        "/console/login",
        data=data,
        headers={"Cookie": f"{LOGIN_COOKIE}={nonce}"},
        allow_redirects=False,
    )


def session_of(response: ClientResponse) -> str:
    return response.cookies[SESSION_COOKIE].value


async def get(client: TestClient, path: str, cookie: str | None = None, **headers: str):
    client.session.cookie_jar.clear()
    if cookie is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    return await client.get(path, headers=headers, allow_redirects=False)


# --- who may look without signing in ------------------------------------------------------------


async def test_loopback_binding_opens_console_and_playground_to_local_visitors(make: Make):
    client = await make("127.0.0.1")
    page = await get(client, "/console/complaints")
    assert page.status == 200 and "本机免登录" in await page.text()
    assert (await get(client, "/playground")).status == 200
    assert (await get(client, "/console/dashboard")).status == 200


async def test_any_other_binding_sends_anonymous_visitors_to_sign_in(make: Make):
    client = await make("0.0.0.0")
    for path in ("/console", "/console/complaints?status=new", "/console/config", "/playground"):
        response = await get(client, path)
        assert response.status == 302, path
        location = URL(response.headers["Location"])
        assert location.path == "/console/login" and location.query["next"] == path
    script = await get(client, "/playground/api/state", Accept="application/json")
    assert script.status == 401 and (await script.json())["login"] == "/console/login"
    post = await client.post("/playground/api/clock", json={"hours": 1})
    assert post.status == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},  # DNS rebinding: a page of another site on our address
        {"Host": "127.0.0.1:8080", "X-Forwarded-For": "203.0.113.9"},  # through a local proxy
        {"Host": "127.0.0.1", "Forwarded": "for=203.0.113.9"},
    ],
)
async def test_loopback_binding_still_refuses_foreign_hosts_and_proxied_requests(
    make: Make, headers: dict[str, str]
):
    client = await make("127.0.0.1")
    response = await get(client, "/console/complaints", **headers)
    assert response.status == 302
    assert response.headers["Location"].startswith("/console/login")


async def test_other_surfaces_are_not_behind_the_console_sign_in(make: Make):
    client = await make("0.0.0.0")
    assert (await get(client, "/healthz")).status == 200
    assert (await get(client, "/metrics")).status == 200
    assert (await get(client, "/api/v1/openapi.json")).status == 200
    assert (await get(client, "/console/login")).status == 200
    assert (await get(client, "/console/static/console.css")).status == 200


# --- signing in with an account ----------------------------------------------------------------


async def test_right_password_signs_in_with_a_hardened_cookie(make: Make):
    client = await make()
    response = await sign_in(client)
    assert response.status == 303
    assert response.headers["Location"] == "/console/complaints"
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    assert cookie["max-age"] == str(8 * 3600)
    page = await get(client, "/console/complaints", session_of(response))
    assert page.status == 200
    html = await page.text()
    assert "张三" in html and "退出登录" in html
    # Already signed in: the sign-in page sends them on.
    again = await get(client, "/console/login?next=/console/config", session_of(response))
    assert again.status == 302 and again.headers["Location"] == "/console/config"


async def test_cookie_is_secure_when_the_public_address_is_https(make: Make):
    client = await make(public_base_url="https://complaints.example.com")
    response = await sign_in(client)
    assert response.cookies[SESSION_COOKIE]["secure"]


@pytest.mark.parametrize("name, password", [("zhangsan", "wrong"), ("nobody", PASSWORD)])
async def test_wrong_password_or_unknown_name_is_refused_alike(
    make: Make, name: str, password: str
):
    client = await make()
    response = await sign_in(client, name, password)
    assert response.status == 401
    assert "账号或密码不正确" in await response.text()
    assert SESSION_COOKIE not in response.cookies


async def test_failed_sign_ins_are_throttled_per_address(make: Make):
    client = await make()
    for _ in range(10):
        assert (await sign_in(client, password="wrong")).status == 401
    blocked = await sign_in(client)  # even the right password waits now
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in await blocked.text()


async def test_sign_in_never_redirects_off_site(make: Make):
    client = await make()
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example", "/api/v1/x"):
        response = await sign_in(client, next=target)
        assert response.status == 303 and response.headers["Location"] == "/console", target


# --- sessions that must not work -----------------------------------------------------------------


async def test_expired_session_is_sent_back_to_sign_in(make: Make):
    client = await make()
    auth = client.app[CONSOLE_AUTH]
    auth.clock = lambda: 1_000_000.0
    cookie = session_of(await sign_in(client))
    assert (await get(client, "/console/complaints", cookie)).status == 200
    auth.clock = lambda: 1_000_000.0 + 8 * 3600 + 1
    response = await get(client, "/console/complaints", cookie)
    assert response.status == 302 and response.headers["Location"].startswith("/console/login")


async def test_tampered_session_is_refused(make: Make):
    client = await make()
    cookie = session_of(await sign_in(client))
    body, signature = cookie.split(".")
    forged_body = (
        client.app[CONSOLE_AUTH].issue(ConsoleUser("boss", "周总", "account", "sid")).split(".")[0]
    )
    for bad in (
        f"{forged_body}.{signature}",  # someone else's name under this signature
        f"{body}.{signature[:-2]}AA",  # a changed signature
        f"{body[:-1]}.{signature}",
        "garbage",
    ):
        response = await get(client, "/console/complaints", bad)
        assert response.status == 302, bad


async def test_changing_the_password_ends_existing_sessions(
    make: Make, aiohttp_client: Any, app_settings: Settings
):
    client = await make()
    cookie = session_of(await sign_in(client))
    changed = ACCOUNTS.replace(HASH, hash_password("a new password"))
    settings = app_settings.model_copy(update={"host": "0.0.0.0"})
    other = await aiohttp_client(create_app(settings, config_with(changed), background=False))
    assert (await get(other, "/console/complaints", cookie)).status == 302


# --- CSRF and origins ----------------------------------------------------------------------------


async def test_sign_in_without_the_form_token_is_refused(make: Make):
    client = await make()
    client.session.cookie_jar.clear()
    response = await client.post(
        "/console/login", data={"name": "zhangsan", "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 403 and "登录页面已过期" in await response.text()
    _, nonce = await login_form(client)
    forged = await client.post(
        "/console/login",
        data={"name": "zhangsan", "password": PASSWORD, "csrf": "made-up"},
        allow_redirects=False,
    )
    assert forged.status == 403 and nonce


async def test_sign_out_needs_the_session_token(make: Make):
    client = await make()
    cookie = session_of(await sign_in(client))
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    client.session.cookie_jar.clear()
    missing = await client.post("/console/logout", headers=headers, allow_redirects=False)
    assert missing.status == 403
    csrf = client.app[CONSOLE_AUTH].csrf_token(client.app[CONSOLE_AUTH].read(cookie))
    done = await client.post(
        "/console/logout", data={"csrf": csrf}, headers=headers, allow_redirects=False
    )
    assert done.status == 303 and done.headers["Location"] == "/console/login"
    assert done.cookies[SESSION_COOKIE].value == ""


async def test_posts_from_another_origin_are_refused(make: Make):
    client = await make("127.0.0.1")
    evil = await client.post(
        "/playground/api/clock", json={"hours": 1}, headers={"Origin": "https://evil.example"}
    )
    assert evil.status == 403
    host = f"{client.host}:{client.port}"
    ours = await client.post(
        "/api/v1/config/validate", json={"yaml": ""}, headers={"Origin": f"http://{host}"}
    )
    assert ours.status == 403  # past the origin check; refused for its missing CSRF header
    assert "X-CSRF-Token" in (await ours.json())["error"]


# --- token mode (no accounts) --------------------------------------------------------------------


async def test_token_mode_signs_in_with_the_logged_admin_token(
    make: Make, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING, logger="bot.web.auth"):
        client = await make(accounts=False)
    token = client.app[CONSOLE_AUTH].admin_token
    assert token
    announced = [r for r in caplog.records if "控制台一次性管理员令牌" in r.getMessage()]
    assert len(announced) == 1 and token in announced[0].getMessage()
    page = await client.get("/console/login")
    assert 'name="token"' in await page.text()
    csrf, _ = await login_form(client)
    wrong = await client.post(
        "/console/login", data={"csrf": csrf, "token": "nope"}, allow_redirects=False
    )
    assert wrong.status == 401 and "管理员令牌不正确" in await wrong.text()
    right = await client.post(
        "/console/login", data={"csrf": csrf, "token": token}, allow_redirects=False
    )
    assert right.status == 303
    page = await get(client, "/console/config", session_of(right))
    assert page.status == 200 and "管理员" in await page.text()


async def test_admin_sessions_end_with_the_process_that_issued_the_token(make: Make):
    first = await make(accounts=False)
    csrf, _ = await login_form(first)
    token = first.app[CONSOLE_AUTH].admin_token
    cookie = session_of(
        await first.post(
            "/console/login", data={"csrf": csrf, "token": token}, allow_redirects=False
        )
    )
    restarted = await make(accounts=False)  # same SECRET_KEY, a new token
    assert (await get(restarted, "/console/complaints", cookie)).status == 302
    assert restarted.app[CONSOLE_AUTH].admin_token != token


async def test_accounts_mode_logs_no_token(make: Make, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="bot.web.auth"):
        client = await make(accounts=True)
    assert client.app[CONSOLE_AUTH].admin_token is None
    assert not [r for r in caplog.records if "管理员令牌" in r.getMessage()]
