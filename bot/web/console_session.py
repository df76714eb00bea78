"""Console sessions: scrypt password hashes, signed session cookies, CSRF tokens, throttling.

Sessions are `base64(json).base64(hmac-sha256)` cookies; the JSON carries the expiry and a
fingerprint of the password hash (or admin token), so changing a password, removing an account
or restarting in token mode ends old sessions. Expiry is wall-clock time, never the service clock
the playground can move forward. The access rule that uses all this is in auth.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from aiohttp import web
from yarl import URL

from bot.config.model import PASSWORD_HASH, ConsoleAccount, ConsoleConfig
from bot.domain.directory import Directory

log = logging.getLogger(__name__)

SESSION_COOKIE = "cb_console"

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
SCRYPT_MAXMEM = 256 * 1024 * 1024

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP")
ADMIN_NAME = "管理员"
LOCAL_NAME = "本机访问"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- passwords -----------------------------------------------------------------------------------


def hash_password(
    password: str,
    *,
    salt: bytes | None = None,
    n: int = SCRYPT_N,
    r: int = SCRYPT_R,
    p: int = SCRYPT_P,
) -> str:
    """scrypt$N$r$p$<salt>$<hash> for `password` (a fresh random salt unless given)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=SCRYPT_MAXMEM
    )
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` hashes to `encoded`; compared in constant time; False if malformed."""
    match = PASSWORD_HASH.match(encoded)
    if match is None:
        return False
    _, n, r, p, salt, expected = encoded.split("$")
    try:
        digest = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(_unb64(expected)),
            maxmem=SCRYPT_MAXMEM,
        )
    except (ValueError, MemoryError):  # parameters this machine refuses: no sign-in with it
        log.error("a console password hash has scrypt parameters this machine cannot use")
        return False
    return hmac.compare_digest(digest, _unb64(expected))


# --- throttling ----------------------------------------------------------------------------------


class Throttle:
    """At most `limit` failures per `window` seconds per key (an address); in this process."""

    def __init__(
        self,
        limit: int = 10,
        window: float = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ):
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.get(key, deque())
        cutoff = self.clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def retry_after(self, key: str) -> float | None:
        """Seconds until `key` may try again, or None when it may try now."""
        times = self._recent(key)
        if len(times) < self.limit:
            return None
        return max(times[0] + self.window - self.clock(), 1.0)

    def failed(self, key: str) -> None:
        if key not in self._failures and len(self._failures) >= self.max_keys:
            self._failures.pop(next(iter(self._failures)))  # forget the oldest address
        self._failures.setdefault(key, deque()).append(self.clock())

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)


# --- sessions ------------------------------------------------------------------------------------

UserKind = Literal["account", "admin", "local", "api"]


@dataclass(frozen=True)
class ConsoleUser:
    """Who is looking: an account, the admin token's holder, loopback, or an API token."""

    name: str
    display: str
    kind: UserKind
    sid: str  # the session's random id; CSRF tokens derive from it

    @property
    def signed_in(self) -> bool:
        return self.kind != "local"


LOCAL_USER = ConsoleUser(name="local", display=LOCAL_NAME, kind="local", sid="local")


class ConsoleAuth:
    """The console's accounts, session signing and access rule for one running service."""

    def __init__(
        self,
        *,
        secret: str,
        host: str,
        console: ConsoleConfig,
        directory: Directory | None = None,
        secure: bool = False,
        admin_token: str | None = None,
        public_origin: str | None = None,
        clock: Callable[[], float] = time.time,
        throttle: Throttle | None = None,
    ):
        # A key of its own, so a session cookie can never pass for a signed customer link.
        self._key = hmac.new(secret.encode(), b"complaint-bot console v1", hashlib.sha256).digest()
        self.host = host
        self.accounts: dict[str, ConsoleAccount] = {a.name: a for a in console.accounts}
        self.directory = directory
        self.secure = secure
        self.admin_token = admin_token if not self.accounts else None
        self.public_origin = public_origin
        self.ttl = console.session_hours * 3600
        self.clock = clock
        self.throttle = throttle or Throttle()
        # Set by whoever owns API tokens: a request carrying one may call the validate endpoint.
        self.api_token_check: Callable[[web.Request], Awaitable[bool]] | None = None

    @property
    def token_mode(self) -> bool:
        """No accounts in the config: sign-in is with the one-time admin token."""
        return not self.accounts

    def _sign(self, purpose: bytes, data: bytes) -> bytes:
        return hmac.new(self._key, purpose + b"\x00" + data, hashlib.sha256).digest()

    def _fingerprint(self, kind: UserKind, name: str) -> str | None:
        if kind == "account":
            account = self.accounts.get(name)
            material = account.password_hash if account else None
        else:
            material = self.admin_token
        if material is None:
            return None
        return _b64(hashlib.sha256(material.encode()).digest()[:9])

    def _user(self, kind: UserKind, name: str, sid: str) -> ConsoleUser:
        display = ADMIN_NAME if kind == "admin" else name
        account = self.accounts.get(name) if kind == "account" else None
        if account is not None and account.person and self.directory is not None:
            display = self.directory.name_of(account.person) or name
        return ConsoleUser(name=name, display=display, kind=kind, sid=sid)

    def issue(self, user: ConsoleUser, *, now: float | None = None) -> str:
        """The signed cookie value for `user`, valid for the configured session hours."""
        now = self.clock() if now is None else now
        payload = {
            "u": user.name,
            "k": user.kind,
            "s": user.sid,
            "e": int(now + self.ttl),
            "f": self._fingerprint(user.kind, user.name),
        }
        body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{_b64(self._sign(b'session', body.encode()))}"

    def read(self, value: str | None) -> ConsoleUser | None:
        """The user of a session cookie, or None when absent, tampered, expired or revoked."""
        if not value or len(value) > 2048 or value.count(".") != 1:
            return None
        body, signature = value.split(".")
        try:
            good = hmac.compare_digest(_unb64(signature), self._sign(b"session", body.encode()))
            payload = json.loads(_unb64(body)) if good else None
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(payload, dict):
            return None
        name, kind, sid, expires = (payload.get(k) for k in ("u", "k", "s", "e"))
        if not (isinstance(name, str) and isinstance(sid, str) and isinstance(expires, int)):
            return None
        if kind not in ("account", "admin") or expires <= self.clock():
            return None
        fingerprint = self._fingerprint(kind, name)
        if fingerprint is None or not hmac.compare_digest(fingerprint, str(payload.get("f"))):
            return None
        return self._user(kind, name, sid)

    def csrf_token(self, user: ConsoleUser) -> str:
        """The token POST forms (and the validate call) of this session carry."""
        return _b64(self._sign(b"csrf", user.sid.encode()))

    def csrf_ok(self, user: ConsoleUser, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(user))

    def login_token(self, nonce: str) -> str:
        """The sign-in form's CSRF token, bound to the random nonce in its own cookie."""
        return _b64(self._sign(b"login", nonce.encode()))

    def login_token_ok(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(str(token), self.login_token(nonce))

    @cached_property
    def _decoy_hash(self) -> str:
        # Unknown names still pay for one scrypt, so timing does not say which names exist.
        return hash_password(secrets.token_hex(16))

    async def sign_in(self, name: str, password: str) -> ConsoleUser | None:
        """The account's user when `password` is right (scrypt runs in a thread), else None."""
        account = self.accounts.get(name)

        def check() -> bool:  # in a thread: scrypt (and the first decoy hash) take ~0.1 s
            encoded = account.password_hash if account is not None else self._decoy_hash
            return verify_password(password, encoded)

        if not await asyncio.to_thread(check) or account is None:
            return None
        return self._user("account", name, secrets.token_urlsafe(16))

    def sign_in_token(self, token: str) -> ConsoleUser | None:
        """The admin user when `token` is the one-time admin token (token mode only)."""
        if self.admin_token is None or not token:
            return None
        if not hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return None
        return self._user("admin", "admin", secrets.token_urlsafe(16))

    def open_locally(self, request: web.BaseRequest) -> bool:
        """Bound to loopback, asked from loopback, for a loopback Host, not through a proxy."""
        if self.host.strip("[]").lower() not in LOOPBACK_NAMES:
            return False
        if any(name in request.headers for name in FORWARDING_HEADERS):
            return False
        try:
            if not ipaddress.ip_address((request.remote or "").split("%")[0]).is_loopback:
                return False
        except ValueError:
            return False
        return _host_name(request.headers.get("Host", "")) in LOOPBACK_NAMES

    def user_for(self, request: web.BaseRequest) -> ConsoleUser | None:
        """The session's user, the loopback user when the page is open, else None."""
        user = self.read(request.cookies.get(SESSION_COOKIE))
        if user is not None:
            return user
        return LOCAL_USER if self.open_locally(request) else None

    def cookie_options(self) -> dict[str, Any]:
        return {
            "httponly": True,
            "samesite": "Lax",
            "secure": self.secure,
            "path": "/",
            "max_age": int(self.ttl),
        }

    def same_origin(self, request: web.BaseRequest) -> bool:
        """True unless the request names an Origin other than this service's."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        allowed = {request.host.lower()}
        if forwarded := request.headers.get("X-Forwarded-Host"):
            allowed.add(forwarded.split(",")[0].strip().lower())
        if self.public_origin:
            allowed.add(self.public_origin.lower())
        netloc = origin.partition("://")[2].lower()
        return origin != "null" and netloc in allowed


def _host_name(host: str) -> str:
    """The host part of a Host header ('127.0.0.1:8080' -> '127.0.0.1', '[::1]:80' -> '::1')."""
    try:
        return (URL(f"http://{host}").host or "").lower()
    except ValueError:
        return ""
