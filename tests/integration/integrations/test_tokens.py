"""API tokens in the database and on the command line (both databases)."""

from __future__ import annotations

import asyncio
import io
from contextlib import redirect_stderr, redirect_stdout

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.integrations.tokens import (
    TokenError,
    create_token,
    find_token,
    list_tokens,
    revoke_tokens,
)
from storage.db import Database
from storage.models import ApiToken

NOW = __import__("datetime").datetime(2026, 11, 23, 2, 0, tzinfo=__import__("datetime").UTC)


async def test_a_token_is_stored_hashed_and_found_by_its_secret(db: Database):
    async with db.write() as session:
        issued = await create_token(session, "hotline", ["read", "write"], now=NOW)
    async with db.read() as session:
        row = await session.scalar(select(ApiToken))
        found = await find_token(session, issued.secret)
        nobody = await find_token(session, issued.secret + "x")
    assert row is not None and issued.secret not in (row.secret_hash, row.prefix + "…")
    assert len(row.secret_hash) == 64 and issued.secret.startswith(row.prefix)
    assert found is not None and found.scopes == {"read", "write"} and nobody is None
    assert found.allows("read") and not found.allows("act")


async def test_revoked_tokens_are_not_found_and_admin_implies_everything(db: Database):
    async with db.write() as session:
        old = await create_token(session, "crm", ["admin"], now=NOW)
        await create_token(session, "crm", ["read"], now=NOW)
    async with db.read() as session:
        admin = await find_token(session, old.secret)
    assert admin is not None and all(admin.allows(s) for s in ("read", "write", "act"))
    async with db.write() as session:
        assert await revoke_tokens(session, now=NOW, token_id=old.info.id) == 1
        assert await revoke_tokens(session, now=NOW, token_id=old.info.id) == 0
    async with db.read() as session:
        assert await find_token(session, old.secret) is None
        tokens = await list_tokens(session)
    assert [t.revoked_at is not None for t in tokens] == [True, False]


async def test_bad_names_and_scopes_are_refused(db: Database):
    async with db.write() as session:
        for name, scopes in (("Hot Line", ["read"]), ("hotline", ["everything"]), ("x", [])):
            with pytest.raises(TokenError):
                await create_token(session, name, scopes, now=NOW)


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


async def test_the_token_command_creates_lists_and_revokes(
    db: Database, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DATABASE_URL", db.url)
    code, out, err = await asyncio.to_thread(
        _cli, "token", "create", "hotline", "--scope", "read,write", "--scope", "act"
    )
    assert code == 0 and "only its hash is stored" in err
    secret = out.strip().splitlines()[-1]
    async with db.read() as session:
        token = await find_token(session, secret)
    assert token is not None and token.scopes == {"read", "write", "act"}
    code, out, _ = await asyncio.to_thread(_cli, "token", "list")
    assert code == 0 and "hotline" in out and secret not in out and "active" in out
    code, out, _ = await asyncio.to_thread(_cli, "token", "revoke", "hotline")
    assert (code, out.strip()) == (0, "revoked 1 token(s)")
    code, _, err = await asyncio.to_thread(_cli, "token", "create", "x", "--scope", "root")
    assert code == 2 and "unknown scope 'root'" in err
