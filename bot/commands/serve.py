"""serve: the HTTP service with its outbox relay and ticker, in one or several processes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from bot.errors import ConfigError
from bot.settings import Settings

log = logging.getLogger("bot")


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the HTTP service, the outbox relay and the timers")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, env HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default 8080, env PORT)")
    serve.add_argument(
        "--config", type=Path, help="config file (default config/example.yaml, env BOT_CONFIG)"
    )
    serve.add_argument(
        "--workers", type=int, help="processes sharing the port (PostgreSQL only; env WORKERS)"
    )
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    serve.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    overrides = {
        k: v
        for k, v in (
            ("host", args.host),
            ("port", args.port),
            ("config_path", args.config),
            ("workers", args.workers),
        )
        if v
    }
    if args.no_migrate:
        overrides["migrate_on_start"] = False
    return serve(settings.model_copy(update=overrides))


def serve(settings: Settings) -> int:
    from bot.config.loader import load_config

    try:
        config = load_config(settings.config_path)
    except ConfigError as exc:
        for line in exc.lines():
            log.error("%s", line)
        log.error("refusing to start: %d problem(s) in %s", len(exc.problems), settings.config_path)
        return 1
    if settings.workers > 1 and settings.database_url.startswith("sqlite"):
        log.error(
            "refusing to start %d workers on SQLite: only one process can write to it. "
            "Use one worker, or set DATABASE_URL to PostgreSQL (and REDIS_URL) to scale out.",
            settings.workers,
        )
        return 2
    if settings.migrate_on_start:
        from storage.migrate import upgrade

        upgrade(settings.database_url)
    if settings.workers > 1:
        from bot.workers import run_workers

        return run_workers(settings, config)
    return run_one(settings, config)


def run_one(settings: Settings, config: object, *, reuse_port: bool = False) -> int:
    from aiohttp import web

    from bot.app import create_app

    app = create_app(settings, config)  # type: ignore[arg-type]
    loop = new_event_loop(settings)
    _stop_once_on_signal(loop)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        reuse_port=reuse_port or None,
        handle_signals=False,  # ours: the first SIGTERM/SIGINT stops, repeats do not abort
        loop=loop,
    )
    return 0


def new_event_loop(settings: Settings) -> asyncio.AbstractEventLoop:
    """uvloop's event loop when it is installed (and UVLOOP is not off), else asyncio's.

    Measured on the WeChat callbacks bench (bench/README.md): the same work costs less CPU on
    uvloop, most of all on SQLite, whose driver hands every statement to a thread and back.
    """
    if settings.uvloop:
        try:
            import uvloop
        except ImportError:
            log.info("uvloop is not installed: serving on asyncio's event loop")
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _stop_once_on_signal(loop: asyncio.AbstractEventLoop) -> None:
    """The first SIGTERM or SIGINT starts a graceful stop; repeats are logged, not obeyed.

    aiohttp's own handlers raise GracefulExit on every signal, and one arriving while the app
    cleans up aborts the cleanup: the sends in hand are neither finished nor handed back, the
    platform sessions stay open, and the process exits 1. Repeats are ordinary: systemd
    (KillMode=control-group) and a terminal's Ctrl-C signal every process of the group, and
    `serve --workers` forwards the same signal to its workers again. SHUTDOWN_GRACE bounds the
    stop; SIGKILL still forces it.
    """
    from aiohttp.web import GracefulExit

    stopping = False

    def on_signal(signum: signal.Signals) -> None:
        nonlocal stopping
        if stopping:
            log.info("%s received while stopping: still finishing the work in hand", signum.name)
            return
        stopping = True
        log.info("%s received: stopping gracefully", signum.name)
        raise GracefulExit()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
