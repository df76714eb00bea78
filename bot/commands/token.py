"""token: API tokens for other systems (create, list, revoke); the secret is shown once."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.settings import Settings

T = TypeVar("T")


def register(sub: argparse._SubParsersAction) -> None:
    token = sub.add_parser("token", help="create, list and revoke REST API tokens")
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token and print its secret once")
    create.add_argument("name", help="the integration's name, shown on the timeline (e.g. hotline)")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        metavar="SCOPE",
        help="read, write, act or admin; repeat or separate with commas",
    )
    create.set_defaults(handler=run_create)
    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    listing.set_defaults(handler=run_list)
    revoke = actions.add_parser("revoke", help="revoke a name's active tokens, or one by --id")
    revoke.add_argument("name", nargs="?", help="revoke every active token of this name")
    revoke.add_argument("--id", type=int, help="revoke only this token")
    revoke.set_defaults(handler=run_revoke)


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from storage.db import Database

    async def go() -> T:
        db = Database(settings.database_url)
        try:
            async with db.write() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(go())


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    from bot.integrations.tokens import TokenError, create_token

    scopes = [s for value in args.scope for s in value.split(",")]
    try:
        issued = _run(settings, lambda s: create_token(s, args.name, scopes, now=datetime.now(UTC)))
    except TokenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info = issued.info
    print(f"token {info.id} for '{info.name}' ({', '.join(sorted(info.scopes))}):")
    print(issued.secret)
    print(
        "Keep it now: only its hash is stored. Send it as 'Authorization: Bearer <token>'.",
        file=sys.stderr,
    )
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.integrations.tokens import describe, list_tokens

    tokens = _run(settings, list_tokens)
    for line in describe(tokens) or ["no tokens yet: python -m bot token create NAME --scope read"]:
        print(line)
    return 0


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from bot.integrations.tokens import TokenError, revoke_tokens

    if args.name is None and args.id is None:
        print("error: give a token name or --id", file=sys.stderr)
        return 2
    try:
        count = _run(
            settings,
            lambda s: revoke_tokens(s, now=datetime.now(UTC), name=args.name, token_id=args.id),
        )
    except TokenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"revoked {count} token(s)")
    return 0 if count else 1
