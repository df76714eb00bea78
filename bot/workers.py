"""Several worker processes on one port (SO_REUSEPORT): the kernel spreads connections.

Each worker is a whole service (HTTP, outbox relay, ticker). They share nothing in memory:
PostgreSQL decides who claims which outbox row and timer, Redis carries the rate windows and the
token cache. The parent only starts workers, forwards SIGTERM/SIGINT and restarts none: a worker
that dies is logged, and its claimed rows return to the queue after their lease.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from bot.settings import Settings

log = logging.getLogger("bot.workers")

# prometheus_client's multiprocess mode (bot/delivery/metrics.py reads the same variable). Not
# imported from there: prometheus_client must not be loaded before the variable is set.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_workers(settings: Settings, config: object) -> int:
    """Fork `settings.workers` workers and wait for them; the exit code is the worst of theirs."""
    remove_metrics_dir = _shared_metrics_dir()
    try:
        return _fork_and_wait(settings, config)
    finally:
        remove_metrics_dir()


def _shared_metrics_dir() -> Callable[[], None]:
    """Give the workers one directory for their counters (see bot/delivery/metrics.py), so a
    scrape answered by any worker reports the service's totals; returns the cleanup."""
    configured = os.environ.get(MULTIPROCESS_DIR)
    if configured:
        # The operator's directory: files of an earlier run would add to this run's totals.
        for stale in Path(configured).glob("*.db"):
            stale.unlink(missing_ok=True)
        return lambda: None
    path = tempfile.mkdtemp(prefix="complaint-bot-metrics-")
    os.environ[MULTIPROCESS_DIR] = path  # before the fork, before prometheus_client is imported
    return lambda: shutil.rmtree(path, ignore_errors=True)


def _fork_and_wait(settings: Settings, config: object) -> int:
    children: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        for pid in list(children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    # Forwarding is in place before the first fork, and stop signals are blocked around each
    # fork until its pid is on the list: a SIGTERM while workers start reaches every one of
    # them instead of killing the parent and leaving them running.
    for signum in _STOP_SIGNALS:
        signal.signal(signum, forward)
    for index in range(settings.workers):
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                _worker(index, settings, config, blocked)
            children.append(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    log.info(
        "started %d workers on %s:%d: %s",
        len(children),
        settings.host,
        settings.port,
        ", ".join(map(str, children)),
    )
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
    return worst


def _worker(index: int, settings: Settings, config: object, mask: set[signal.Signals]) -> NoReturn:
    """The forked child: serve until stopped, then leave through os._exit, whatever happened.

    Nothing may unwind out of here into the parent's code (its wait loop, its atexit hooks): a
    SystemExit or KeyboardInterrupt is turned into the worker's exit code like any other end.
    """
    from bot.commands.serve import run_one

    code = 1
    try:
        for signum in _STOP_SIGNALS:  # default until the worker's event loop takes them over
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        code = run_one(settings, config, reuse_port=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        log.exception("worker %d crashed", index)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
