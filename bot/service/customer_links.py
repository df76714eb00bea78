"""Signed, expiring links for customers: their complaint's page and the intake form.

WeChat opens a link in its own browser without telling us who the reader is (that needs OAuth),
so the link itself is the credential. A token names what it opens (a complaint number, or the
form), whose it is (the customer's id) and until when; HMAC-SHA256 over those with the service's
link secret makes it unforgeable. Changing any part, or waiting past the expiry, makes it
worthless: `read_token` raises LinkRefused with a reason for the log.

Token layout: base64url(JSON claims) "." base64url(HMAC-SHA256(secret, purpose | claims)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.errors import BotError

Purpose = Literal["complaint", "form"]

COMPLAINT_LINK_LIFETIME = timedelta(days=30)
FORM_LINK_LIFETIME = timedelta(days=7)
PAGE_PREFIX = "/c"
FORM_PATH = f"{PAGE_PREFIX}/form"
MAX_TOKEN_CHARS = 512


class LinkRefused(BotError):
    """A customer link that is forged, altered, expired or for something else."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class LinkClaims:
    """What a valid token grants: `purpose` for `customer_id` (and complaint `number`)."""

    purpose: Purpose
    customer_id: int
    number: str | None
    expires_at: datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, f"customer-link|{body}".encode("ascii"), hashlib.sha256).digest())


def make_token(
    secret: bytes,
    purpose: Purpose,
    *,
    customer_id: int,
    now: datetime,
    number: str | None = None,
    lifetime: timedelta | None = None,
) -> str:
    """A token granting `purpose` to `customer_id` until now + lifetime."""
    if purpose == "complaint" and not number:
        raise ValueError("a complaint link needs the complaint number")
    lifetime = lifetime or (
        COMPLAINT_LINK_LIFETIME if purpose == "complaint" else FORM_LINK_LIFETIME
    )
    claims: dict[str, object] = {
        "p": purpose,
        "u": customer_id,
        "e": int((now + lifetime).timestamp()),
    }
    if number:
        claims["n"] = number
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{body}.{_mac(secret, body)}"


def read_token(secret: bytes, token: str, *, purpose: Purpose, now: datetime) -> LinkClaims:
    """The claims of a genuine, unexpired token for `purpose`; LinkRefused otherwise."""
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise LinkRefused("malformed token")
    body, mac = token.split(".")
    # Compare the signature before reading anything the sender wrote.
    if not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(secret, body).encode("ascii")):
        raise LinkRefused("bad signature")
    try:
        claims = json.loads(_unb64(body))
        kind, customer_id, expires = claims["p"], int(claims["u"]), int(claims["e"])
        number = claims.get("n")
    except (ValueError, KeyError, TypeError) as exc:
        raise LinkRefused(f"unreadable claims: {type(exc).__name__}") from None
    if kind != purpose:
        raise LinkRefused(f"a {kind} token used for {purpose}")
    expires_at = datetime.fromtimestamp(expires, UTC)
    if now >= expires_at:
        raise LinkRefused("expired")
    if purpose == "complaint" and not isinstance(number, str):
        raise LinkRefused("complaint token without a number")
    return LinkClaims(purpose, customer_id, number if isinstance(number, str) else None, expires_at)


def complaint_url(
    base_url: str, secret: bytes, *, number: str, customer_id: int, now: datetime
) -> str:
    """The customer's page for complaint `number`: status, timeline, 补充信息/撤销/评价."""
    token = make_token(secret, "complaint", customer_id=customer_id, number=number, now=now)
    return f"{base_url.rstrip('/')}{PAGE_PREFIX}/{token}"


def form_url(base_url: str, secret: bytes, *, customer_id: int, now: datetime) -> str:
    """The intake form for this customer (their known name and phone filled in)."""
    token = make_token(secret, "form", customer_id=customer_id, now=now)
    return f"{base_url.rstrip('/')}{FORM_PATH}?t={token}"


COVER_PATH = f"{PAGE_PREFIX}/static/cover.png"
NEWS_HINTS = {
    "new": "点击查看进度，可补充信息或撤销投诉",
    "in_progress": "点击查看进度，可补充信息或撤销投诉",
    "resolved": "点击查看处理结果",
    "closed": "点击查看处理经过，并为本次服务评价",
    "cancelled": "点击查看投诉记录",
}


def complaint_news(
    base_url: str,
    secret: bytes,
    *,
    number: str,
    customer_id: int,
    status_text: str,
    status: str,
    step: str | None,
    now: datetime,
) -> dict[str, str]:
    """The news (图文) payload standing in for a card: title, description, url, picurl."""
    where = f"当前环节：{step}\n" if step and status not in ("closed", "cancelled") else ""
    return {
        "title": f"投诉 {number}：{status_text}",
        "description": where + NEWS_HINTS.get(status, "点击查看投诉详情"),
        "url": complaint_url(base_url, secret, number=number, customer_id=customer_id, now=now),
        "picurl": f"{base_url.rstrip('/')}{COVER_PATH}",
    }
