"""Password hashes, signed session cookies, CSRF tokens and the sign-in throttle."""

from __future__ import annotations

import base64
import json
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.config.model import ConsoleAccount, ConsoleConfig
from bot.domain.directory import Directory, Person
from bot.web.console_session import (
    LOCAL_USER,
    ConsoleAuth,
    ConsoleUser,
    Throttle,
    hash_password,
    verify_password,
)

FAST = {"n": 2**4, "r": 8, "p": 1}  # the format's parameters, cheap enough for many tests


def auth_with(
    *accounts: ConsoleAccount,
    host: str = "0.0.0.0",
    hours: float = 12,
    admin_token: str | None = None,
    clock: list[float] | None = None,
) -> ConsoleAuth:
    now = clock if clock is not None else [1_000_000.0]
    directory = Directory(people={"zhangsan": Person("zhangsan", "张三")})
    return ConsoleAuth(
        secret="s3cret",
        host=host,
        console=ConsoleConfig(accounts=list(accounts), session_hours=hours),
        directory=directory,
        admin_token=admin_token,
        clock=lambda: now[0],
    )


def account(name: str = "zhangsan", password: str = "pw", person: str | None = "zhangsan"):
    return ConsoleAccount(name=name, person=person, password_hash=hash_password(password, **FAST))


# --- passwords -----------------------------------------------------------------------------------


def test_hash_verifies_its_password_only():
    encoded = hash_password("正确的密码", **FAST)
    assert encoded.startswith("scrypt$16$8$1$")
    assert verify_password("正确的密码", encoded)
    assert not verify_password("正确的密码 ", encoded)
    assert not verify_password("", encoded)


def test_default_parameters_are_the_documented_ones():
    encoded = hash_password("pw")
    assert encoded.split("$")[:4] == ["scrypt", "16384", "8", "1"]
    ConsoleAccount(name="a", password_hash=encoded)  # the config accepts what we print


def test_each_hash_has_its_own_salt():
    assert hash_password("pw", **FAST) != hash_password("pw", **FAST)


@pytest.mark.parametrize("encoded", ["pw", "", "scrypt$16$8$1$abc$def", "bcrypt$x$y$z$a$b"])
def test_malformed_hashes_never_verify(encoded: str):
    assert not verify_password("pw", encoded)


@pytest.mark.parametrize(
    "value, message",
    [
        ("hunter2", "never the password itself"),
        ("scrypt$1000$8$1$" + "A" * 22 + "$" + "A" * 43, "unusable scrypt parameters"),
        ("scrypt$16384$64$1$" + "A" * 22 + "$" + "A" * 43, "unusable scrypt parameters"),
    ],
)
def test_config_refuses_plain_passwords_and_odd_parameters(value: str, message: str):
    with pytest.raises(ValueError, match=message):
        ConsoleAccount(name="a", password_hash=value)


# --- sessions ------------------------------------------------------------------------------------


async def test_issued_session_reads_back_as_its_user():
    auth = auth_with(account())
    user = await auth.sign_in("zhangsan", "pw")
    assert user is not None and user.display == "张三" and user.kind == "account"
    back = auth.read(auth.issue(user))
    assert back == user


async def test_wrong_password_and_unknown_account_give_nobody():
    auth = auth_with(account())
    assert await auth.sign_in("zhangsan", "nope") is None
    assert await auth.sign_in("lisi", "pw") is None


def test_session_expires_after_the_configured_hours():
    clock = [1_000_000.0]
    auth = auth_with(account(), hours=2, clock=clock)
    cookie = auth.issue(ConsoleUser("zhangsan", "张三", "account", "sid"))
    clock[0] += 2 * 3600 - 1
    assert auth.read(cookie) is not None
    clock[0] += 1
    assert auth.read(cookie) is None


def test_tampered_or_foreign_sessions_are_refused():
    auth = auth_with(account())
    cookie = auth.issue(ConsoleUser("zhangsan", "张三", "account", "sid"))
    body, signature = cookie.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["e"] += 10**6
    longer = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    assert auth.read(f"{longer}.{signature}") is None
    assert auth.read(cookie + "x") is None
    assert auth.read("") is None and auth.read(None) is None and auth.read("a.b.c") is None
    other_secret = ConsoleAuth(
        secret="other", host="0.0.0.0", console=ConsoleConfig(accounts=[account()])
    )
    assert other_secret.read(cookie) is None


