"""Several worker processes on one port (SO_REUSEPORT): the kernel spreads connections.

Each worker is a whole service (HTTP, outbox relay, ticker). They share nothing in memory:
PostgreSQL decides who claims which outbox row and timer, Redis carries the rate windows and the
token cache. The parent only starts workers, forwards SIGTERM/SIGINT and restarts none: a worker
that dies is logged, and its claimed rows return to the queue after their lease.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

from bot.settings import Settings

log = logging.getLogger("bot.workers")


def run_workers(settings: Settings, config: object) -> int:
    """Fork `settings.workers` workers and wait for them; the exit code is the worst of theirs."""
    from bot.commands.serve import run_one

    children: list[int] = []
    for index in range(settings.workers):
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                code = run_one(settings, config, reuse_port=True)
            except Exception:
                log.exception("worker %d crashed", index)
                code = 1
            sys.stdout.flush()
            os._exit(code)
        children.append(pid)
    log.info("started %d workers on %s:%d: %s", len(children), settings.host, settings.port,
             ", ".join(map(str, children)))

    def forward(signum: int, _frame: object) -> None:
        for pid in children:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    worst = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid in children:
            children.remove(pid)
            code = os.waitstatus_to_exitcode(status)
            if code not in (0, -signal.SIGTERM, -signal.SIGINT):
                log.warning("worker %d exited with %d", pid, code)
                worst = max(worst, 1)
        time.sleep(0)
    return worst
