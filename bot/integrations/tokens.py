"""API tokens: a random secret shown once, kept as its SHA-256, with scopes; revocable.

Scopes: read (GET), write (create and edit complaints, comments, attachments), act (workflow
actions as a named staff member), admin (webhook delivery logs; implies every other scope).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import BotError
from storage.models import ApiToken

SCOPES = ("read", "write", "act", "admin")
SECRET_PREFIX = "cbt_"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,47}$")
# last_used_at is written at most this often per token (it costs a write transaction).
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(BotError):
    """A token cannot be created or found as asked."""


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    scopes: frozenset[str]
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    @property
    def actor(self) -> str:
        """How the timeline names what this token did."""
        return f"integration:{self.name}"


@dataclass(frozen=True)
class IssuedToken:
    info: TokenInfo
    secret: str  # shown once; only its hash is stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes, or TokenError naming an unknown one."""
    wanted = frozenset(s.strip() for s in scopes if s.strip())
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise TokenError(f"unknown scope '{unknown[0]}'; use {', '.join(SCOPES)}")
    if not wanted:
        raise TokenError(f"give at least one scope ({', '.join(SCOPES)})")
    return wanted


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        scopes=frozenset((row.scopes or {}).get("scopes", ())),
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


async def create_token(
    session: AsyncSession, name: str, scopes: Iterable[str], *, now: datetime
) -> IssuedToken:
    """A new token for integration `name`; the secret is in the result and nowhere else."""
    if not NAME_PATTERN.match(name):
        raise TokenError(
            f"token name '{name}' must be 1-48 of a-z, 0-9, '_', '.', '-' (starting with a letter "
            "or digit); it names the integration on the timeline"
        )
    wanted = check_scopes(scopes)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        prefix=secret[:12],
        secret_hash=hash_secret(secret),
        scopes={"scopes": sorted(wanted)},
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return IssuedToken(_info(row), secret)


async def list_tokens(session: AsyncSession) -> list[TokenInfo]:
    rows = await session.scalars(select(ApiToken).order_by(ApiToken.name, ApiToken.id))
    return [_info(row) for row in rows]


async def revoke_tokens(
    session: AsyncSession, *, now: datetime, name: str | None = None, token_id: int | None = None
) -> int:
    """Revoke the active tokens of `name` (or the one with `token_id`); how many were revoked."""
    stmt = update(ApiToken).where(ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    if token_id is not None:
        stmt = stmt.where(ApiToken.id == token_id)
    elif name is not None:
        stmt = stmt.where(ApiToken.name == name)
    else:
        raise TokenError("say which token to revoke: a name or an id")
    result = await session.execute(stmt.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def find_token(session: AsyncSession, secret: str) -> TokenInfo | None:
    """The active token with this secret, or None (unknown and revoked look the same)."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    row = await session.scalar(select(ApiToken).where(ApiToken.secret_hash == hash_secret(secret)))
    if row is None or row.revoked_at is not None:
        return None
    return _info(row)


async def touch_token(session: AsyncSession, token: TokenInfo, *, now: datetime) -> bool:
    """Record the use, at most once per LAST_USED_RESOLUTION; True when written."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return False
    await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token.id)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return True


def describe(tokens: Sequence[TokenInfo]) -> list[str]:
    """One line per token, for `python -m bot token list`."""
    lines = []
    for t in tokens:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
        used = f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
        scopes = ",".join(sorted(t.scopes))
        lines.append(f"{t.id:>4}  {t.name:<24} {scopes:<22} {t.prefix}…  {state}, {used}")
    return lines