def test_a_removed_account_or_changed_password_ends_the_session():
    auth = auth_with(account())
    cookie = auth.issue(ConsoleUser("zhangsan", "张三", "account", "sid"))
    assert auth_with(account(password="new")).read(cookie) is None
    assert auth_with(account(name="lisi")).read(cookie) is None


def test_a_loopback_user_cannot_be_minted_as_a_cookie():
    auth = auth_with(account())
    assert auth.read(auth.issue(LOCAL_USER)) is None


def test_admin_token_signs_in_only_in_token_mode():
    token_mode = auth_with(admin_token="tok-123")
    user = token_mode.sign_in_token("tok-123")
    assert user is not None and user.kind == "admin" and user.display == "管理员"
    assert token_mode.read(token_mode.issue(user)) == user
    assert token_mode.sign_in_token("tok-124") is None and token_mode.sign_in_token("") is None
    with_accounts = auth_with(account(), admin_token="tok-123")
    assert with_accounts.admin_token is None and with_accounts.sign_in_token("tok-123") is None


def test_csrf_tokens_belong_to_one_session():
    auth = auth_with(account())
    one = ConsoleUser("zhangsan", "张三", "account", "sid-1")
    two = ConsoleUser("zhangsan", "张三", "account", "sid-2")
    assert auth.csrf_ok(one, auth.csrf_token(one))
    assert not auth.csrf_ok(two, auth.csrf_token(one))
    assert not auth.csrf_ok(one, None) and not auth.csrf_ok(one, "")
    assert auth.login_token_ok("nonce", auth.login_token("nonce"))
    assert not auth.login_token_ok("other", auth.login_token("nonce"))
    assert not auth.login_token_ok(None, auth.login_token("nonce"))


# --- throttle ------------------------------------------------------------------------------------


def test_throttle_blocks_after_the_limit_until_the_window_passes():
    now = [0.0]
    throttle = Throttle(limit=3, window=300, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") is None
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 300
    assert throttle.retry_after("10.0.0.2") is None  # per address
    now[0] = 299
    assert throttle.retry_after("10.0.0.1") == 1
    now[0] = 300
    assert throttle.retry_after("10.0.0.1") is None


def test_throttle_forgets_on_success_and_bounds_its_memory():
    throttle = Throttle(limit=1, window=300, clock=lambda: 0.0, max_keys=2)
    throttle.failed("a")
    throttle.clear("a")
    assert throttle.retry_after("a") is None
    for key in ("a", "b", "c"):
        throttle.failed(key)
    assert throttle.retry_after("a") is None  # the oldest address was dropped
    assert throttle.retry_after("c") is not None


# --- the loopback rule ---------------------------------------------------------------------------


def request(peer: str, headers: dict[str, str]):
    transport = mock.Mock()
    transport.get_extra_info.return_value = (peer, 40000)
    return make_mocked_request("GET", "/console", headers=headers, transport=transport)


@pytest.mark.parametrize(
    "bound, peer, headers, open_",
    [
        ("127.0.0.1", "127.0.0.1", {"Host": "127.0.0.1:8080"}, True),
        ("localhost", "127.0.0.1", {"Host": "localhost:8080"}, True),
        ("::1", "::1", {"Host": "[::1]:8080"}, True),
        ("0.0.0.0", "127.0.0.1", {"Host": "127.0.0.1:8080"}, False),  # bound to every address
        ("192.168.1.5", "127.0.0.1", {"Host": "127.0.0.1:8080"}, False),
        ("127.0.0.1", "10.0.0.7", {"Host": "127.0.0.1:8080"}, False),  # not from loopback
        ("127.0.0.1", "127.0.0.1", {"Host": "rebind.evil.example"}, False),
        ("127.0.0.1", "127.0.0.1", {"Host": "127.0.0.1", "X-Real-IP": "1.2.3.4"}, False),
        ("127.0.0.1", "127.0.0.1", {"Host": "127.0.0.1", "X-Forwarded-Host": "a.b"}, False),
        ("127.0.0.1", "127.0.0.1", {"Host": "[bad"}, False),
    ],
)
def test_open_locally_only_for_loopback_binding_peer_and_host(bound, peer, headers, open_):
    auth = auth_with(host=bound)
    assert auth.open_locally(request(peer, headers)) is open_
    assert (auth.user_for(request(peer, headers)) == LOCAL_USER) is open_
